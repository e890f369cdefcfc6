"""Document metadata and the filter language that restricts a knowledge search to the
documents whose metadata match.

Metadata is a JSON object: keys of letters, digits, `_`, `-` or `.` (at most 64, starting
with a letter or `_`), values that are strings, numbers, dates (a string `YYYY-MM-DD`) or
lists of strings. `metadata_clean` checks it; `metadata_rows` types each value into a
`DocumentMetadataValue` row.

A filter is a JSON object. Each entry is either a metadata key with a condition, or `and` /
`or` with a list of filters; the entries of one object must all hold:

    {"program": "DSCR"}                                   equality (a list value: one item equals)
    {"program": {"in": ["DSCR", "Full Doc"]}}             any of
    {"year": {"gte": 2023, "lt": 2025}}                    number range (gt, gte, lt, lte)
    {"effective": {"gte": "2024-01-01"}}                   date range
    {"or": [{"program": "DSCR"}, {"department": "risk"}]}  either
    {}                                                     every document

A filter compiles to a restriction on documents (`filter_documents` returns a Document
queryset) that the retrievers apply inside their candidate query, before ranking, so the
top k all match. A key is known when one of the bot's documents has it: a filter naming
another key, or with a malformed value, raises `InvalidInput` naming it (a 400). Filters
stored earlier (a bot's default, a conversation's) are compiled without that check: a key
whose documents are gone simply matches nothing.
"""

from __future__ import annotations

import datetime
import json
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.db.models import Q, QuerySet

from bytchat.errors import InvalidInput

MAX_KEYS = 30
MAX_KEY_CHARS = 64
MAX_TEXT_CHARS = 255
MAX_LIST_ITEMS = 50
MAX_FILTER_CONDITIONS = 50
MAX_FILTER_DEPTH = 5
MAX_FILTER_CHARS = 4000
MAX_NUMBER = 10**15  # in magnitude: exact as a float, and far past any year or amount

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RANGE_OPERATORS = {"gt", "gte", "lt", "lte"}
OPERATORS = RANGE_OPERATORS | {"eq", "in"}
JOINS = {"and", "or"}


# --- Metadata ----------------------------------------------------------------------------
def _date(value: str) -> datetime.date | None:
    """The date a `YYYY-MM-DD` string names; None for any other string. Raises ValueError
    for one of that form that is no date (2024-02-30)."""
    if not DATE.fullmatch(value):
        return None
    return datetime.date.fromisoformat(value)


def _is_number(value: Any) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_NUMBER
    return math.isfinite(value) and abs(value) <= MAX_NUMBER


def _has_control(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def metadata_clean(value: Any, *, field: str = "metadata") -> dict[str, Any]:
    """The metadata as stored, or `InvalidInput` naming the offending key. A JSON string is
    read as JSON (what a form field sends); None and "" are no metadata."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid(field, "Metadata must be a JSON object.") from None
    if not isinstance(value, dict):
        raise _invalid(field, "Metadata must be a JSON object of keys and values.")
    if len(value) > MAX_KEYS:
        raise _invalid(field, f"Metadata has at most {MAX_KEYS} keys.")
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not KEY.fullmatch(key) or key in JOINS:
            raise _invalid(
                field,
                f"Metadata key {key!r} is not valid: use at most {MAX_KEY_CHARS} letters, digits, "
                "'_', '-' or '.', starting with a letter or '_' ('and' and 'or' are reserved).",
            )
        cleaned[key] = _clean_value(key, item, field=field)
    return cleaned


def _clean_value(key: str, value: Any, *, field: str) -> Any:
    if _is_number(value):
        return value
    if isinstance(value, str):
        return _clean_text(key, value, field=field)
    if isinstance(value, list):
        if len(value) > MAX_LIST_ITEMS:
            raise _invalid(field, f"Metadata {key!r}: a list has at most {MAX_LIST_ITEMS} items.")
        if not all(isinstance(item, str) for item in value):
            raise _invalid(field, f"Metadata {key!r}: a list may hold only strings.")
        return list(dict.fromkeys(_clean_text(key, item, field=field) for item in value))
    raise _invalid(
        field,
        f"Metadata {key!r} has a value of an unsupported type: use a string, a number (at most "
        f"{MAX_NUMBER:.0e} in magnitude), a date (YYYY-MM-DD) or a list of strings.",
    )


def _clean_text(key: str, value: str, *, field: str) -> str:
    value = value.strip()
    if not value:
        raise _invalid(field, f"Metadata {key!r}: a string may not be blank.")
    if len(value) > MAX_TEXT_CHARS:
        raise _invalid(field, f"Metadata {key!r}: a string has at most {MAX_TEXT_CHARS} characters.")
    if _has_control(value):
        raise _invalid(field, f"Metadata {key!r}: a string may not hold control characters.")
    try:
        _date(value)
    except ValueError:
        raise _invalid(field, f"Metadata {key!r}: {value!r} is not a valid date.") from None
    return value


def metadata_rows(metadata: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The typed values of cleaned metadata, as `DocumentMetadataValue` fields."""
    for key, value in metadata.items():
        for item in value if isinstance(value, list) else [value]:
            if _is_number(item):
                yield {"key": key, "text": "", "number": float(item), "date": None}
            else:
                yield {"key": key, "text": item, "number": None, "date": _date(item)}


# --- Filters -----------------------------------------------------------------------------
def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields={field: [message]})


def filter_read(value: Any, *, field: str = "filter") -> dict[str, Any] | None:
    """A filter as sent: a JSON object, or a string holding one (a query parameter). None
    and "" are no filter."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if len(value) > MAX_FILTER_CHARS:
            raise _invalid(field, f"The filter is longer than {MAX_FILTER_CHARS} characters.")
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid(field, "The filter must be a JSON object.") from None
    if not isinstance(value, dict):
        raise _invalid(field, 'The filter must be a JSON object, such as {"program": "DSCR"}.')
    return value


class _Compiler:
    def __init__(self, *, bot, field: str) -> None:
        self.bot = bot
        self.field = field
        self.conditions = 0
        self.keys: list[str] = []

    def error(self, message: str) -> InvalidInput:
        return _invalid(self.field, message)

    def node(self, value: Any, depth: int) -> Q:
        if not isinstance(value, dict):
            raise self.error(f"Each filter must be a JSON object, not {json.dumps(value)[:80]}.")
        if depth > MAX_FILTER_DEPTH:
            raise self.error(f"The filter nests 'and'/'or' more than {MAX_FILTER_DEPTH} deep.")
        combined = Q()
        for key, condition in value.items():
            if key in JOINS:
                combined &= self.join(key, condition, depth)
            else:
                combined &= self.condition(key, condition)
        return combined

    def join(self, operator: str, value: Any, depth: int) -> Q:
        if not isinstance(value, list) or not value:
            raise self.error(f"'{operator}' takes a non-empty list of filters.")
        if any(item == {} for item in value):
            raise self.error(f"'{operator}' takes filters with at least one condition each.")
        parts = [self.node(item, depth + 1) for item in value]
        combined = parts[0]
        for part in parts[1:]:
            combined = (combined & part) if operator == "and" else (combined | part)
        return combined

    def condition(self, key: Any, condition: Any) -> Q:
        self.conditions += 1
        if self.conditions > MAX_FILTER_CONDITIONS:
            raise self.error(f"The filter has more than {MAX_FILTER_CONDITIONS} conditions.")
        if not isinstance(key, str) or not KEY.fullmatch(key):
            raise self.error(f"{key!r} is not a metadata key.")
        self.keys.append(key)
        if isinstance(condition, dict):
            if not condition:
                raise self.error(f"The condition on {key!r} is empty.")
            unknown = set(condition) - OPERATORS
            if unknown:
                raise self.error(
                    f"Unknown operator {sorted(unknown)[0]!r} on {key!r}: use eq, in, gt, gte, lt or lte."
                )
            values = Q()
            for operator, operand in condition.items():
                values &= self.operator(key, operator, operand)
        else:
            values = self.operator(key, "eq", condition)
        # The documents with a value of `key` that satisfies the condition: a subquery on
        # the typed values, which their (bot, key, ...) indexes serve.
        from bots.models import DocumentMetadataValue

        matching = DocumentMetadataValue.objects.filter(values, bot=self.bot, key=key).values("document_id")
        return Q(pk__in=matching)

    def scalar(self, key: str, value: Any) -> Q:
        if _is_number(value):
            return Q(number=float(value))
        if isinstance(value, str) and value.strip() and not _has_control(value):
            # Longer than any stored value: it matches nothing, and is no error.
            return Q(text=value.strip()[: MAX_TEXT_CHARS + 1])
        raise self.error(f"The value for {key!r} must be a string or a number, not {json.dumps(value)[:80]}.")

    def operator(self, key: str, operator: str, operand: Any) -> Q:
        if operator == "eq":
            return self.scalar(key, operand)
        if operator == "in":
            if not isinstance(operand, list) or not operand or len(operand) > MAX_LIST_ITEMS:
                raise self.error(f"'in' on {key!r} takes a list of 1 to {MAX_LIST_ITEMS} values.")
            combined = Q()
            for item in operand:
                combined |= self.scalar(key, item)
            return combined
        # A range: numbers compare as numbers, YYYY-MM-DD strings as dates.
        if _is_number(operand):
            return Q(**{f"number__{operator}": float(operand)})
        if isinstance(operand, str):
            try:
                date = _date(operand.strip())
            except ValueError:
                date = None
            if date is not None:
                return Q(**{f"date__{operator}": date})
        raise self.error(
            f"'{operator}' on {key!r} takes a number or a date (YYYY-MM-DD), not {json.dumps(operand)[:80]}."
        )


def metadata_keys(*, bot) -> set[str]:
    """The keys the bot's documents have: the ones its filters may name."""
    from bots.models import DocumentMetadataValue

    return set(DocumentMetadataValue.objects.filter(bot=bot).values_list("key", flat=True).distinct())


def filter_q(value: dict[str, Any], *, bot, check_keys: bool = True, field: str = "filter") -> Q:
    """The filter as a condition on the bot's documents. `check_keys`: a key no document of
    the bot has is an error (a filter the client just sent); off for stored filters."""
    from bots.models import DocumentMetadataValue

    compiler = _Compiler(bot=bot, field=field)
    condition = compiler.node(value, depth=1)
    if check_keys and compiler.keys:
        # Only the keys it names (the (bot, key, ...) indexes answer that at once); all of
        # them only to explain an unknown one.
        named = DocumentMetadataValue.objects.filter(bot=bot, key__in=set(compiler.keys))
        found = set(named.values_list("key", flat=True).distinct())
        unknown = [key for key in compiler.keys if key not in found]
        if unknown:
            known = ", ".join(sorted(metadata_keys(bot=bot))[:20]) or "none yet"
            raise compiler.error(f"Unknown metadata key {unknown[0]!r}: this bot's documents have {known}.")
    return condition


def filter_validate(
    value: Any, *, bot, check_keys: bool = True, field: str = "filter"
) -> dict[str, Any] | None:
    """The filter as sent, read and checked (`InvalidInput` naming what is wrong)."""
    value = filter_read(value, field=field)
    if value is not None:
        filter_q(value, bot=bot, check_keys=check_keys, field=field)
    return value


def filter_documents(value: dict[str, Any] | None, *, bot, check_keys: bool = True) -> QuerySet | None:
    """The bot's documents the filter selects, for `search(..., documents=...)`; None when
    there is no filter (every document)."""
    from bots.models import Document

    if not value:  # none, or {}: every document
        return None
    return Document.objects.filter(filter_q(value, bot=bot, check_keys=check_keys), bot=bot)
