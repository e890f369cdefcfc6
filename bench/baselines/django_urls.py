"""The Django baseline's only URL (see django_settings)."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bytchat.api.sse import sse_event, sse_response
from chat.llm.base import ChatMessage, ChatRequest, ModelSpec, TextDelta
from chat.llm.failover import stream_with_failover

SPEC = ModelSpec(
    provider="openai_compatible",
    model_id="mock-model",
    # No URL of its own: the operator's server (OPENAI_COMPATIBLE_BASE_URL), as the
    # benchmark bot's model config.
    config_id="baseline",
)


@csrf_exempt
async def chat(request):
    chat_request = ChatRequest(
        system_prompt="",
        messages=[ChatMessage(role="user", content="hi")],
        sources=[],
        language="en",
        user_language="en",
    )

    async def events():
        async for item in stream_with_failover([SPEC], chat_request):
            if isinstance(item, TextDelta):
                yield sse_event({"type": "delta", "content": item.text})
        yield sse_event({"type": "done"})

    return sse_response(events())


def healthz(request):
    return HttpResponse("ok")


urlpatterns = [path("api/v1/chat", chat), path("healthz", healthz)]
