"""Platform endpoints: the welcome document, liveness and readiness."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
def welcome(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "name": "Bytchat",
            "message": "Bienvenido a la API de Bytchat / Welcome to the Bytchat API",
            "version": settings.VERSION,
            "docs_url": request.build_absolute_uri("/docs/"),
        }
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: answers while the process runs; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _database_ready() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.exception("Readiness: the database does not answer")
        return False


def _redis_ready() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        logger.exception("Readiness: Redis does not answer")
        return False


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database, and Redis when configured, answer. 503 names the failure."""
    checks = {"database": _database_ready()}
    if settings.REDIS_URL:
        checks["redis"] = _redis_ready()
    failed = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not failed else "unavailable",
        "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
    }
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=503 if failed else 200)
