"""`bytchat.cached`: entries served until their row (or what they depend on) is forgotten,
never an entry read before a write that committed after it."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import transaction

from bytchat.cached import Read, cached_read, forget, forget_all, read_ahead


class Source:
    """A row whose value the test changes, counting the loads."""

    def __init__(self, value: str) -> None:
        self.value, self.loads = value, 0

    def load(self) -> str:
        self.loads += 1
        return self.value


def _read(source: Source, key: str = "1") -> str:
    return cached_read(name="thing", key=key, load=source.load, depends_on=("every-owner",))


def test_an_entry_is_loaded_once_then_served_until_its_row_is_forgotten():
    source = Source("first")
    assert [_read(source), _read(source)] == ["first", "first"]
    assert source.loads == 1
    source.value = "second"
    forget("thing", "1")
    assert _read(source) == "second" and source.loads == 2
    assert _read(source, key="2") == "second" and source.loads == 3  # each row its own entry


def test_forgetting_what_entries_depend_on_reloads_every_one_of_them():
    first, second = Source("a"), Source("b")
    _read(first, "1"), _read(second, "2")
    first.value, second.value = "A", "B"
    forget_all("every-owner")
    assert (_read(first, "1"), _read(second, "2")) == ("A", "B")
    assert (first.loads, second.loads) == (2, 2)


def test_a_value_loaded_while_a_write_commits_is_not_served_afterwards():
    source = Source("old")

    def load_then_write_commits() -> str:
        value = source.load()  # read the row as it was...
        source.value = "new"  # ...then a writer in another process commits and forgets it
        forget("thing", "1")
        return value

    assert cached_read(name="thing", key="1", load=load_then_write_commits) == "old"
    assert cached_read(name="thing", key="1", load=source.load) == "new"


def test_a_generation_the_cache_dropped_is_a_miss_not_a_stale_entry():
    source = Source("old")
    _read(source)
    source.value = "new"
    cache.delete("gen:thing:1")  # evicted, and with it the writer's forget
    assert _read(source) == "new"


@pytest.mark.django_db(transaction=True)
def test_a_write_forgets_at_once_and_again_when_its_transaction_commits():
    source = Source("old")
    _read(source)
    with transaction.atomic():
        source.value = "changed"
        forget("thing", "1")
        assert _read(source) == "changed"  # the writer's own transaction reads its change
    with transaction.atomic():
        forget("thing", "1")  # a write, not committed yet
        source.value = "changed"  # what another process reads meanwhile: the last commit
        assert _read(source) == "changed"
        source.value = "committed"
    assert _read(source) == "committed"  # the commit forgot what was read before it


class CountedLookups:
    """Counts the cache's `get_many` calls (one MGET each on Redis)."""

    def __init__(self, monkeypatch) -> None:
        self.calls: list[list[str]] = []
        real = cache.get_many

        def get_many(keys, *args, **kwargs):
            self.calls.append(list(keys))
            return real(keys, *args, **kwargs)

        monkeypatch.setattr(cache, "get_many", get_many)


def _other(source: Source) -> str:
    return cached_read(name="other", key="9", load=source.load)


def test_reads_announced_ahead_take_one_lookup_between_them(monkeypatch):
    thing, other = Source("a"), Source("b")
    _read(thing), _other(other)  # both cached
    lookups = CountedLookups(monkeypatch)
    with read_ahead(Read("other", "9"), None):
        assert (_read(thing), _other(other)) == ("a", "b")
    assert len(lookups.calls) == 1 and "entry:other:9" in lookups.calls[0]
    assert (thing.loads, other.loads) == (1, 1)
    assert _other(other) == "b" and len(lookups.calls) == 2  # outside the block: its own lookup


def test_a_forget_in_the_block_sends_the_next_read_back_to_the_cache(monkeypatch):
    thing, other = Source("a"), Source("b")
    _read(thing), _other(other)
    lookups = CountedLookups(monkeypatch)
    with read_ahead(Read("other", "9")):
        _read(thing)
        other.value = "B"
        forget("other", "9")
        assert _other(other) == "B"
    assert len(lookups.calls) == 2 and other.loads == 2


def test_an_entry_loaded_in_the_block_is_read_again_from_the_cache(monkeypatch):
    thing, other = Source("a"), Source("b")
    _other(other)
    lookups = CountedLookups(monkeypatch)
    with read_ahead(Read("other", "9")):
        _read(thing)  # a miss: loaded, then stored
        assert _other(other) == "b"
    assert thing.loads == 1 and other.loads == 1
    assert len(lookups.calls) >= 2  # what was fetched with the miss is not trusted after it
