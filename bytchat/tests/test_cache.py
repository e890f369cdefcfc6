import threading

from django.core.cache import caches


def test_every_thread_shares_one_redis_client(settings):
    settings.CACHES = {
        "default": {"BACKEND": "bytchat.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/9"}
    }
    clients = []

    def use_the_cache():
        cache = caches["default"]  # a cache object of this thread's own
        clients.append((cache, cache._cache))  # kept alive, so that ids are not reused

    threads = [threading.Thread(target=use_the_cache) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(cache) for cache, _ in clients}) == 3
    assert len({id(client) for _, client in clients}) == 1


def test_different_servers_get_different_clients(settings):
    settings.CACHES = {
        "default": {"BACKEND": "bytchat.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/9"},
        "other": {"BACKEND": "bytchat.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/8"},
    }
    assert caches["default"]._cache is not caches["other"]._cache


def test_each_connection_pool_has_one_redis_object_for_every_command(settings):
    """Django's client built a `redis.Redis` around its pool for every command (about
    60 µs of CPU each); here it is built once and shared by the threads."""
    settings.CACHES = {
        "default": {"BACKEND": "bytchat.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/9"}
    }
    client = caches["default"]._cache
    seen = []

    def use_the_cache():
        seen.append(client.get_client("a"))
        seen.append(client.get_client("b", write=True))

    threads = [threading.Thread(target=use_the_cache) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(each) for each in seen}) == 1
    assert seen[0].connection_pool is client._get_connection_pool(write=True)
