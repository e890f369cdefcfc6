from __future__ import annotations

from datetime import date, timedelta

from analytics import charts
from analytics.words import top_words, words


def test_stop_words_of_both_languages_are_left_out():
    assert words("La respuesta NO es correcta, and the answer is too slow!") == ["correcta", "slow"]


def test_accents_and_case_do_not_split_a_word():
    assert top_words(["Información vieja", "informacion VIEJA", "información"]) == [
        ("informacion", 3),
        ("vieja", 2),
    ]


def test_numbers_and_short_words_are_not_words():
    assert words("Error 404 en el PDF, ok?") == ["error", "pdf"]


def test_ties_are_alphabetical_and_the_list_is_capped():
    assert top_words(["beta alpha gamma", "gamma"], limit=2) == [("gamma", 2), ("alpha", 1)]


def test_axes_end_on_round_numbers():
    assert [charts.nice_ceiling(value) for value in (0, 0.3, 7, 12, 230, 999)] == [1, 0.5, 10, 20, 250, 1000]
    assert charts.short_number(1_250_000) == "1.2M" and charts.short_number(1500) == "1.5k"


def test_bars_are_as_tall_as_their_share_of_the_axis():
    days = [date(2025, 1, 1) + timedelta(days=offset) for offset in range(4)]
    chart = charts.bar_chart("Runs", days, [0, 5, 10, 0])
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == 0 and heights[3] == 0 and heights[2] == 2 * heights[1]
    assert chart.ticks[-1].label == "10" and not chart.empty


def test_a_line_breaks_where_a_day_has_no_value():
    days = [date(2025, 1, 1) + timedelta(days=offset) for offset in range(5)]
    chart = charts.line_chart("p95", days, [100, 200, None, 150, None], unit=" ms")
    assert len(chart.lines) == 2 and len(chart.dots) == 3
    assert chart.dots[0].title == "2025-01-01: 100 ms"


def test_satisfaction_is_drawn_on_a_percent_axis():
    chart = charts.line_chart("Satisfaction", [date(2025, 1, 1)], [0.5], percent=True)
    assert chart.ticks[-1].label == "100 %" and chart.dots[0].title.endswith("50 %")


def test_rankings_are_relative_to_the_largest():
    bars = charts.ranking([("A", 50), ("B", 25)], unit=" runs")
    assert [(bar.width, bar.value_label) for bar in bars] == [(100.0, "50 runs"), (50.0, "25 runs")]
