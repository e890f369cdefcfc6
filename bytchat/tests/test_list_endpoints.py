"""The list endpoints stay lean: their queries do not grow with the rows of a page, and the
serializers' lean representation (bytchat.api.representation) gives exactly DRF's output."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import Serializer

from bots.api import serializers as bot_serializers
from bots.models import Document, DocumentStatus, ModelEndpoint
from bots.selectors import bot_list, category_list
from bots.services import bot_lists_forget
from bots.tests.factories import make_bot, make_category
from bytchat.api.representation import LeanRepresentation
from chat.api import serializers as chat_serializers
from chat.models import Citation, Conversation, Message
from chat.selectors import conversation_list, message_list
from chat.services.conversations import conversation_lists_forget
from chat.services.feedback import feedback_submit

pytestmark = pytest.mark.django_db


def _rendered(data) -> object:
    return json.loads(JSONRenderer().render(data))


def _both_ways(serializer, instances) -> tuple[list, list]:
    """The lean output and DRF's generic one, as JSON, for each instance."""
    lean = [LeanRepresentation.to_representation(serializer, item) for item in instances]
    drf = [Serializer.to_representation(serializer, item) for item in instances]
    return _rendered(lean), _rendered(drf)


def _data(user, count: int):
    """`count` of everything a list endpoint shows, with the optional values both set
    and empty."""
    categories = [make_category(icon="book") for _ in range(count)]
    endpoint = ModelEndpoint(
        name=f"Endpoint {count}", provider="openai", base_url="https://llm.example.com/v1"
    )
    endpoint.save()
    bots = []
    for number in range(count):
        bots.append(
            make_bot(
                owner=user,
                category=categories[number] if number % 2 else None,
                configs=[
                    {"provider": "local", "model_id": "local"},
                    {"provider": "openai", "model_id": "gpt", "endpoint": endpoint, "temperature": 0.5},
                ],
            )
        )
        make_bot(owner=None, is_public=True, category=categories[number])
    conversations = [
        Conversation.objects.create(
            user=user,
            bot=bots[0],
            title=f"Conversation {number}",
            archived=bool(number % 2),
            archived_at=timezone.now() - timedelta(days=1) if number % 2 else None,
            last_message_at=timezone.now() if number % 3 else None,
        )
        for number in range(count)
    ]
    for number in range(count):
        Message.objects.create(conversation=conversations[0], role="user", content=f"Question {number}")
        answer = Message.objects.create(
            conversation=conversations[0],
            role="assistant",
            content=f"Answer {number} [1]",
            model="m",
            provider="local",
            input_tokens=3,
            output_tokens=4,
            inline_citations=[
                {
                    "citation_number": 1,
                    "start_index": 0,
                    "end_index": 3,
                    "source_name": "a",
                    "page_number": None,
                }
            ]
            if number % 2
            else None,
        )
        Citation.objects.create(
            message=answer, index=1, source_name="notes.txt", page_numbers=[2], score=0.25
        )
        if number % 2:
            feedback_submit(user=user, message_id=answer.pk, rating="up")
        Document.objects.create(
            bot=bots[0],
            original_name=f"doc{number}.txt",
            size=10,
            status=DocumentStatus.READY if number % 2 else DocumentStatus.FAILED,
            indexed_at=timezone.now() if number % 2 else None,
        )
    return bots, conversations


def test_the_lean_representation_is_drfs_for_every_list_serializer(user, admin_user):
    bots, conversations = _data(user, 4)
    for viewer in (user, admin_user):
        context = {"language": "es", "user": viewer, "staff": viewer.is_manager_or_admin}
        listed = list(bot_list(user=viewer))
        lean, drf = _both_ways(bot_serializers.BotSerializer(context=context), listed)
        assert lean == drf and len(lean) == len(listed) > 0
        configs = [config for bot in listed for config in bot.model_configs.all()]
        assert (
            _both_ways(bot_serializers.ModelConfigSerializer(), configs)[0]
            == _both_ways(bot_serializers.ModelConfigSerializer(), configs)[1]
        )
        categories = list(category_list(user=viewer))
        lean, drf = _both_ways(bot_serializers.CategorySerializer(context=context), categories)
        assert lean == drf and lean
    documents = list(Document.objects.filter(bot=bots[0]))
    lean, drf = _both_ways(bot_serializers.DocumentSerializer(), documents)
    assert lean == drf and len(lean) == 4
    lean, drf = _both_ways(chat_serializers.ConversationSerializer(), list(conversation_list(user=user)))
    assert lean == drf and len(lean) == 4
    messages = list(message_list(conversation=conversations[0]))
    lean, drf = _both_ways(chat_serializers.MessageSerializer(), messages)
    assert lean == drf and len(lean) == 8
    assert {message["rating"] for message in lean} == {None, "up"}
    citations = [citation for message in messages for citation in message.citations.all()]
    lean, drf = _both_ways(chat_serializers.CitationSerializer(), citations)
    assert lean == drf and len(lean) == 4


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/bots",
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation}/messages",
        "/api/v1/bots/{bot}/documents",
        "/api/v1/bots/{bot}/models",
        "/api/v1/categories",
    ],
)
def test_a_list_endpoint_takes_as_many_queries_for_many_rows_as_for_few(path, user, user_client, client_for):
    from accounts.tests.factories import make_user

    counts = []
    for rows, owner in ((2, user), (12, make_user(email="many@example.com"))):
        bots, conversations = _data(owner, rows)
        client = user_client if owner is user else client_for(owner)
        url = path.format(bot=bots[0].pk, conversation=conversations[0].pk)
        response = client.get(url)
        body = response.json()
        items = body["results"] if isinstance(body, dict) else body
        assert len(items) == 2 if "models" in url else len(items) >= rows
        counts.append(_queries(client, url))
    assert counts[0] == counts[1]


def test_each_serializer_gets_fields_of_its_own_built_once_per_class(user, admin_user):
    first = bot_serializers.BotSerializer(context={"language": "en", "user": user, "staff": False})
    second = bot_serializers.BotSerializer(context={"language": "es", "user": admin_user, "staff": True})
    assert list(first.fields) == list(second.fields) == bot_serializers.BotSerializer.Meta.fields
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    assert first.fields["model_configs"].child is not second.fields["model_configs"].child
    bot = make_bot(owner=None, is_public=True, name_en="Agent", name_es="Agente")
    assert first.to_representation(bot)["name"] == "Agent"
    assert second.to_representation(bot)["name"] == "Agente"
    assert "model_configs" not in first.to_representation(bot)  # only admins edit platform agents
    assert [config["provider"] for config in second.to_representation(bot)["model_configs"]] == ["local"]


def test_the_bots_list_reads_model_configs_only_for_the_bots_the_caller_can_edit(
    user, other_user, user_client, other_client
):
    _data(user, 3)
    user_client.get("/api/v1/bots")  # the caller's row is read once, then cached
    other_client.get("/api/v1/bots")
    owners_page = user_client.get("/api/v1/bots").json()["results"]
    assert _queries(user_client, "/api/v1/bots") == 0  # the first page, from the cache
    bot_lists_forget()
    assert _queries(user_client, "/api/v1/bots") == 2  # the page, the model configs of own bots
    mine = [bot for bot in owners_page if bot["can_edit"]]
    assert len(mine) == 3 and all(len(bot["model_configs"]) == 2 for bot in mine)
    assert all("model_configs" not in bot for bot in owners_page if not bot["can_edit"])
    # Another user sees the public platform agents only, none of which they can edit.
    others_page = other_client.get("/api/v1/bots").json()["results"]
    assert len(others_page) == 3 and not any(bot["can_edit"] or "model_configs" in bot for bot in others_page)
    bot_lists_forget()
    assert _queries(other_client, "/api/v1/bots") == 1  # the page only


def test_the_conversations_list_takes_one_query(user, other_user, user_client, other_client):
    _data(user, 3)
    user_client.get("/api/v1/conversations")
    assert _queries(user_client, "/api/v1/conversations") == 0  # the first page, from the cache
    conversation_lists_forget(user_id=user.pk)
    assert _queries(user_client, "/api/v1/conversations") == 1
    assert len(user_client.get("/api/v1/conversations").json()["results"]) == 3
    assert other_client.get("/api/v1/conversations").json()["results"] == []


def test_the_lean_plan_reads_directly_only_what_needs_no_serializer_of_its_own(user):
    from rest_framework import serializers

    from bytchat.api.fields import OffsetField

    bots = {name: how for name, how, _what, _format in bot_serializers.BotSerializer._class_plan()}
    assert bots["created_at"] == bots["is_platform"] == bots["language"] == "column"
    assert bots["name"] == bots["can_edit"] == "method"
    assert bots["model_configs"] == "field"  # nested: bound to each serializer
    configs = {name: how for name, how, _what, _format in bot_serializers.ModelConfigSerializer._class_plan()}
    assert configs["endpoint"] == "column"  # the key as stored, as PrimaryKeyRelatedField shows it

    class FilesSerializer(LeanRepresentation, serializers.ModelSerializer):
        # A field defined outside DRF may read the context; a file's URL depends on the request.
        size = OffsetField(read_only=True)

        class Meta:
            model = Document
            fields = ["id", "file", "size"]

    plan = {name: how for name, how, _what, _format in FilesSerializer._class_plan()}
    assert plan == {"id": "column", "file": "field", "size": "field"}
    document = Document.objects.create(
        bot=make_bot(owner=user), original_name="a.txt", size=3, file="documents/a.txt"
    )
    lean, drf = _both_ways(FilesSerializer(), [document])
    assert lean == drf and lean[0]["file"].endswith("documents/a.txt") and lean[0]["size"] == 3
