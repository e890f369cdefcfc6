"""`bot_get_for_chat`: the bot a chat turn answers with, under the same visibility rules as
`bot_get_visible`, with its active model configs."""

import uuid

import pytest

from accounts.tests.factories import make_user
from bots.models import Bot
from bots.selectors import bot_get_for_chat, bot_is_visible, visible_bots_filter
from bots.tests.factories import make_bot
from bytchat.errors import NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user()


def test_the_owner_gets_the_bot_and_only_its_active_configs_then_from_the_cache(
    owner, django_assert_num_queries
):
    bot = make_bot(owner=owner)
    bot.model_configs.create(provider="openai", model_id="off", is_active=False)
    with django_assert_num_queries(2):  # the bot (and whether it has chunks), its configs
        found, configs = bot_get_for_chat(user=owner, bot_id=bot.pk)
    assert found == bot
    assert [config.model_id for config in configs] == ["local"]
    with django_assert_num_queries(0):
        found, configs = bot_get_for_chat(user=owner, bot_id=bot.pk)
    assert found == bot and found.has_knowledge is False
    assert [config.model_id for config in configs] == ["local"]


def test_another_users_private_bot_and_an_inactive_bot_are_not_found(owner):
    private = make_bot(owner=owner)
    stranger = make_user()
    with pytest.raises(NotFound):
        bot_get_for_chat(user=stranger, bot_id=private.pk)
    inactive = make_bot(owner=owner, is_active=False)
    with pytest.raises(NotFound):
        bot_get_for_chat(user=owner, bot_id=inactive.pk)
    with pytest.raises(NotFound):
        bot_get_for_chat(user=owner, bot_id=uuid.uuid4())
    with pytest.raises(NotFound):
        bot_get_for_chat(user=owner, bot_id="not-a-uuid")


def test_a_public_bot_is_found_by_anyone(owner):
    public = make_bot(owner=owner, is_public=True)
    found, configs = bot_get_for_chat(user=make_user(), bot_id=public.pk)
    assert found == public and len(configs) == 1


def test_a_bot_without_an_active_config_is_found_without_configs(owner):
    bot = make_bot(owner=owner)
    bot.model_configs.update(is_active=False)
    found, configs = bot_get_for_chat(user=owner, bot_id=bot.pk)
    assert found == bot and configs == []


def test_an_unpublished_platform_agent_is_for_staff_only():
    agent = make_bot(owner=None, is_public=False)
    with pytest.raises(NotFound):
        bot_get_for_chat(user=make_user(), bot_id=agent.pk)
    found, _ = bot_get_for_chat(user=make_user(role="manager"), bot_id=agent.pk)
    assert found == agent


def test_the_catalogue_groups_others_public_bots_by_active_category_in_one_query(
    owner, django_assert_num_queries
):
    from bots.selectors import bot_catalogue
    from bots.tests.factories import make_category

    second = make_category(name_en="B second", name_es="A segunda", display_order=1)
    first = make_category(name_en="A first", name_es="Z primera", display_order=1)
    retired = make_category(is_active=False)
    mine = make_bot(owner=owner, is_public=True, category=first)
    in_second = make_bot(owner=None, is_public=True, category=second)
    in_first = make_bot(owner=None, is_public=True, category=first)
    in_retired = make_bot(owner=make_user(), is_public=True, category=retired)
    uncategorised = make_bot(owner=None, is_public=True)
    make_bot(owner=make_user(), is_public=False, category=first)  # another user's private bot
    with django_assert_num_queries(2):  # the bots, and their model configs
        catalogue = bot_catalogue(user=owner, language="en")
    assert catalogue.own == [mine]
    groups = [(group.category, set(group.bots)) for group in catalogue.public_groups]
    assert groups == [(first, {in_first}), (second, {in_second}), (None, {in_retired, uncategorised})]
    spanish = bot_catalogue(user=owner, language="es").public_groups
    assert [group.category for group in spanish] == [second, first, None]  # "A segunda" < "Z primera"


def test_the_in_memory_visibility_rule_is_the_filters(owner):
    """`bot_is_visible` (the chat turn's cached bot) and `visible_bots_filter` (every
    query) must say the same of every kind of bot, for every kind of user."""
    bots = [
        make_bot(owner=owner),
        make_bot(owner=owner, is_active=False),
        make_bot(owner=make_user()),
        make_bot(owner=make_user(), is_public=True),
        make_bot(owner=make_user(), is_public=True, is_active=False),
        make_bot(owner=None, is_public=True),
        make_bot(owner=None, is_public=False),
    ]
    for user in (owner, make_user(role="manager"), make_user(role="admin")):
        by_filter = set(Bot.objects.filter(visible_bots_filter(user)).values_list("pk", flat=True))
        in_memory = {bot.pk for bot in bots if bot_is_visible(user=user, bot=bot)}
        assert in_memory == by_filter, user.role
