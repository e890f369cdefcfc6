"""The first page of a list endpoint, from the cache (`bytchat.cached`).

A list's first page is what a client loads again and again (on every start, after every
turn); reading it from the database and serialising it cost 5 to 10 times what the
request itself does. `cached_first_page` keeps the page's body, per caller, in Django's
cache, current while none of the generations it `depends_on` has been renewed: the
services that write what the page shows forget those next to their writes (the list's
selectors name them), so a change is seen from the very next request, in every process.

Only first pages with a few known parameters, each in its one canonical spelling, are
kept (`params`): a page after a `cursor`, one filtered by an id, or one asked for with
`?limit=020`, a repeated or an escaped parameter, is read from the database every time,
so that a caller cannot fill the cache with pages nobody reads twice: a user has at most
a few hundred entries a list (page sizes by filters by languages).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from rest_framework.request import Request
from rest_framework.response import Response

from bytchat.cached import cached_read


def cached_first_page(
    request: Request,
    *,
    name: str,
    load: Callable[[], Any],
    depends_on: Sequence[str],
    params: Mapping[str, Callable[[str], bool]],
    vary: Sequence[str] = (),
) -> Response:
    """`Response(load())`, with `load()`'s value (the page's data) read from the cache
    when the request asks for a first page with no query parameters but `params`, each
    once, with a value its check accepts, spelled as `urlencode` spells it.

    The entry is the caller's, for this URL (scheme, host, path and query, which the
    page's links repeat) and `vary` (what else the body depends on: its language).
    A `load()` that raises (a bad parameter) stores nothing."""
    if not _canonical(request, params):
        return Response(load())
    url = request.build_absolute_uri()
    digest = hashlib.sha256("\n".join([url, *vary]).encode()).hexdigest()[:32]
    return Response(
        cached_read(name=name, key=f"{request.user.pk}:{digest}", load=load, depends_on=depends_on)
    )


def _canonical(request: Request, params: Mapping[str, Callable[[str], bool]]) -> bool:
    query = request.query_params
    for name in query:
        values = query.getlist(name)
        if name not in params or len(values) != 1 or not params[name](values[0]):
            return False
    return request.META.get("QUERY_STRING", "") == urlencode(list(query.items()))


def page_size(maximum: int) -> Callable[[str], bool]:
    """A `?limit=` the paginator takes as it is: 1 to `maximum`, no sign, no leading 0."""
    return lambda value: (
        value.isascii() and value.isdigit() and str(int(value)) == value and 1 <= int(value) <= maximum
    )


def one_of(*choices: str) -> Callable[[str], bool]:
    return lambda value: value in choices
