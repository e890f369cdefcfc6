"""Database helpers for async code paths."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

P = ParamSpec("P")
R = TypeVar("R")


def release_connection() -> None:
    """Hand this thread's connection back (to the pool on PostgreSQL) between the short
    database steps of a long-lived stream, so open streams do not each hold one.
    Inside an atomic block (a test's transaction) the connection is kept."""
    if not connection.in_atomic_block:
        close_old_connections()


def db_step(function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` and release the connection afterwards, whatever happens."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            release_connection()

    return wrapper


def async_db_step(function: Callable[P, R]):
    """`db_step` for async callers: the function runs in the request's sync thread."""
    return sync_to_async(db_step(function))
