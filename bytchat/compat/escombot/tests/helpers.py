"""Builders for the ESCOMBOT API tests: the document's user, the mount's paths."""

from __future__ import annotations

from django.conf import settings
from django.test import Client

EMAIL = "test@example.com"
PASSWORD = "password123"

KNOWLEDGE = (
    "Constancias. Para obtener una constancia de estudios en ESCOM debes acceder al portal de "
    "servicios escolares, seleccionar la opción de constancias, llenar el formulario de solicitud, "
    "pagar la cuota correspondiente y recoger tu constancia en 2 a 3 días hábiles.\n\n"
    "Inscripción. La inscripción se realiza en línea durante el periodo publicado en el calendario."
)


def url(path: str) -> str:
    """A path of the ESCOMBOT mount, wherever settings put it."""
    return "/" + settings.COMPAT_ESCOMBOT_PREFIX + path


def login(client: Client, email: str = EMAIL, password: str = PASSWORD):
    return client.post(url("login"), {"email": email, "password": password}, content_type="application/json")


def create_chat(client: Client, title: str = "Mi primera pregunta") -> dict:
    response = client.post(url("chats"), {"title": title}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["chat"]
