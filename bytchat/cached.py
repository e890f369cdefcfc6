"""Rows the hot path reads on every request, kept in Django's cache (Redis in production,
shared by every web process; local memory by default), and forgotten by the services that
write them.

Each entry is stored with the generations it was read under: its own (one per row) and
those of the shared things it depends on (every plan, every model endpoint). A write gives
the row a new generation (a random token) instead of deleting the entry, so one `get_many`
(one Redis MGET) both finds the entry and tells whether it is still current:
- a reader that loaded the row just before a write committed stores its entry under the
  old generation, and nobody reads that entry again;
- `forget` sets the new generation at once (so the writer's own transaction reads its
  change) and again once the transaction commits (so an entry stored from the old row
  while the write was uncommitted is never current);
- a generation the cache dropped (eviction, expiry) comes back as a new token: entries
  stored under the old one are missed, never served stale.
The entries' own timeout only bounds how long a write that bypassed the services (a
shell, a raw UPDATE) can go unseen.
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

# How long a generation lives once set; a dropped one only costs a miss.
_GENERATION_SECONDS = 7 * 24 * 3600


def _generation_key(name: str, key: Any = None) -> str:
    return f"gen:{name}" if key is None else f"gen:{name}:{key}"


def _entry_key(name: str, key: Any) -> str:
    return f"entry:{name}:{key}"


def _new_generation() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Read:
    """One `cached_read` (its name, key and dependencies), for `read_ahead`."""

    name: str
    key: Any
    depends_on: Sequence[str] = ()

    @property
    def generation_keys(self) -> list[str]:
        return [
            _generation_key(self.name, self.key),
            *(_generation_key(shared) for shared in self.depends_on),
        ]

    @property
    def entry_key(self) -> str:
        return _entry_key(self.name, self.key)

    def kwargs(self) -> dict[str, Any]:
        """`cached_read(**read.kwargs(), load=...)`."""
        return {"name": self.name, "key": self.key, "depends_on": self.depends_on}


class _Ahead:
    """The cache keys of reads announced by `read_ahead`: fetched with the block's first
    lookup, and answered from here after it until a write in the block forgets anything."""

    def __init__(self, keys: list[str]) -> None:
        self.pending = keys
        self.fetched: dict[str, Any] = {}
        self.known: set[str] = set()

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        if not self.known.issuperset(keys):
            asked = list(dict.fromkeys([*keys, *self.pending]))
            self.pending = []
            found = cache.get_many(asked)
            self.known.update(asked)
            self.fetched.update(found)
        return {key: self.fetched[key] for key in keys if key in self.fetched}

    def forget(self) -> None:
        self.pending, self.fetched, self.known = [], {}, set()


_ahead: contextvars.ContextVar[_Ahead | None] = contextvars.ContextVar("cached_read_ahead", default=None)


@contextlib.contextmanager
def read_ahead(*reads: Read | None) -> Iterator[None]:
    """The `cached_read`s about to be made in the block (and in the code it calls, in this
    thread) take one cache round trip (one MGET) instead of one each: the keys of `reads`
    go with the block's first lookup, whichever read makes it. The values are those of
    that moment, as if the reads had all been made then; a `forget` in the block, or an
    entry loaded again, sends the next reads back to the cache. None: nothing to add."""
    keys = [key for read in reads if read is not None for key in (*read.generation_keys, read.entry_key)]
    token = _ahead.set(_Ahead(keys))
    try:
        yield
    finally:
        _ahead.reset(token)


def _get_many(keys: list[str]) -> dict[str, Any]:
    ahead = _ahead.get()
    return ahead.get_many(keys) if ahead is not None else cache.get_many(keys)


def _ahead_forget() -> None:
    ahead = _ahead.get()
    if ahead is not None:
        ahead.forget()


def cached_read(*, name: str, key: Any, load: Callable[[], T], depends_on: Sequence[str] = ()) -> T:
    """`load()`'s value for the row `key` of `name`, from the cache while no writer has
    called `forget(name, key)` or `forget_all(depends_on[...])` since it was stored."""
    read = Read(name, key, depends_on)
    generation_keys = read.generation_keys
    entry_key = read.entry_key
    found = _get_many([*generation_keys, entry_key])
    generations = tuple(found.get(each) for each in generation_keys)
    entry = found.get(entry_key)
    if entry is not None and None not in generations and entry[0] == generations:
        return entry[1]
    if None in generations:
        for each, generation in zip(generation_keys, generations, strict=True):
            if generation is None:
                cache.add(each, _new_generation(), timeout=_GENERATION_SECONDS)
        current = cache.get_many(generation_keys)
        generations = tuple(current.get(each) for each in generation_keys)
    # Read after the generations: a write that commits from here on changes them.
    _ahead_forget()
    value = load()
    if None not in generations:
        cache.set(entry_key, (generations, value), timeout=settings.HOT_PATH_CACHE_SECONDS)
    return value


def row(name: str, key: Any) -> str:
    """A dependency (`cached_read(depends_on=...)`) on one row that another entry caches:
    the entry is stale from `forget(name, key)` on, as that row's own entry is."""
    return f"{name}:{key}"


def _renew(generation_key: str) -> None:
    cache.set(generation_key, _new_generation(), timeout=_GENERATION_SECONDS)


def _renew_now_and_on_commit(generation_key: str) -> None:
    _ahead_forget()
    _renew(generation_key)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _renew(generation_key))


def forget(name: str, key: Any) -> None:
    """The row `key` of `name` changed (or is changing in this transaction): the next
    `cached_read` of it, in any process, loads it again. Call it next to the write."""
    _renew_now_and_on_commit(_generation_key(name, key))


def forget_all(shared: str) -> None:
    """Something every entry that `depends_on` `shared` was read with changed."""
    _renew_now_and_on_commit(_generation_key(shared))
