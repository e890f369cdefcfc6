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


def test_an_error_in_the_source_reaches_the_consumer_after_the_chunks_before_it():
    async def source():
        yield b"one"
        raise RuntimeError("provider broke")

    async def scenario():
        received = []
        try:
            async for chunk in with_keepalive(source(), interval=10):
                received.append(chunk)
        except RuntimeError as error:
            return received, str(error)

    assert asyncio.run(scenario()) == ([b"one"], "provider broke")


def test_a_slow_client_holds_the_source_back_and_gets_no_keepalives_meanwhile():
    produced = []

    async def source():
        for number in range(100):
            produced.append(number)
            yield b"%d" % number

    async def scenario():
        stream = with_keepalive(source(), interval=0.01, buffer=4)
        assert await anext(stream) == b"0"
        await asyncio.sleep(0.05)  # the client reads nothing for five intervals
        held_back = len(produced)
        rest = [chunk async for chunk in stream]
        return held_back, rest

    held_back, rest = asyncio.run(scenario())
    assert held_back <= 6  # one sent, a full buffer, one waiting to be put
    assert rest == [b"%d" % number for number in range(1, 100)]
