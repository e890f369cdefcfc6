"""Background work for analytics: the daily rollups, run by Celery beat."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError


@shared_task(
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=3,
)
def refresh_daily_rollups() -> int:
    """Recompute the last few closed days and any day not rolled up yet. Idempotent, so
    a late or repeated run does no harm. Returns how many days were written."""
    from analytics.services import rollup_refresh

    return len(rollup_refresh())
