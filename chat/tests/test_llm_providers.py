"""The real `openai` and `google-genai` SDKs against fake servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import pytest

from chat.llm import (
    AllProvidersFailed,
    ChatMessage,
    ChatRequest,
    FailedAttempt,
    ModelChosen,
    ModelSpec,
    ProviderBadRequest,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    Source,
    StreamItem,
    TextDelta,
    Usage,
    aclose_clients,
    provider_for,
    stream_with_failover,
)
from chat.tests.fakes.llm_servers import (
    GEMINI_PIECES,
    GEMINI_USAGE,
    OPENAI_PIECES,
    OPENAI_USAGE,
    FakeServer,
    GeminiHandler,
    OpenAIHandler,
)

REQUEST = ChatRequest(
    system_prompt="Eres el asistente de la tienda.",
    messages=[
        ChatMessage("user", "Hola"),
        ChatMessage("assistant", "¡Hola! ¿En qué te ayudo?"),
        ChatMessage("user", "¿Cuánto tardan las devoluciones?"),
    ],
    sources=[
        Source(index=1, text="Las devoluciones tardan 30 días.", source_name="policy.pdf", page_numbers=[2])
    ],
    language="es",
)


@pytest.fixture(scope="module")
def openai_server():
    with FakeServer(OpenAIHandler) as server:
        yield server


@pytest.fixture(scope="module")
def gemini_server():
    with FakeServer(GeminiHandler) as server:
        yield server


@pytest.fixture(autouse=True)
def _provider_settings(settings, openai_server, gemini_server):
    # The fakes stand in for the operator's endpoints; a test that points a config at one
    # of its own allows 127.0.0.1 in MODEL_BASE_URL_ALLOWED_HOSTS.
    settings.OPENAI_API_KEY = "sk-test-not-a-real-key"
    settings.OPENAI_BASE_URL = f"{openai_server.url}/v1"
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = []
    settings.OPENAI_COMPATIBLE_API_KEY = ""
    settings.GEMINI_API_KEY = "gemini-test-not-a-real-key"
    settings.GEMINI_BASE_URL = gemini_server.url
    settings.PROVIDER_TIMEOUT_SECONDS = 5


@dataclass
class Sdk:
    name: str
    server: FakeServer
    pieces: list[str]
    usage: Usage

    def spec(self, scenario: str, **options) -> ModelSpec:
        if self.name == "openai":
            return ModelSpec("openai", scenario, **options)  # base URL from OPENAI_BASE_URL
        return ModelSpec("gemini", scenario, **options)  # base URL from GEMINI_BASE_URL


@pytest.fixture(params=["openai", "gemini"])
def sdk(request, openai_server, gemini_server) -> Sdk:
    if request.param == "openai":
        usage = Usage(OPENAI_USAGE["prompt_tokens"], OPENAI_USAGE["completion_tokens"])
        return Sdk("openai", openai_server, OPENAI_PIECES, usage)
    usage = Usage(GEMINI_USAGE["promptTokenCount"], GEMINI_USAGE["candidatesTokenCount"])
    return Sdk("gemini", gemini_server, GEMINI_PIECES, usage)


def run_stream(spec: ModelSpec, received: list[StreamItem] | None = None) -> list[StreamItem]:
    """Everything the provider streams; `received` keeps what came before an error."""
    received = [] if received is None else received

    async def consume() -> None:
        try:
            async for item in provider_for(spec).stream(spec, REQUEST):
                received.append(item)
        finally:
            await aclose_clients()

    asyncio.run(consume())
    return received


def texts(items: list) -> list[str]:
    return [item.text for item in items if isinstance(item, TextDelta)]


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_it_streams_the_answer_and_ends_with_usage(sdk):
    items = run_stream(sdk.spec("ok"))

    assert texts(items) == sdk.pieces
    assert items[-1] == sdk.usage
    assert sum(isinstance(item, Usage) for item in items) == 1


def test_openai_receives_the_context_and_the_options(openai_server):
    spec = ModelSpec("openai", "ok", temperature=0.2, max_output_tokens=300)

    run_stream(spec)

    sent = openai_server.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-not-a-real-key"
    body = sent.body
    assert body["model"] == "ok"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2
    assert body["max_completion_tokens"] == 300
    system, *history = body["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("Eres el asistente de la tienda.")
    assert "[1] policy.pdf (p. 2): Las devoluciones tardan 30 días." in system["content"]
    assert "Answer in Spanish" in system["content"]
    assert [(m["role"], m["content"]) for m in history] == [(m.role, m.content) for m in REQUEST.messages]


def test_gemini_receives_the_system_instruction_and_the_history(gemini_server):
    run_stream(ModelSpec("gemini", "ok", temperature=0.3, max_output_tokens=256))

    sent = gemini_server.requests[-1]
    assert sent.path == "/v1/models/ok:streamGenerateContent?alt=sse"
    assert sent.headers["x-goog-api-key"] == "gemini-test-not-a-real-key"
    instruction = sent.body["systemInstruction"]["parts"][0]["text"]
    assert instruction.startswith("Eres el asistente de la tienda.")
    assert "[1] policy.pdf (p. 2):" in instruction
    assert [(c["role"], c["parts"][0]["text"]) for c in sent.body["contents"]] == [
        ("user", "Hola"),
        ("model", "¡Hola! ¿En qué te ayudo?"),
        ("user", "¿Cuánto tardan las devoluciones?"),
    ]
    assert sent.body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 256}


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, ProviderUnavailable), (429, ProviderRateLimited), (400, ProviderBadRequest)],
)
def test_an_http_error_becomes_a_typed_error(sdk, status, error):
    with pytest.raises(error) as raised:
        run_stream(sdk.spec(f"error-{status}"))

    assert str(status) in raised.value.message


@pytest.mark.parametrize("scenario", ["stall", "stall-after-first"])
def test_a_model_that_stops_answering_times_out(sdk, settings, scenario):
    settings.PROVIDER_TIMEOUT_SECONDS = 0.3
    received: list[StreamItem] = []

    with pytest.raises(ProviderTimeout):
        run_stream(sdk.spec(scenario), received)

    assert texts(received) == ([] if scenario == "stall" else sdk.pieces[:1])


def test_a_malformed_chunk_is_a_bad_response(sdk):
    with pytest.raises(ProviderBadResponse):
        run_stream(sdk.spec("malformed"))


@pytest.mark.parametrize("scenario", ["cut", "truncated"])
def test_a_stream_cut_midway_is_an_error_after_the_text_so_far(sdk, scenario):
    received: list[StreamItem] = []

    with pytest.raises(ProviderUnavailable):
        run_stream(sdk.spec(scenario), received)

    assert texts(received) == sdk.pieces[:2]
    assert not any(isinstance(item, Usage) for item in received)


def test_an_unreachable_server_is_unavailable(settings):
    settings.GEMINI_BASE_URL = closed_port_url()
    settings.OPENAI_BASE_URL = f"{closed_port_url()}/v1"

    for spec in (ModelSpec("openai", "ok"), ModelSpec("gemini", "ok")):
        with pytest.raises(ProviderUnavailable):
            run_stream(spec)


def test_a_missing_api_key_is_unavailable_without_a_request(settings, sdk):
    settings.OPENAI_API_KEY = ""
    settings.GEMINI_API_KEY = ""
    before = len(sdk.server.requests)

    with pytest.raises(ProviderUnavailable, match="API_KEY is not set"):
        run_stream(sdk.spec("ok"))

    assert len(sdk.server.requests) == before


def test_the_configs_base_url_wins_over_gemini_base_url_with_its_own_key(settings, gemini_server):
    settings.GEMINI_BASE_URL = closed_port_url()
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1"]

    items = run_stream(ModelSpec("gemini", "ok", base_url=gemini_server.url, api_key="AIza-users-own-key"))

    assert texts(items) == GEMINI_PIECES
    assert gemini_server.requests[-1].headers["x-goog-api-key"] == "AIza-users-own-key"


def test_openai_compatible_never_sends_the_openai_key(settings, openai_server):
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1"]
    spec = ModelSpec("openai_compatible", "ok", base_url=f"{openai_server.url}/v1", max_output_tokens=100)

    items = run_stream(spec)

    sent = openai_server.requests[-1]
    assert texts(items) == OPENAI_PIECES
    assert sent.headers["authorization"] == "Bearer not-needed"
    assert sent.body["max_tokens"] == 100
    assert "max_completion_tokens" not in sent.body


def test_it_fails_over_from_a_failing_openai_config_to_a_working_gemini_one(openai_server):
    failing = ModelSpec("openai", "error-500", config_id="7")
    working = ModelSpec("gemini", "ok", config_id="8")

    async def consume() -> list:
        try:
            return [item async for item in stream_with_failover([failing, working], REQUEST)]
        finally:
            await aclose_clients()

    chosen, *answer = asyncio.run(consume())

    assert isinstance(chosen, ModelChosen)
    assert chosen.spec == working
    [attempt] = chosen.failed_attempts
    assert attempt == FailedAttempt(
        provider="openai", model_id="error-500", code="unavailable", message=attempt.message, config_id="7"
    )
    assert "500" in attempt.message
    assert texts(answer) == GEMINI_PIECES
    assert answer[-1] == Usage(GEMINI_USAGE["promptTokenCount"], GEMINI_USAGE["candidatesTokenCount"])


def test_provider_errors_share_one_base_class():
    for error in (
        ProviderUnavailable,
        ProviderRateLimited,
        ProviderBadRequest,
        ProviderTimeout,
        ProviderBadResponse,
    ):
        assert issubclass(error, ProviderError)


def _failover(specs: list[ModelSpec]) -> list:
    async def consume() -> list:
        try:
            return [item async for item in stream_with_failover(specs, REQUEST)]
        finally:
            await aclose_clients()

    return asyncio.run(consume())


def test_a_connection_dropped_before_the_answer_asks_the_same_model_once_more(sdk):
    """A server that closes the connection a request went out on (a kept-alive one it had
    just closed, say) answers on a new one: the same model is asked again at once, not the
    next one, and not the user's answer failed."""
    spec = sdk.spec(f"drop-first-{sdk.name}")
    before = len(sdk.server.requests)

    chosen, *answer = _failover([spec, ModelSpec("local", "local")])

    assert chosen.spec == spec and texts(answer) == sdk.pieces
    [attempt] = chosen.failed_attempts
    assert attempt.code == "unavailable" and "Could not reach the model" in attempt.message
    assert len(sdk.server.requests) - before == 2


def test_a_connection_that_drops_again_goes_to_the_next_model(sdk):
    spec = sdk.spec("drop")
    before = len(sdk.server.requests)

    chosen, *answer = _failover([spec, ModelSpec("local", "local")])

    assert chosen.spec.provider == "local" and texts(answer)
    assert [attempt.model_id for attempt in chosen.failed_attempts] == ["drop", "drop"]
    assert len(sdk.server.requests) - before == 2  # once more, not without end
    with pytest.raises(AllProvidersFailed) as failed:
        _failover([spec])
    assert len(failed.value.failed_attempts) == 2


def test_a_model_that_answers_with_an_error_is_not_asked_again(sdk):
    before = len(sdk.server.requests)

    with pytest.raises(AllProvidersFailed) as failed:
        _failover([sdk.spec("error-500")])

    assert len(failed.value.failed_attempts) == 1 and len(sdk.server.requests) - before == 1


def test_a_server_that_refuses_the_connection_is_not_asked_again(settings):
    """Refused (nothing listens, or the address check said no): not a dropped connection."""
    settings.GEMINI_BASE_URL = closed_port_url()
    settings.OPENAI_BASE_URL = f"{closed_port_url()}/v1"

    for spec in (ModelSpec("openai", "ok"), ModelSpec("gemini", "ok")):
        with pytest.raises(AllProvidersFailed) as failed:
            _failover([spec])
        [attempt] = failed.value.failed_attempts
        assert attempt.code == "unavailable"
