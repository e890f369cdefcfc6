import pytest
from asgiref.sync import async_to_sync, sync_to_async

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from accounts.tests.test_auth_api import assert_error
from bots.tests.factories import make_bot
from chat.models import Conversation, Feedback, Message, Run
from chat.services import engine
from chat.services.conversations import AtLimit
from chat.tests.helpers import add_knowledge, stream_chat

pytestmark = pytest.mark.django_db

HANDBOOK = (
    "Refund policy. Customers may ask for a refund within 30 days of purchase. "
    "Refunds are paid back to the original card within five working days.\n\n"
    "Office hours. The support office is open from 9:00 to 17:00, Monday to Friday."
)


@pytest.fixture
def bot(user):
    bot = make_bot(owner=user)
    add_knowledge(bot, "handbook.md", HANDBOOK)
    return bot


@pytest.fixture
def token(user):
    return auth_tokens_issue(user=user).access


def chat_body(bot, message="How many days do I have to ask for a refund?", **extra):
    return {"bot": str(bot.pk), "message": message, **extra}


class TestStreaming:
    def test_events_arrive_in_the_documented_order_with_citations(self, token, bot, user):
        status, headers, events = stream_chat(token, chat_body(bot))
        assert status == 200, events
        assert headers["content-type"] == "text/event-stream"
        assert headers["cache-control"] == "no-cache" and headers["x-accel-buffering"] == "no"
        types = [event["type"] for event in events]
        assert types[:3] == ["session_init", "tool_use", "tool_use"]
        assert [events[1]["status"], events[2]["status"]] == ["start", "complete"]
        assert types[-2:] == ["citations", "done"]
        deltas = [event["content"] for event in events if event["type"] == "delta"]
        assert len(deltas) > 1
        answer = "".join(deltas)
        assert "30 days" in answer and "[1]" in answer

        init = events[0]
        conversation = Conversation.objects.get(pk=init["conversation_id"])
        assert conversation.user == user and conversation.title.startswith("How many days")
        assert Message.objects.get(pk=init["user_message_id"]).role == "user"

        citations = events[-2]
        first = citations["citations"][0]
        assert first["index"] == 1 and first["source_name"] == "handbook.md"
        assert set(first) == {
            "index",
            "document_id",
            "source_name",
            "page_number",
            "page_numbers",
            "snippet",
            "score",
            "retriever",
            "metadata",
        }
        assert first["score"] > 0 and first["retriever"] in {"keyword", "semantic", "both"}
        inline = citations["inline_citations"][0]
        assert inline["citation_number"] == 1 and inline["source_name"] == "handbook.md"
        assert 0 <= inline["start_index"] < inline["end_index"] <= len(answer)

        done = events[-1]
        assert done["message_id"] == init["message_id"]
        assert done["provider"] == "local" and done["tokens_used"] > 0 and done["latency_ms"] >= 0
        stored = Message.objects.get(pk=done["message_id"])
        assert stored.content == answer and stored.status == "complete"
        assert stored.citations.count() == len(citations["citations"])
        run = Run.objects.get()
        assert (run.status, run.message_id, run.provider) == ("success", stored.pk, "local")
        assert run.ttft_ms is not None and run.latency_ms >= run.ttft_ms

    def test_a_second_message_continues_the_conversation(self, token, bot):
        _, _, first = stream_chat(token, chat_body(bot))
        conversation_id = first[0]["conversation_id"]
        _, _, second = stream_chat(
            token, chat_body(bot, "When is the office open?", conversation=conversation_id)
        )
        assert second[0]["conversation_id"] == conversation_id
        assert Conversation.objects.get().message_count == 4

    def test_the_answer_says_plainly_when_the_knowledge_has_nothing(self, token, bot):
        _, _, events = stream_chat(token, chat_body(bot, "What is the capital of Mongolia?"))
        answer = "".join(event["content"] for event in events if event["type"] == "delta")
        assert "couldn't find" in answer

    def test_all_providers_failing_is_an_error_event_and_the_question_stays(self, token, user, settings):
        settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1:9"]  # a port no server listens on
        bot = make_bot(
            owner=user,
            configs=[{"provider": "openai_compatible", "model_id": "x", "base_url": "http://127.0.0.1:9/v1"}],
        )
        _, _, events = stream_chat(token, chat_body(bot))
        assert events[-1] == {"type": "error", "code": "CHAT_FAILED", "error": events[-1]["error"]}
        assert Message.objects.filter(role="user").count() == 1
        run = Run.objects.get()
        assert run.status == "error" and run.error_code == "CHAT_FAILED"
        assert run.failed_attempts[0]["provider"] == "openai_compatible"

    def test_a_client_that_goes_away_leaves_a_partial_answer_marked_incomplete(self, user, bot):
        turn = engine.chat_prepare(
            user=user, bot_id=bot.pk, message="How many days for a refund?", at_limit=AtLimit.REFUSE
        )

        async def read_a_little():
            events = engine.chat_events(turn)
            seen = []
            async for event in events:
                seen.append(event)
                if event["type"] == "delta":
                    break
            await events.aclose()
            return seen

        seen = async_to_sync(read_a_little)()
        partial = Message.objects.get(role="assistant")
        assert partial.status == "incomplete" and partial.content == seen[-1]["content"]
        assert Run.objects.get().status == "incomplete"

    def test_the_answer_and_its_run_are_stored_before_done(self, user, bot):
        """A client that reads the conversation when `done` arrives finds the answer."""
        turn = engine.chat_prepare(
            user=user, bot_id=bot.pk, message="How many days for a refund?", at_limit=AtLimit.REFUSE
        )

        def stored() -> tuple:
            answer = Message.objects.filter(role="assistant").values_list("status", "content").first()
            return answer, Run.objects.filter(message__role="assistant").values_list(
                "status", flat=True
            ).first()

        async def read_until_done():
            text, seen = "", None
            async for event in engine.chat_events(turn):
                text += event.get("content", "") if event["type"] == "delta" else ""
                if event["type"] == "done":
                    seen = await sync_to_async(stored)()
            return text, seen

        text, (answer, run_status) = async_to_sync(read_until_done)()
        assert "30 days" in text
        assert answer == ("complete", text) and run_status == "success"


class TestNonStreaming:
    def test_it_returns_the_conversation_and_both_messages(self, user_client, bot):
        response = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json")
        assert response.status_code == 201
        body = response.json()
        assert body["user_message"]["role"] == "user"
        assistant = body["assistant_message"]
        assert assistant["role"] == "assistant" and "30 days" in assistant["content"]
        assert assistant["citations"][0]["source_name"] == "handbook.md"
        assert assistant["inline_citations"][0]["citation_number"] == 1
        assert body["conversation"]["message_count"] == 2

    def test_all_providers_failing_is_a_502(self, user_client, user, settings):
        settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1:9"]  # a port no server listens on
        bot = make_bot(
            owner=user,
            configs=[{"provider": "openai_compatible", "model_id": "x", "base_url": "http://127.0.0.1:9/v1"}],
        )
        response = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json")
        assert_error(response, 502, "CHAT_FAILED")
        assert Message.objects.filter(role="user").count() == 1


class TestBadInput:
    @pytest.mark.parametrize("message", ["", "   \n "])
    def test_an_empty_message_is_refused(self, user_client, bot, message):
        error = assert_error(
            user_client.post("/api/v1/chat", chat_body(bot, message), format="json"), 400, "VALIDATION_ERROR"
        )
        assert "message" in error["fields"]
        assert not Message.objects.exists() and not Conversation.objects.exists()

    def test_an_overlong_message_is_refused(self, user_client, bot, settings):
        settings.MAX_MESSAGE_CHARS = 100
        response = user_client.post("/api/v1/chat", chat_body(bot, "x" * 101), format="json")
        assert_error(response, 400, "VALIDATION_ERROR")
        assert not Message.objects.exists()

    def test_unknown_and_foreign_bots_and_conversations_are_not_found(self, user_client, other_client, bot):
        missing = "00000000-0000-0000-0000-000000000000"
        assert_error(
            user_client.post("/api/v1/chat", {"bot": missing, "message": "hi"}, format="json"),
            404,
            "NOT_FOUND",
        )
        assert_error(other_client.post("/api/v1/chat", chat_body(bot), format="json"), 404, "NOT_FOUND")
        conversation = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").json()
        other_bot = make_bot(owner=None, is_public=True)
        foreign = {
            "bot": str(other_bot.pk),
            "message": "hi",
            "conversation": conversation["conversation"]["id"],
        }
        assert_error(other_client.post("/api/v1/chat", foreign, format="json"), 404, "NOT_FOUND")
        # The owner, naming their conversation with the wrong bot: nothing is stored.
        before = Message.objects.count()
        response = user_client.post("/api/v1/chat", foreign, format="json")
        assert_error(response, 400, "VALIDATION_ERROR")
        assert response.json()["error"]["fields"]["conversation"]
        assert Message.objects.count() == before
        assert Conversation.objects.get().message_count == 2

    def test_no_token_and_wrong_content_type(self, api_client, user_client, bot):
        assert_error(api_client.post("/api/v1/chat", chat_body(bot), format="json"), 401, "UNAUTHORIZED")
        # Without credentials, nothing about the body: 401 before 400 or 415.
        assert_error(api_client.post("/api/v1/chat", {"message": ""}, format="json"), 401, "UNAUTHORIZED")
        response = api_client.post("/api/v1/chat", data="{not json", content_type="application/json")
        assert_error(response, 401, "UNAUTHORIZED")
        response = user_client.post("/api/v1/chat", data="message=hi", content_type="text/plain")
        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        response = user_client.post("/api/v1/chat", data="{not json", content_type="application/json")
        assert_error(response, 400, "MALFORMED_REQUEST")

    def test_an_archived_conversation_refuses_new_messages(self, user_client, bot):
        first = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").json()
        conversation_id = first["conversation"]["id"]
        user_client.post(
            f"/api/v1/conversations/{conversation_id}/archive", {"archived": True}, format="json"
        )
        response = user_client.post(
            "/api/v1/chat", chat_body(bot, conversation=conversation_id), format="json"
        )
        assert_error(response, 409, "CONVERSATION_ARCHIVED")
        assert Message.objects.count() == 2


class TestPlanLimits:
    def test_the_message_limit_per_conversation(self, user_client, user, bot):
        user.plan = Plan.objects.create(name="Short", max_messages_per_conversation=2)
        user.save()
        first = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").json()
        again = chat_body(bot, conversation=first["conversation"]["id"], stream=False)
        assert_error(user_client.post("/api/v1/chat", again, format="json"), 409, "MESSAGE_LIMIT")
        assert Message.objects.count() == 2

    def test_the_messages_per_minute_limit_answers_429_with_retry_after(self, user_client, user, bot):
        user.plan = Plan.objects.create(name="Slow", messages_per_minute=2)
        user.save()
        for _ in range(2):
            assert (
                user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").status_code
                == 201
            )
        response = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json")
        assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
        assert 1 <= int(response["Retry-After"]) <= 60

    def test_the_monthly_token_quota(self, user_client, user, bot):
        user.plan = Plan.objects.create(name="Few tokens", monthly_token_quota=10)
        user.save()
        assert (
            user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").status_code == 201
        )
        response = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json")
        assert_error(response, 429, "TOKEN_QUOTA_EXCEEDED")


class TestFeedbackAndMessages:
    def test_feedback_is_one_per_user_and_updatable(self, user_client, bot, user):
        answer = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").json()
        url = f"/api/v1/messages/{answer['assistant_message']['id']}/feedback"
        first = user_client.post(url, {"rating": "thumbs_up", "comment": "Useful"}, format="json")
        assert first.status_code == 200 and first.json()["rating"] == "thumbs_up"
        second = user_client.post(url, {"rating": "thumbs_down"}, format="json")
        assert second.json()["id"] == first.json()["id"]
        feedback = Feedback.objects.get()
        assert (feedback.rating, feedback.comment) == ("thumbs_down", "")

    def test_the_message_list_shows_your_rating_of_each_answer(self, user_client, bot):
        answer = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").json()
        message_id = answer["assistant_message"]["id"]
        user_client.post(f"/api/v1/messages/{message_id}/feedback", {"rating": "thumbs_up"}, format="json")
        url = f"/api/v1/conversations/{answer['conversation']['id']}/messages"
        ratings = {item["id"]: item["rating"] for item in user_client.get(url).json()["results"]}
        assert ratings == {answer["user_message"]["id"]: None, message_id: "thumbs_up"}

    def test_feedback_bad_input_and_ownership(self, user_client, other_client, bot):
        answer = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").json()
        url = f"/api/v1/messages/{answer['assistant_message']['id']}/feedback"
        error = assert_error(user_client.post(url, {"rating": "meh"}, format="json"), 400, "VALIDATION_ERROR")
        assert "rating" in error["fields"]
        assert_error(other_client.post(url, {"rating": "thumbs_up"}, format="json"), 404, "NOT_FOUND")
        missing = "/api/v1/messages/00000000-0000-0000-0000-000000000000/feedback"
        assert_error(user_client.post(missing, {"rating": "thumbs_up"}, format="json"), 404, "NOT_FOUND")
        assert not Feedback.objects.exists()

    def test_messages_are_listed_with_their_citations(self, user_client, bot):
        answer = user_client.post("/api/v1/chat", chat_body(bot, stream=False), format="json").json()
        url = f"/api/v1/conversations/{answer['conversation']['id']}/messages"
        body = user_client.get(url, {"limit": 100}).json()
        roles = [message["role"] for message in body["results"]]
        assert roles == ["user", "assistant"]
        assert body["results"][1]["citations"][0]["index"] == 1


class TestSuggestions:
    def test_liked_then_frequent_then_default_suggestions(self, user_client, bot):
        liked = user_client.post(
            "/api/v1/chat", chat_body(bot, "When is the office open?", stream=False), format="json"
        )
        user_client.post(
            f"/api/v1/messages/{liked.json()['assistant_message']['id']}/feedback",
            {"rating": "thumbs_up"},
            format="json",
        )
        for _ in range(2):
            user_client.post("/api/v1/chat", chat_body(bot, "Refund days?", stream=False), format="json")
        suggestions = user_client.get("/api/v1/suggestions", {"bot": str(bot.pk)}).json()["suggestions"]
        assert suggestions[0] == {"text": "When is the office open?", "source": "feedback"}
        assert {"text": "Refund days?", "source": "frequent"} in suggestions
        assert any(item["source"] == "default" and "handbook" in item["text"] for item in suggestions)
        assert len(suggestions) <= 6

    def test_suggestions_hide_another_users_bot(self, other_client, bot):
        assert_error(other_client.get("/api/v1/suggestions", {"bot": str(bot.pk)}), 404, "NOT_FOUND")


class TestFailoverThroughTheEngine:
    def test_a_failing_openai_config_falls_over_to_gemini_and_the_run_says_so(self, user, token, settings):
        from chat.tests.fakes.llm_servers import GEMINI_PIECES, FakeServer, GeminiHandler, OpenAIHandler

        settings.OPENAI_API_KEY = "sk-test"
        settings.GEMINI_API_KEY = "gemini-test"
        settings.PROVIDER_TIMEOUT_SECONDS = 5
        with FakeServer(OpenAIHandler) as openai_fake, FakeServer(GeminiHandler) as gemini_fake:
            settings.GEMINI_BASE_URL = gemini_fake.url
            settings.OPENAI_BASE_URL = f"{openai_fake.url}/v1"
            bot = make_bot(
                owner=user,
                configs=[
                    {"provider": "openai", "model_id": "error-500", "priority": 1},
                    {"provider": "gemini", "model_id": "ok", "priority": 2},
                ],
            )
            _, _, events = stream_chat(token, chat_body(bot))
        done = events[-1]
        assert (done["type"], done["provider"], done["model"]) == ("done", "gemini", "ok")
        assert "".join(event["content"] for event in events if event["type"] == "delta") == "".join(
            GEMINI_PIECES
        )
        run = Run.objects.get()
        assert (run.status, run.provider) == ("success", "gemini")
        assert [(attempt["provider"], attempt["code"]) for attempt in run.failed_attempts] == [
            ("openai", "unavailable")
        ]
        assert run.input_tokens > 0 and run.output_tokens > 0
