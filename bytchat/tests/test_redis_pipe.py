"""The pipelined Redis connection of the answers' event logs: replies back to their calls
in order, one write for the calls of a moment, and failures that fail calls rather than
hang them. Against Redis itself, and against a fake server on loopback for what Redis
does not do on demand (drop the connection, send garbage)."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import pytest
import redis
import redis.asyncio
from asgiref.sync import async_to_sync

from bytchat import redis_pipe
from bytchat.redis_pipe import Call, RedisPipe, RedisSubscription, connect_options


class FakeRedis:
    """A server on 127.0.0.1 that notes each command it reads and answers with `reply(command)`
    (bytes to send; None: close the connection instead)."""

    def __init__(self, reply) -> None:
        self.reply = reply
        self.commands: list[list[bytes]] = []
        self.connections = 0

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}"

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                header = await reader.readline()
                if not header:
                    return
                command = []
                for _ in range(int(header[1:])):
                    size = int((await reader.readline())[1:])
                    command.append((await reader.readexactly(size + 2))[:-2])
                self.commands.append(command)
                answer = self.reply(command)
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
        finally:
            writer.close()


def ok(command):
    return b"+OK\r\n"


@pytest.mark.redis
def test_replies_go_back_to_their_calls_in_order_with_errors_in_place(settings):
    pipe = RedisPipe(settings.REDIS_URL, connect_timeout=5)
    key = "bytchat:test:pipe"

    async def scenario():
        await pipe.call(["DEL", key])
        calls = await asyncio.gather(
            *(pipe.call(["XADD", key, f"0-{n}", "e", f"ñandú {n}"]) for n in range(1, 51)),
            pipe.call(["XADD", key, "0-1", "e", "again"]),  # an id out of turn: refused
            pipe.call(["EXPIRE", key, 60], ["EXISTS", key], ["GET", "bytchat:test:nothing"]),
            return_exceptions=True,
        )
        return calls, await pipe.call(["XLEN", key])

    calls, [length] = async_to_sync(scenario)()
    assert calls[:50] == [[f"0-{n}".encode()] for n in range(1, 51)]
    assert isinstance(calls[50], redis.ResponseError)
    assert calls[51] == [1, 1, None]
    assert length == 50
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert client.xrange(key, count=1)[0][1] == {b"e": "ñandú 1".encode()}
    client.delete(key)
    client.close()


@pytest.mark.redis
def test_the_connection_of_a_closed_event_loop_is_ended_when_another_loop_connects(settings):
    """Each `async_to_sync` runs an event loop of its own (a Celery task, a test): their
    connections must not pile up in Redis."""
    pipe = RedisPipe(settings.REDIS_URL, connect_timeout=5)

    async def connection_id():
        [number] = await pipe.call(["CLIENT", "ID"])
        return number

    first = async_to_sync(connection_id)()
    second = async_to_sync(connection_id)()
    client = redis.Redis.from_url(settings.REDIS_URL)
    for _ in range(50):  # Redis drops a client it has seen close at its next turn
        open_ids = {int(each["id"]) for each in client.client_list()}
        if first not in open_ids:
            break
        time.sleep(0.02)
    client.close()
    assert first != second and second in open_ids
    assert first not in open_ids
    assert len(pipe._opening) == 1


def test_the_calls_of_one_moment_go_out_in_one_write(monkeypatch):
    writes = []
    real_send = redis_pipe._Connection.send

    def counted(self, calls):
        writes.append(len(calls))
        real_send(self, calls)

    monkeypatch.setattr(redis_pipe._Connection, "send", counted)
    fake = FakeRedis(ok)

    async def scenario():
        async with fake as url:
            pipe = RedisPipe(url, connect_timeout=5)
            await pipe.call(["PING"])  # connected
            writes.clear()
            calls = [Call([["SET", f"k{n}", n]]) for n in range(20)]
            pipe.send(calls)
            return [await call.done for call in calls]

    assert async_to_sync(scenario)() == [[b"OK"]] * 20
    assert writes == [20]
    assert [command[1] for command in fake.commands[1:]] == [f"k{n}".encode() for n in range(20)]


def test_a_dropped_connection_fails_its_calls_and_the_next_call_connects_again():
    fake = FakeRedis(lambda command: None if command[0] == b"DROP" else b"+OK\r\n")

    async def scenario():
        async with fake as url:
            pipe = RedisPipe(url, connect_timeout=5)
            first = await pipe.call(["SET", "a", "1"])
            dropped = await asyncio.gather(
                pipe.call(["DROP"]), pipe.call(["SET", "b", "2"]), return_exceptions=True
            )
            return first, dropped, await pipe.call(["SET", "c", "3"])

    first, dropped, after = async_to_sync(scenario)()
    assert first == after == [b"OK"]
    assert all(isinstance(outcome, redis.ConnectionError) for outcome in dropped)
    assert fake.connections == 2


def test_a_server_that_does_not_speak_resp_fails_the_call():
    fake = FakeRedis(lambda command: b"HTTP/1.1 400 Bad Request\r\n\r\n")

    async def scenario():
        async with fake as url:
            return await asyncio.gather(
                RedisPipe(url, connect_timeout=5).call(["PING"]), return_exceptions=True
            )

    [outcome] = async_to_sync(scenario)()
    assert isinstance(outcome, redis.ConnectionError)


def test_nothing_listening_is_a_connection_error_not_a_hang():
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario():
        return await asyncio.gather(
            RedisPipe(f"redis://127.0.0.1:{port}/0", connect_timeout=5).call(["PING"]), return_exceptions=True
        )

    [outcome] = async_to_sync(scenario)()
    assert isinstance(outcome, redis.ConnectionError)


def test_it_logs_in_and_selects_the_database_of_its_url_first():
    fake = FakeRedis(ok)

    async def scenario():
        async with fake as url:
            pipe = RedisPipe(url.replace("redis://", "redis://bot:s3cret@") + "/3", connect_timeout=5)
            await asyncio.gather(pipe.call(["PING"]), pipe.call(["PING"]))

    async_to_sync(scenario)()
    assert fake.commands == [[b"AUTH", b"bot", b"s3cret"], [b"SELECT", b"3"], [b"PING"], [b"PING"]]
    assert fake.connections == 1


@pytest.mark.redis
def test_a_subscription_hands_each_message_of_its_channel_to_its_callback(settings):
    """Messages of its channel only, in order, on the loop that subscribed; a connection
    that was lost is subscribed again by the next `subscribed`."""
    received: list[tuple[asyncio.AbstractEventLoop, bytes]] = []
    subscription = RedisSubscription(
        settings.REDIS_URL,
        "bytchat:test:channel",
        lambda data: received.append((asyncio.get_running_loop(), data)),
        connect_timeout=5,
    )
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)

    async def published(*messages):
        for channel, data in messages:
            await client.publish(channel, data)
        for _ in range(100):
            if len(received) >= sum(channel == "bytchat:test:channel" for channel, _ in messages):
                return
            await asyncio.sleep(0.01)

    async def scenario():
        await subscription.subscribed()
        await published(
            ("bytchat:test:channel", "one"), ("bytchat:test:other", "no"), ("bytchat:test:channel", "ñ")
        )
        first = [data for _, data in received]
        loops = {loop for loop, _ in received}
        # Redis ends the connection (as on a restart): the next `subscribed` subscribes anew.
        connection = subscription._opening[asyncio.get_running_loop()].result()
        host, port = connection.transport.get_extra_info("sockname")[:2]
        await client.client_kill_filter(addr=f"{host}:{port}")
        for _ in range(100):
            if not connection.usable:
                break
            await asyncio.sleep(0.01)
        received.clear()
        await subscription.subscribed()
        await published(("bytchat:test:channel", "again"))
        await client.aclose()
        return first, loops, [data for _, data in received]

    first, loops, again = async_to_sync(scenario)()
    assert first == [b"one", "ñ".encode()]
    assert len(loops) == 1
    assert again == [b"again"]


def test_a_subscription_logs_in_and_selects_its_database_before_it_subscribes():
    fake = FakeRedis(
        lambda command: (
            b"*3\r\n$9\r\nsubscribe\r\n$4\r\nstop\r\n:1\r\n" if command[0] == b"SUBSCRIBE" else b"+OK\r\n"
        )
    )

    async def scenario():
        async with fake as url:
            subscription = RedisSubscription(
                url.replace("redis://", "redis://bot:s3cret@") + "/3", "stop", print, connect_timeout=5
            )
            await asyncio.gather(subscription.subscribed(), subscription.subscribed())

    async_to_sync(scenario)()
    assert fake.commands == [[b"AUTH", b"bot", b"s3cret"], [b"SELECT", b"3"], [b"SUBSCRIBE", b"stop"]]
    assert fake.connections == 1


def test_a_refused_login_fails_the_call():
    fake = FakeRedis(
        lambda command: b"-WRONGPASS invalid password\r\n" if command[0] == b"AUTH" else b"+OK\r\n"
    )

    async def scenario():
        async with fake as url:
            pipe = RedisPipe(url.replace("redis://", "redis://:wrong@"), connect_timeout=5)
            return await asyncio.gather(pipe.call(["PING"]), return_exceptions=True)

    [outcome] = async_to_sync(scenario)()
    assert isinstance(outcome, redis.ResponseError) and "WRONGPASS" in str(outcome)


def test_it_reads_the_urls_redis_py_reads():
    plain = connect_options("redis://127.0.0.1:6380/2")
    assert (plain["host"], plain["port"], plain["db"], plain["ssl"], plain["path"]) == (
        "127.0.0.1",
        6380,
        2,
        None,
        None,
    )
    unix = connect_options("unix:///run/redis.sock?db=4")
    assert (unix["path"], unix["db"]) == ("/run/redis.sock", 4)
    verified = connect_options("rediss://:pw@cache.internal:6379/1")
    assert verified["ssl"].verify_mode == ssl.CERT_REQUIRED and verified["ssl"].check_hostname
    assert verified["password"] == "pw"
    unverified = connect_options("rediss://cache.internal:6379/0?ssl_cert_reqs=none")
    assert unverified["ssl"].verify_mode == ssl.CERT_NONE and not unverified["ssl"].check_hostname
