"""Serializer fields shared by the query strings of every API surface."""

from __future__ import annotations

from rest_framework import serializers

# PostgreSQL's bigint and SQLite's INTEGER: the largest OFFSET a database takes. A larger
# number passed validation and failed in the database ("bigint out of range", a 500).
MAX_DATABASE_INTEGER = 2**63 - 1


class OffsetField(serializers.IntegerField):
    """`?offset=`: how many results to skip, as every seed document defines it. Past the
    last result the page is empty; negative, not a number, or past what a database can
    count, it is a 400 that names the parameter."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_DATABASE_INTEGER)
        kwargs.setdefault("default", 0)
        super().__init__(**kwargs)
