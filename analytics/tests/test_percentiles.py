"""Percentiles computed by the database agree with percentile_cont, on both backends."""

from __future__ import annotations

import math
import random

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from analytics.percentiles import (
    BUCKETS_PER_E,
    bucket_expression,
    bucket_value,
    grouped_percentiles,
    histogram_percentiles,
    interpolate,
)
from analytics.tests.factories import make_conversation, make_exchange
from bots.tests.factories import make_bot
from chat.models import Run

pytestmark = pytest.mark.django_db


def percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's definition, in plain Python, as the reference."""
    ordered = sorted(values)
    return interpolate(dict(enumerate(ordered)), len(ordered), fraction)


def make_runs(bot_owner, latencies: list[int | None], bot=None):
    bot = bot or make_bot(owner=bot_owner)
    conversation = make_conversation(user=bot_owner, bot=bot)
    for latency in latencies:
        make_exchange(conversation=conversation, latency_ms=latency)
    return bot


class TestExactPercentiles:
    def test_it_matches_known_values(self, user):
        make_runs(user, list(range(1, 21)))
        result = grouped_percentiles(Run.objects.all(), field="latency_ms", fractions=[0, 0.5, 0.95, 1])
        # Written out rather than recomputed: both backends must land on these numbers.
        assert result == {None: {0: 1.0, 0.5: 10.5, 0.95: 19.05, 1: 20.0}}

    @pytest.mark.parametrize("size", [1, 2, 3, 7, 40])
    def test_it_matches_percentile_cont_for_any_size(self, user, size):
        values = [random.Random(size).randint(0, 5000) for _ in range(size)]
        make_runs(user, values)
        fractions = [0.25, 0.5, 0.9, 0.95, 0.99]
        result = grouped_percentiles(Run.objects.all(), field="latency_ms", fractions=fractions)[None]
        for fraction in fractions:
            assert result[fraction] == pytest.approx(percentile_cont(values, fraction), abs=1e-9)

    def test_it_groups_in_one_query_and_ignores_missing_values(self, user):
        first = make_runs(user, [100, 200, 300, None])
        second = make_runs(user, [1000, 5000])
        empty = make_runs(user, [None])
        with CaptureQueriesContext(connection) as queries:
            result = grouped_percentiles(
                Run.objects.all(),
                field="latency_ms",
                fractions=[0.5, 0.95],
                group_by={"group_bot": F("bot_id")},
            )
        assert len(queries) == 1
        assert result[first.pk] == {0.5: 200.0, 0.95: pytest.approx(290.0)}
        assert result[second.pk] == {0.5: 3000.0, 0.95: pytest.approx(4800.0)}
        assert empty.pk not in result

    def test_nothing_to_measure_gives_nothing(self, db):
        assert grouped_percentiles(Run.objects.all(), field="latency_ms", fractions=[0.5]) == {}

    @pytest.mark.postgres
    def test_postgresql_computes_them_with_percentile_cont(self, user):
        make_runs(user, [1, 2, 3])
        with CaptureQueriesContext(connection) as queries:
            grouped_percentiles(Run.objects.all(), field="latency_ms", fractions=[0.5])
        assert "percentile_cont(0.5) WITHIN GROUP" in queries[0]["sql"]

    def test_other_backends_use_window_functions(self, user):
        if connection.vendor == "postgresql":
            pytest.skip("PostgreSQL uses percentile_cont")
        make_runs(user, [1, 2, 3])
        with CaptureQueriesContext(connection) as queries:
            grouped_percentiles(Run.objects.all(), field="latency_ms", fractions=[0.5])
        assert "ROW_NUMBER()" in queries[0]["sql"]


class TestHistograms:
    def test_the_database_puts_values_in_the_same_buckets_as_python(self, user):
        values = [0, 1, 2, 9, 10, 99, 100, 101, 999, 1234, 65_000, 3_600_000]
        make_runs(user, values)
        buckets = list(
            Run.objects.order_by("latency_ms")
            .annotate(bucket=bucket_expression("latency_ms"))
            .values_list("latency_ms", "bucket")
        )
        assert buckets == [
            (value, math.floor(math.log(value + 1) * BUCKETS_PER_E)) for value in sorted(values)
        ]

    def test_a_bucket_stands_for_a_value_within_one_percent(self):
        for value in [1, 10, 137, 999, 2500, 60_000, 1_000_000]:
            bucket = math.floor(math.log(value + 1) * BUCKETS_PER_E)
            assert bucket_value(bucket) == pytest.approx(value, rel=0.011, abs=0.5)

    def test_histogram_percentiles_are_within_one_percent_of_exact_ones(self):
        values = [random.Random(7).randint(50, 30_000) for _ in range(500)]
        counts: dict[int, int] = {}
        for value in values:
            bucket = math.floor(math.log(value + 1) * BUCKETS_PER_E)
            counts[bucket] = counts.get(bucket, 0) + 1
        result = histogram_percentiles(counts, [0.5, 0.95])
        for fraction in (0.5, 0.95):
            assert result[fraction] == pytest.approx(percentile_cont(values, fraction), rel=0.011)

    def test_an_empty_histogram_has_no_percentiles(self):
        assert histogram_percentiles({}, [0.5]) == {0.5: None}
