"""The panel's login, language switch and flash messages through `bytchat.asgi.application`,
the stack uvicorn serves (bytchat/middleware.py's hooks on the event loop, CSRF enforced),
not Django's test client, which builds its own handler with Django's middleware."""

from __future__ import annotations

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from accounts.tests.factories import PASSWORD

# Django's handler closes the request's connection when it starts and ends, as in
# production; a test transaction around the request would lose its connection.
pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = reverse("panel:login")


class Browser:
    """A visitor of the ASGI application, keeping cookies and sending the CSRF token."""

    def __init__(self) -> None:
        from bytchat.asgi import application

        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def get(self, path: str) -> httpx.Response:
        return async_to_sync(self._client.get)(path)

    def post(self, path: str, fields: dict) -> httpx.Response:
        token = self._client.cookies.get("csrftoken") or self.get(LOGIN).cookies["csrftoken"]
        return async_to_sync(self._client.post)(path, data={**fields, "csrfmiddlewaretoken": token})

    def log_in(self, user, **fields) -> httpx.Response:
        return self.post(LOGIN, {"email": user.email, "password": PASSWORD, **fields})


@pytest.fixture
def browser() -> Browser:
    return Browser()


def test_a_user_logs_in_lands_on_next_and_stays_logged_in(browser, user):
    response = browser.log_in(user, next="/app/profile/")
    assert response.status_code == 302 and response.headers["location"] == "/app/profile/"
    assert browser.get("/app/profile/").status_code == 200


def test_a_wrong_password_is_refused_on_the_form(browser, user):
    response = browser.post(LOGIN, {"email": user.email, "password": "nope"})
    assert response.status_code == 200 and "Correo o contraseña incorrectos." in response.text
    assert browser.get("/app/profile/").headers["location"] == f"{LOGIN}?next=/app/profile/"


def test_a_post_without_the_csrf_token_is_refused(browser, user):
    browser.get(LOGIN)
    response = async_to_sync(browser._client.post)(LOGIN, data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 403


def test_logging_out_ends_the_session(browser, user):
    browser.log_in(user)
    assert browser.post(reverse("panel:logout"), {}).status_code == 302
    assert browser.get(reverse("panel:dashboard")).status_code == 302


def test_visitors_can_switch_the_language_of_the_login_page(browser):
    assert "Iniciar sesión" in browser.get(LOGIN).text
    switch = browser.post(reverse("panel:language"), {"language": "en", "next": LOGIN})
    assert switch.status_code == 302 and switch.headers["location"] == LOGIN
    assert "Log in" in browser.get(LOGIN).text


def test_a_flash_message_is_shown_once_after_the_redirect(browser, user):
    browser.log_in(user)
    saved = browser.post(reverse("panel:profile"), {"full_name": "Alice A.", "language": "es"})
    assert saved.status_code == 302
    assert "Tu perfil se ha guardado." in browser.get(saved.headers["location"]).text
    assert "Tu perfil se ha guardado." not in browser.get(reverse("panel:profile")).text


def test_the_interface_follows_a_language_changed_in_the_profile(browser, user):
    browser.log_in(user)
    browser.post(reverse("panel:profile"), {"full_name": "", "language": "en"})
    html = browser.get(reverse("panel:dashboard")).text
    assert "Your bots" in html and 'lang="en"' in html
