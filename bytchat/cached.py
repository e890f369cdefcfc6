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

import secrets
from collections.abc import Callable, Sequence
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


def cached_read(*, name: str, key: Any, load: Callable[[], T], depends_on: Sequence[str] = ()) -> T:
    """`load()`'s value for the row `key` of `name`, from the cache while no writer has
    called `forget(name, key)` or `forget_all(depends_on[...])` since it was stored."""
    generation_keys = [_generation_key(name, key), *(_generation_key(shared) for shared in depends_on)]
    entry_key = _entry_key(name, key)
    found = cache.get_many([*generation_keys, entry_key])
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
