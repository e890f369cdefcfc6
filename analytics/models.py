from __future__ import annotations

from django.conf import settings
from django.db import models

# --- Daily rollups ----------------------------------------------------------------------
# Closed days (before today, in the current time zone) summarised once by
# `analytics.services.rollup_refresh`, which the beat task runs; the selectors read these
# for past days and compute today (and any day not rolled up yet) live from the runs.


class DailyStats(models.Model):
    """The whole platform on one day. Its presence marks the day as rolled up: the day's
    activity rows and latency histogram are written in the same transaction."""

    day = models.DateField(primary_key=True)
    runs = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    incomplete = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    active_users = models.PositiveIntegerField(default=0)
    conversations = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    thumbs_down_comments = models.PositiveIntegerField(default=0)
    latency_p50_ms = models.FloatField(null=True, blank=True)
    latency_p95_ms = models.FloatField(null=True, blank=True)
    ttft_p50_ms = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "daily stats"

    def __str__(self) -> str:
        return f"{self.day}: {self.runs} runs"


class DailyActivity(models.Model):
    """One user with one bot on one day: the grain that per-bot and per-user figures of a
    period add up from, distinct users included. Only pairs with some activity that day
    have a row, and only while both the user and the bot exist."""

    day = models.DateField()
    bot = models.ForeignKey("bots.Bot", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    runs = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    incomplete = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    conversations = models.PositiveIntegerField(default=0)
    messages = models.PositiveIntegerField(default=0)
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    thumbs_down_comments = models.PositiveIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day"]
        verbose_name_plural = "daily activity"
        # Leads with the day: every read takes a range of days.
        constraints = [models.UniqueConstraint(fields=["day", "bot", "user"], name="daily_activity_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} with {self.bot_id}: {self.runs} runs"


class LatencyMetric(models.TextChoices):
    LATENCY = "latency", "Latency"
    TTFT = "ttft", "Time to first token"


class DailyLatencyBucket(models.Model):
    """How many runs of a day fell in one logarithmic bucket of latency (or time to first
    token). Percentiles do not add up across days; histograms do, so a period's
    percentiles come from the sum of its days' histograms (see analytics.percentiles)."""

    day = models.DateField()
    metric = models.CharField(max_length=8, choices=LatencyMetric.choices)
    bucket = models.PositiveSmallIntegerField()
    runs = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "metric", "bucket"], name="daily_latency_bucket_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric} #{self.bucket}: {self.runs}"


class Dashboard(DailyStats):
    """The staff dashboard's entry in the Django admin (a proxy: no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"
