"""The OpenAI-compatible API driven by the real `openai` SDK (sync and async, streamed and
not) and by LangChain's ChatOpenAI, against a live ASGI server."""

from __future__ import annotations

import asyncio

import openai
import pytest

from accounts.services import auth_tokens_issue
from bots.tests.factories import make_bot
from bytchat.openai_api.tests.helpers import asgi_server
from chat.models import Channel, Conversation, Run
from chat.services.api_keys import api_key_create, api_key_revoke
from chat.tests.fakes.llm_servers import OPENAI_PIECES, OPENAI_USAGE, FakeServer, OpenAIHandler
from chat.tests.helpers import add_knowledge

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REFUNDS = "Refunds are paid within 14 days of the request. Shipping is free above 50 euros."


@pytest.fixture
def server():
    with asgi_server() as base_url:
        yield f"{base_url}/openai/v1"


@pytest.fixture
def bot(user):
    bot = make_bot(owner=user)
    add_knowledge(bot, "policy.txt", REFUNDS)
    return bot


@pytest.fixture
def secret(user):
    return api_key_create(user=user, name="sdk").secret


def test_sync_sdk_non_streamed_answers_with_usage_and_citations(server, bot, secret, user):
    client = openai.OpenAI(base_url=server, api_key=secret, max_retries=0)
    completion = client.chat.completions.create(
        model=str(bot.pk), messages=[{"role": "user", "content": "How long do refunds take?"}]
    )
    assert completion.object == "chat.completion"
    assert "14 days" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    citations = completion.choices[0].message.model_extra["citations"]
    assert citations[0]["document"] == "policy.txt" and citations[0]["index"] == 1
    assert "14 days" in citations[0]["snippet"]
    # Stateless: a run on the OpenAI channel with its key, no conversation.
    run = Run.objects.get()
    assert run.channel == Channel.OPENAI and run.api_key.user == user and run.conversation is None
    assert run.input_tokens == completion.usage.prompt_tokens
    assert not Conversation.objects.exists()


def test_sync_sdk_streamed_chunks_in_openai_order(server, bot, secret):
    client = openai.OpenAI(base_url=server, api_key=secret, max_retries=0)
    stream = client.chat.completions.create(
        model=str(bot.pk),
        messages=[{"role": "user", "content": "How long do refunds take?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert "14 days" in text
    finish = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].choices[0].finish_reason == "stop"
    assert finish[0].model_extra["citations"][0]["document"] == "policy.txt"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert chunks.index(finish[0]) == len(chunks) - 2


def test_async_sdk_streamed_and_not(server, bot, secret):
    async def run():
        client = openai.AsyncOpenAI(base_url=server, api_key=secret, max_retries=0)
        completion = await client.chat.completions.create(
            model=str(bot.pk), messages=[{"role": "user", "content": "How long do refunds take?"}]
        )
        stream = await client.chat.completions.create(
            model=str(bot.pk),
            messages=[{"role": "user", "content": "How long do refunds take?"}],
            stream=True,
        )
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        models = await client.models.list()
        await client.close()
        return completion, "".join(parts), models

    completion, streamed, models = asyncio.run(run())
    assert completion.choices[0].message.content == streamed
    assert [model.id for model in models.data] == [str(bot.pk)]
    assert Run.objects.filter(channel=Channel.OPENAI).count() == 2


def test_sdk_errors_are_the_sdks_own_exceptions(server, bot, secret, user, other_user):
    client = openai.OpenAI(base_url=server, api_key=secret, max_retries=0)
    messages = [{"role": "user", "content": "Hi"}]
    with pytest.raises(openai.AuthenticationError) as caught:
        openai.OpenAI(base_url=server, api_key="bc_000000000000_nope", max_retries=0).models.list()
    assert caught.value.code == "invalid_api_key"
    # The native API's JWT is not an API key.
    token = auth_tokens_issue(user=user).access
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server, api_key=token, max_retries=0).models.list()
    someone_elses = make_bot(owner=other_user)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model=str(someone_elses.pk), messages=messages)
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=str(bot.pk), messages=messages, n=2)
    assert caught.value.code == "unsupported_parameter" and caught.value.param == "n"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=str(bot.pk),
            messages=messages,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )
    assert caught.value.param == "tools" and caught.value.type == "invalid_request_error"
    limited = api_key_create(user=user, name="slow", requests_per_minute=1).secret
    limited_client = openai.OpenAI(base_url=server, api_key=limited, max_retries=0)
    limited_client.chat.completions.create(model=str(bot.pk), messages=messages)
    with pytest.raises(openai.RateLimitError) as caught:
        limited_client.chat.completions.create(model=str(bot.pk), messages=messages)
    assert caught.value.code == "rate_limit_exceeded"
    assert int(caught.value.response.headers["Retry-After"]) >= 1
    api_key_revoke(key=api_key_create(user=user, name="gone").key)


def test_every_model_failing_is_a_502_api_error_streamed_or_not(server, user, secret, settings):
    settings.OPENAI_COMPATIBLE_API_KEY = "test-key"
    with FakeServer(OpenAIHandler) as fake:
        settings.OPENAI_COMPATIBLE_BASE_URL = f"{fake.url}/v1"
        bot = make_bot(owner=user, configs=[{"provider": "openai_compatible", "model_id": "error-500"}])
        client = openai.OpenAI(base_url=server, api_key=secret, max_retries=0)
        for stream in (False, True):
            with pytest.raises(openai.InternalServerError) as caught:
                result = client.chat.completions.create(
                    model=str(bot.pk), messages=[{"role": "user", "content": "Hi"}], stream=stream
                )
                list(result) if stream else None
            assert caught.value.status_code == 502 and caught.value.code == "model_unavailable"
    assert Run.objects.filter(status="error", channel=Channel.OPENAI).count() == 2


def test_sampling_parameters_reach_the_model_and_usage_is_the_providers(server, user, secret, settings):
    settings.OPENAI_COMPATIBLE_API_KEY = "test-key"
    with FakeServer(OpenAIHandler) as fake:
        settings.OPENAI_COMPATIBLE_BASE_URL = f"{fake.url}/v1"
        bot = make_bot(owner=user, configs=[{"provider": "openai_compatible", "model_id": "ok"}])
        client = openai.OpenAI(base_url=server, api_key=secret, max_retries=0)
        completion = client.chat.completions.create(
            model=str(bot.pk),
            messages=[
                {"role": "system", "content": "Answer like a pirate."},
                {"role": "user", "content": "First question"},
                {"role": "assistant", "content": "First answer"},
                {"role": "user", "content": "Second question"},
            ],
            temperature=0.3,
            top_p=0.5,
            max_tokens=77,
            stop=["END"],
        )
        sent = fake.requests[-1].body
    assert completion.choices[0].message.content == "".join(OPENAI_PIECES)
    assert completion.usage.prompt_tokens == OPENAI_USAGE["prompt_tokens"]
    assert completion.usage.completion_tokens == OPENAI_USAGE["completion_tokens"]
    assert sent["temperature"] == 0.3 and sent["top_p"] == 0.5 and sent["stop"] == ["END"]
    assert sent["max_tokens"] == 77
    system = sent["messages"][0]
    # The client's system message adds to the bot's prompt, it does not replace it.
    assert system["role"] == "system"
    assert "company handbook" in system["content"] and "like a pirate" in system["content"]
    assert [(m["role"], m["content"]) for m in sent["messages"][1:]] == [
        ("user", "First question"),
        ("assistant", "First answer"),
        ("user", "Second question"),
    ]


def test_store_true_saves_the_exchange_as_a_conversation(server, bot, secret, user):
    client = openai.OpenAI(base_url=server, api_key=secret, max_retries=0)
    completion = client.chat.completions.create(
        model=str(bot.pk), messages=[{"role": "user", "content": "How long do refunds take?"}], store=True
    )
    conversation = Conversation.objects.get(user=user, bot=bot)
    messages = list(conversation.messages.order_by("created_at").values_list("role", "content"))
    assert messages == [
        ("user", "How long do refunds take?"),
        ("assistant", completion.choices[0].message.content),
    ]
    assert Run.objects.get().conversation == conversation


def test_langchain_chat_openai_uses_a_bot(server, bot, secret):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=str(bot.pk), base_url=server, api_key=secret, max_retries=0)
    reply = llm.invoke("How long do refunds take?")
    assert "14 days" in reply.content
    streamed = "".join(chunk.content for chunk in llm.stream("How long do refunds take?"))
    assert streamed == reply.content


def test_an_answer_broken_mid_stream_is_an_error_event_the_sdk_raises(server, user, secret, settings):
    settings.OPENAI_COMPATIBLE_API_KEY = "test-key"
    with FakeServer(OpenAIHandler) as fake:
        settings.OPENAI_COMPATIBLE_BASE_URL = f"{fake.url}/v1"
        bot = make_bot(owner=user, configs=[{"provider": "openai_compatible", "model_id": "cut"}])
        client = openai.OpenAI(base_url=server, api_key=secret, max_retries=0)
        stream = client.chat.completions.create(
            model=str(bot.pk), messages=[{"role": "user", "content": "Hi"}], stream=True
        )
        received = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "".join(OPENAI_PIECES[:2])
    assert "No model could answer" in caught.value.message
    run = Run.objects.get()
    assert run.status == "error" and run.channel == Channel.OPENAI
