import asyncio

from bytchat.api.sse import KEEPALIVE_COMMENT, sse_event, sse_response, with_keepalive


def test_an_event_is_one_json_object_on_one_data_line():
    assert sse_event({"type": "delta", "content": "¿Hola?\nsí"}) == (
        b'data: {"type":"delta","content":"\xc2\xbfHola?\\ns\xc3\xad"}\n\n'
    )


def test_keepalive_comments_fill_idle_gaps_and_chunks_pass_in_order():
    async def scenario():
        release = asyncio.Event()

        async def source():
            yield b"first"
            await release.wait()
            yield b"second"

        received = []
        async for chunk in with_keepalive(source(), interval=0.01):
            received.append(chunk)
            if received.count(KEEPALIVE_COMMENT) == 2:
                release.set()
        return received

    received = asyncio.run(scenario())
    assert received[0] == b"first" and received[-1] == b"second"
    assert received[1:-1] and set(received[1:-1]) == {KEEPALIVE_COMMENT}


def test_closing_the_stream_closes_the_source():
    closed = []

    async def scenario():
        async def source():
            try:
                yield b"one"
                await asyncio.sleep(3600)
                yield b"never"
            finally:
                closed.append(True)

        stream = with_keepalive(source(), interval=0.01)
        assert await anext(stream) == b"one"
        assert await anext(stream) == KEEPALIVE_COMMENT
        await stream.aclose()

    asyncio.run(scenario())
    assert closed == [True]


def test_the_response_disables_caching_and_proxy_buffering():
    async def source():
        yield sse_event({"type": "done"})

    response = sse_response(source())
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    assert response.is_async
