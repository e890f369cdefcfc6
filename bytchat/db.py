"""Database helpers for async code paths."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, models, transaction
from django.db.models import sql

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


# --- Several writes in one round trip (PostgreSQL) ----------------------------------------
# Django's PostgreSQL cursor binds parameters on the client, so one `execute` may carry
# several statements: PostgreSQL runs them as one transaction (or inside the caller's),
# all or none. The statements are the ones the ORM would send, built by its compilers.

Statement = tuple[str, Sequence[Any]]


def insert_statement(objects: Sequence[models.Model]) -> Statement:
    """The INSERT of `objects` (all of one model) that `bulk_create` would send, with every
    default and `auto_now_add` applied as it would."""
    model = type(objects[0])
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    if any(obj.pk is None for obj in objects):  # an AutoField: the database numbers them
        fields = [field for field in fields if not isinstance(field, models.AutoField)]
    query = sql.InsertQuery(model)
    query.insert_values(fields, objects)
    [(statement, params)] = query.get_compiler(connection=connection).as_sql()
    return statement, list(params)


def update_statement(queryset: models.QuerySet, **values: Any) -> Statement:
    """The UPDATE that `queryset.update(**values)` would send (one table)."""
    query = queryset.query.chain(sql.UpdateQuery)
    query.add_update_values(values)
    statement, params = query.get_compiler(connection=connection).as_sql()
    return statement, list(params)


def execute_together(statements: Sequence[Statement]) -> list[list[tuple]]:
    """Send `statements` to PostgreSQL in one round trip; they stand or fall together.
    Each statement's rows, in order ([] for a statement that returns none).

    In autocommit they are one transaction of their own (no BEGIN, no COMMIT); inside a
    caller's transaction, a savepoint, so that the caller can go on after they fail."""
    results = []
    savepoint = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with savepoint, connection.cursor() as cursor:
        cursor.execute(
            ";\n".join(statement for statement, _ in statements),
            [param for _, params in statements for param in params],
        )
        while True:
            results.append(cursor.fetchall() if cursor.description is not None else [])
            if not cursor.nextset():
                break
    return results
