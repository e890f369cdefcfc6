"""The first page of a list endpoint, from the cache (`bytchat.cached`).

A list's first page is what a client loads again and again (on every start, after every
turn); reading it from the database and serialising it cost 5 to 10 times what the
request itself does. `cached_first_page` keeps the page's body, per caller, in Django's
cache, current while none of the generations it `depends_on` has been renewed: the
services that write what the page shows forget those next to their writes (the list's
selectors name them), so a change is seen from the very next request, in every process.

Only first pages with a few known parameters of small range are kept (`params`): a page
after a `cursor`, or one filtered by an id, is read from the database every time, so
that a caller cannot fill the cache with pages nobody reads twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from bytchat.cached import cached_read


def cached_first_page(
    request: Request,
    *,
    name: str,
    load: Callable[[], Any],
    depends_on: Sequence[str],
    params: Collection[str] = ("limit",),
    vary: Sequence[str] = (),
) -> Response:
    """`Response(load())`, with `load()`'s value (the page's data) read from the cache
    when the request asks for a first page with no query parameters but `params`.

    The entry is the caller's, for this URL (scheme, host, path and query, which the
    page's links repeat) and `vary` (what else the body depends on: its language).
    A `load()` that raises (a bad parameter) stores nothing."""
    if not set(request.query_params) <= set(params):
        return Response(load())
    url = request.build_absolute_uri()
    digest = hashlib.sha256("\n".join([url, *vary]).encode()).hexdigest()[:32]
    return Response(
        cached_read(name=name, key=f"{request.user.pk}:{digest}", load=load, depends_on=depends_on)
    )
