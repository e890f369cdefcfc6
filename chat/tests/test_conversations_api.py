import pytest

from accounts.models import Plan
from accounts.tests.test_auth_api import assert_error
from bots.tests.factories import make_bot
from chat.models import Conversation

pytestmark = pytest.mark.django_db

URL = "/api/v1/conversations"


@pytest.fixture
def bot(user):
    return make_bot(owner=user)


def create(client, bot, **extra):
    return client.post(URL, {"bot": str(bot.pk), **extra}, format="json")


class TestConversations:
    def test_create_list_retrieve_rename_archive_delete(self, user_client, bot):
        created = create(user_client, bot, title="Handbook questions")
        assert created.status_code == 201
        conversation = created.json()
        assert conversation["title"] == "Handbook questions" and conversation["archived"] is False
        url = f"{URL}/{conversation['id']}"

        assert user_client.get(url).json()["id"] == conversation["id"]
        renamed = user_client.patch(url, {"title": "Renamed"}, format="json")
        assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed"

        archived = user_client.post(f"{url}/archive", {"archived": True}, format="json").json()
        assert archived["archived"] is True and archived["archived_at"]
        assert user_client.get(URL, {"archived": "false"}).json()["results"] == []
        assert [row["id"] for row in user_client.get(URL, {"archived": "true"}).json()["results"]] == [
            conversation["id"]
        ]
        restored = user_client.post(f"{url}/archive", {"archived": False}, format="json").json()
        assert restored["archived"] is False and restored["archived_at"] is None

        assert user_client.delete(url).status_code == 204
        assert not Conversation.objects.exists()

    def test_the_list_is_newest_first_with_a_cursor_and_a_bot_filter(self, user_client, user, bot):
        other_bot = make_bot(owner=user, name_en="Other")
        ids = [create(user_client, bot, title=f"c{number}").json()["id"] for number in range(3)]
        create(user_client, other_bot, title="elsewhere")
        first = user_client.get(URL, {"bot": str(bot.pk), "limit": 2}).json()
        second = user_client.get(first["next"]).json()
        listed = [row["id"] for row in first["results"] + second["results"]]
        assert listed == list(reversed(ids))

    def test_it_hides_another_users_conversation(self, user_client, other_client, bot):
        conversation = create(user_client, bot).json()
        url = f"{URL}/{conversation['id']}"
        assert_error(other_client.get(url), 404, "NOT_FOUND")
        assert_error(other_client.patch(url, {"title": "mine"}, format="json"), 404, "NOT_FOUND")
        assert_error(other_client.post(f"{url}/archive", {"archived": True}, format="json"), 404, "NOT_FOUND")
        assert_error(other_client.get(f"{url}/messages"), 404, "NOT_FOUND")
        assert_error(other_client.delete(url), 404, "NOT_FOUND")
        assert other_client.get(URL).json()["results"] == []
        assert Conversation.objects.get().title == conversation["title"]

    def test_it_refuses_another_users_private_bot(self, other_client, bot):
        assert_error(create(other_client, bot), 404, "NOT_FOUND")
        assert not Conversation.objects.exists()

    def test_bad_input_is_reported_per_field(self, user_client, bot):
        error = assert_error(
            user_client.post(URL, {"bot": "nope", "title": "x" * 201}, format="json"), 400, "VALIDATION_ERROR"
        )
        assert set(error["fields"]) == {"bot", "title"}
        conversation = create(user_client, bot).json()
        error = assert_error(
            user_client.post(f"{URL}/{conversation['id']}/archive", {"archived": "maybe"}, format="json"),
            400,
            "VALIDATION_ERROR",
        )
        assert "archived" in error["fields"]


class TestConversationLimits:
    def test_the_per_bot_limit_asks_for_confirmation_then_evicts_the_oldest(self, user_client, user, bot):
        user.plan = Plan.objects.create(name="Tiny", max_conversations_per_bot=2)
        user.save()
        oldest = create(user_client, bot, title="oldest").json()
        create(user_client, bot, title="newer")

        refused = create(user_client, bot, title="third")
        error = assert_error(refused, 409, "CONVERSATION_LIMIT_PER_BOT")
        assert error["requires_confirmation"] is True
        assert error["oldest_conversation"] == {"id": oldest["id"], "title": "oldest"}
        assert Conversation.objects.count() == 2

        confirmed = create(user_client, bot, title="third", confirm_delete=True)
        assert confirmed.status_code == 201
        assert sorted(Conversation.objects.values_list("title", flat=True)) == ["newer", "third"]

    def test_confirming_an_eviction_frees_a_place_under_the_active_limit_too(self, user_client, user, bot):
        user.plan = Plan.objects.create(name="Two", max_conversations_per_bot=2, max_active_conversations=2)
        user.save()
        create(user_client, bot, title="oldest")
        create(user_client, bot, title="newer")

        confirmed = create(user_client, bot, title="third", confirm_delete=True)
        assert confirmed.status_code == 201
        assert sorted(Conversation.objects.values_list("title", flat=True)) == ["newer", "third"]

    def test_the_active_conversation_limit(self, user_client, user, bot):
        user.plan = Plan.objects.create(name="Two active", max_active_conversations=2)
        user.save()
        first = create(user_client, bot).json()
        create(user_client, bot)
        assert_error(create(user_client, bot), 409, "CONVERSATION_LIMIT")
        user_client.post(f"{URL}/{first['id']}/archive", {"archived": True}, format="json")
        assert create(user_client, bot).status_code == 201
