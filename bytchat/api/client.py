"""Who is calling: the one notion of the client's address, for every surface."""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


def client_ip(request: HttpRequest | Request) -> str:
    """The client's address: REMOTE_ADDR, or behind NUM_PROXIES proxies (nginx) the
    X-Forwarded-For entry the nearest of them added. It is DRF's rule, so the login
    throttles and the DRF throttles count the same address."""
    return BaseThrottle().get_ident(request)
