"""Percentiles computed in the database, with the same results on PostgreSQL and SQLite.

Exact percentiles follow PostgreSQL's ``percentile_cont``: the value at rank
``fraction * (n - 1)`` (0-based), interpolated linearly between its two neighbours.
PostgreSQL runs ``percentile_cont`` itself; SQLite has no ordered-set aggregates, so there
the rows are numbered per group with window functions and only the two neighbours of each
rank come back. Either way it is one query, whatever the number of rows.

Percentiles of a period longer than a day come from histograms instead, because
percentiles do not add up across days while histograms do: each value falls in a
logarithmic bucket ``floor(ln(value + 1) * BUCKETS_PER_E)``, 2 % wide, and a bucket stands
for its geometric middle, so a percentile read from the histogram is within 1 % of the
exact one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection
from django.db.models import Aggregate as DjangoAggregate
from django.db.models import (
    Count,
    Expression,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
)
from django.db.models.expressions import Window
from django.db.models.functions import Cast, Floor, Ln, RowNumber

GROWTH = 1.02
BUCKETS_PER_E = 1 / math.log(GROWTH)


class PercentileCont(DjangoAggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "percentile_cont"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression: Any, *, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile fraction lies between 0 and 1.")
        # A literal, not a parameter: PostgreSQL needs its type to pick the function.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def interpolate(values: Mapping[int, float], size: int, fraction: float) -> float | None:
    """percentile_cont from the values at 0-based ranks (only the two around the rank
    ``fraction * (size - 1)`` are needed)."""
    if size == 0:
        return None
    rank = fraction * (size - 1)
    lower = math.floor(rank)
    below = values[lower]
    if rank == lower:
        return float(below)
    above = values[lower + 1]
    return below + (above - below) * (rank - lower)


def _group_key(row: Mapping[str, Any], group_names: Sequence[str]) -> Any:
    if not group_names:
        return None
    if len(group_names) == 1:
        return row[group_names[0]]
    return tuple(row[name] for name in group_names)


def grouped_percentiles(
    queryset: QuerySet,
    *,
    field: str,
    fractions: Sequence[float],
    group_by: Mapping[str, Expression | F] | None = None,
) -> dict[Any, dict[float, float | None]]:
    """Exact percentiles of ``field`` over ``queryset`` (null values ignored), one query.

    ``group_by`` names expressions to group on (``{"day": TruncDate("created_at")}``); the
    result maps each group's key (a value, a tuple for several names, None when
    ungrouped) to ``{fraction: percentile}``. Groups with no values are absent.
    """
    group_by = dict(group_by or {})
    names = list(group_by)
    rows = queryset.filter(**{f"{field}__isnull": False}).order_by()
    if connection.vendor == "postgresql":
        aggregates = {f"pct_{index}": PercentileCont(field, fraction=f) for index, f in enumerate(fractions)}
        if names:
            result_rows: Iterable[Mapping[str, Any]] = rows.values(**group_by).annotate(**aggregates)
        else:
            result = rows.aggregate(**aggregates, pct_size=Count(field))
            result_rows = [result] if result["pct_size"] else []
        return {
            _group_key(row, names): {f: row[f"pct_{index}"] for index, f in enumerate(fractions)}
            for row in result_rows
        }
    return _window_percentiles(rows, field=field, fractions=fractions, group_by=group_by)


def _window_percentiles(
    rows: QuerySet, *, field: str, fractions: Sequence[float], group_by: Mapping[str, Any]
) -> dict[Any, dict[float, float | None]]:
    """The portable way: number the values of each group in order and keep only the rows
    next to each requested rank."""
    names = list(group_by)
    partition = list(group_by.values()) or None
    ranked = rows.annotate(
        **group_by,
        pct_value=F(field),
        pct_position=Window(RowNumber(), partition_by=partition, order_by=F(field).asc()),
        pct_size=Window(Count("pk"), partition_by=partition),
    )
    wanted = Q()
    for fraction in fractions:
        # 1-based positions of the two values around the 0-based rank fraction * (size - 1).
        lower = Cast(Floor((F("pct_size") - 1) * fraction), IntegerField()) + 1
        wanted |= Q(pct_position=lower) | Q(pct_position=lower + 1)
    picked = ranked.filter(wanted).values(*names, "pct_value", "pct_position", "pct_size")
    values: dict[Any, dict[int, float]] = {}
    sizes: dict[Any, int] = {}
    for row in picked:
        key = _group_key(row, names)
        values.setdefault(key, {})[row["pct_position"] - 1] = row["pct_value"]
        sizes[key] = row["pct_size"]
    return {
        key: {fraction: interpolate(values[key], size, fraction) for fraction in fractions}
        for key, size in sizes.items()
    }


# --- Histograms -----------------------------------------------------------------------


def bucket_expression(field: str) -> Cast:
    """The histogram bucket of ``field``, computed by the database."""
    value = Cast(F(field), FloatField()) + 1.0
    return Cast(Floor(Ln(value) * BUCKETS_PER_E), IntegerField())


def bucket_value(bucket: int) -> float:
    """The value a bucket stands for: the geometric middle of its bounds."""
    return math.exp((bucket + 0.5) / BUCKETS_PER_E) - 1


def histogram_percentiles(counts: Mapping[int, int], fractions: Sequence[float]) -> dict[float, float | None]:
    """percentile_cont over a histogram ``{bucket: count}``: each value is taken as its
    bucket's middle. The loop runs over buckets (a few hundred at most), not over rows."""
    size = sum(counts.values())
    if size == 0:
        return dict.fromkeys(fractions)
    ranks: dict[int, float] = {}
    wanted = set()
    for fraction in fractions:
        lower = math.floor(fraction * (size - 1))
        wanted.update({lower, min(lower + 1, size - 1)})
    seen = 0
    for bucket in sorted(counts):
        count = counts[bucket]
        for rank in wanted:
            if seen <= rank < seen + count:
                ranks[rank] = bucket_value(bucket)
        seen += count
    return {fraction: interpolate(ranks, size, fraction) for fraction in fractions}
