"""`count_hit`: one atomic count per hit, on Redis (one round trip) and in local memory."""

import threading
import time

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from bytchat.counters import count_hit

HITS = 40


def _hit_at_once(key: str, timeout: int) -> list[int]:
    counts: list[int] = []
    start = threading.Barrier(8)

    def hit() -> None:
        start.wait()
        for _ in range(HITS // 8):
            counts.append(count_hit(key, timeout=timeout))

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request, settings):
    if request.param == "redis":
        if not django_settings.REDIS_URL:
            pytest.skip("needs Redis: set REDIS_URL=redis://...")
        settings.CACHES = {
            "default": {"BACKEND": "bytchat.cache.RedisCache", "LOCATION": django_settings.REDIS_URL}
        }
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache = caches["default"]
    cache.delete("counter")
    yield cache
    cache.delete("counter")


def test_parallel_hits_each_get_their_own_count(cache_backend):
    assert sorted(_hit_at_once("counter", timeout=60)) == list(range(1, HITS + 1))
    assert cache_backend.get("counter") == HITS


def test_the_first_hit_sets_the_lifetime_and_later_hits_keep_it(cache_backend):
    assert count_hit("counter", timeout=1) == 1
    time.sleep(0.6)
    assert count_hit("counter", timeout=1) == 2  # not a new window: the lifetime stays
    time.sleep(0.6)
    assert cache_backend.get("counter") is None
    assert count_hit("counter", timeout=1) == 1


@pytest.mark.redis
def test_on_redis_a_hit_is_one_round_trip(cache_backend, monkeypatch):
    if not hasattr(cache_backend, "count_hit"):
        pytest.skip("the Redis backend only")
    client = cache_backend._cache.get_client("counter", write=True)
    sent = []
    original = type(client).pipeline

    def pipeline(self, *args, **kwargs):
        pipe = original(self, *args, **kwargs)
        execute = pipe.execute

        def counted(*a, **k):
            sent.append([command[0][0] for command in pipe.command_stack])
            return execute(*a, **k)

        pipe.execute = counted
        return pipe

    monkeypatch.setattr(type(client), "pipeline", pipeline)
    count_hit("counter", timeout=60)
    assert sent == [["INCRBY", "EXPIRE"]]
    assert 0 < client.ttl(cache_backend.make_key("counter")) <= 60
