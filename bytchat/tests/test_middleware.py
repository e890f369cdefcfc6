"""Django's middleware under ASGI (bytchat/middleware.py): through the application that
bytchat.asgi serves, hooks that do no I/O run on the event loop, and those that may write
still run in the request's sync thread."""

from __future__ import annotations

import asyncio
import threading
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from django.contrib.sessions import middleware as sessions
from django.core.exceptions import ImproperlyConfigured
from django.middleware import common, csrf, security

from accounts.tests.factories import PASSWORD
from bytchat.middleware import ASGIHandler, CsrfViewMiddleware

# The sync views run in the request's own thread, which sees only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = "/app/login/"
FORM = "application/x-www-form-urlencoded"


class Browser:
    """Requests straight into the ASGI application, keeping cookies."""

    def __init__(self) -> None:
        self.app = ASGIHandler()
        self.cookies = SimpleCookie()

    async def request(self, method: str, path: str, body: bytes = b"", content_type: str = FORM):
        headers = [(b"host", b"testserver"), (b"content-type", content_type.encode())]
        if self.cookies:
            cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in self.cookies.items())
            headers.append((b"cookie", cookie.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        incoming = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict] = []

        async def receive():
            if incoming:
                return incoming.pop(0)
            await asyncio.Event().wait()  # the client stays connected

        async def send(message):
            sent.append(message)

        await self.app(scope, receive, send)
        start = sent[0]
        response_headers = {}
        for name, value in start["headers"]:
            name = name.decode().lower()
            if name == "set-cookie":
                self.cookies.load(value.decode())
            response_headers[name] = value.decode()
        return start["status"], response_headers

    async def post_form(self, path: str, fields: dict, *, token: bool = True):
        if token:
            fields = {**fields, "csrfmiddlewaretoken": self.cookies["csrftoken"].value}
        return await self.request("POST", path, urlencode(fields).encode())


def spy_on(monkeypatch, cls, name: str) -> list[int]:
    """The threads `cls.name` runs in, from now on."""
    threads: list[int] = []
    original = getattr(cls, name)

    def spy(self, *args):
        threads.append(threading.get_ident())
        return original(self, *args)

    monkeypatch.setattr(cls, name, spy)
    return threads


def run(scenario):
    """Run a scenario on an event loop; returns the loop's thread and the outcome."""

    async def main():
        return threading.get_ident(), await scenario()

    return asyncio.run(main())


def test_hooks_that_do_no_io_run_on_the_event_loop(monkeypatch):
    hooks = {
        "security request": spy_on(monkeypatch, security.SecurityMiddleware, "process_request"),
        "session request": spy_on(monkeypatch, sessions.SessionMiddleware, "process_request"),
        "session response": spy_on(monkeypatch, sessions.SessionMiddleware, "process_response"),
        "common response": spy_on(monkeypatch, common.CommonMiddleware, "process_response"),
        "csrf view": spy_on(monkeypatch, csrf.CsrfViewMiddleware, "process_view"),
    }
    browser = Browser()
    loop_thread, (status, headers) = run(lambda: browser.request("GET", LOGIN))
    assert status == 200
    assert headers["x-frame-options"] == "DENY"
    assert "csrftoken" in browser.cookies
    for name, threads in hooks.items():
        assert threads == [loop_thread], name


def test_a_changed_session_is_saved_in_the_thread_and_holds(monkeypatch, user):
    saves = spy_on(monkeypatch, sessions.SessionMiddleware, "process_response")
    browser = Browser()

    async def log_in_then_open_the_dashboard():
        await browser.request("GET", LOGIN)
        login = await browser.post_form(LOGIN, {"email": user.email, "password": PASSWORD})
        dashboard = await browser.request("GET", "/app/")
        return login, dashboard

    loop_thread, (login, dashboard) = run(log_in_then_open_the_dashboard)
    assert login[0] == 302 and "sessionid" in browser.cookies
    assert dashboard[0] == 200
    assert saves[0] == loop_thread  # the login page: nothing to save
    assert saves[1] != loop_thread  # the login changed the session


def test_csrf_is_enforced_and_an_upload_is_checked_in_the_thread(monkeypatch, user):
    checks = spy_on(monkeypatch, csrf.CsrfViewMiddleware, "process_view")
    browser = Browser()

    async def post_without_a_token():
        await browser.request("GET", LOGIN)
        form = await browser.post_form(LOGIN, {"email": user.email, "password": PASSWORD}, token=False)
        upload = await browser.request(
            "POST",
            LOGIN,
            b'--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nhi\r\n--b--\r\n',
            content_type="multipart/form-data; boundary=b",
        )
        return form, upload

    loop_thread, (form, upload) = run(post_without_a_token)
    assert form[0] == 403 and upload[0] == 403
    assert checks[1] == loop_thread and checks[2] != loop_thread


def test_under_wsgi_django_runs_its_own_middleware():
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    names = {type(middleware).__module__ for middleware in _chain(handler._middleware_chain)}
    assert "bytchat.middleware" not in names


def _chain(handler):
    while hasattr(handler, "get_response"):
        yield handler
        handler = handler.get_response


def test_the_csrf_middleware_refuses_tokens_in_the_session(settings):
    settings.CSRF_USE_SESSIONS = True
    with pytest.raises(ImproperlyConfigured):
        CsrfViewMiddleware(lambda request: None)


def test_the_settings_keep_djangos_names_once_the_asgi_stack_is_built(settings):
    names = list(settings.MIDDLEWARE)
    handler = ASGIHandler()
    assert names == settings.MIDDLEWARE
    layer, modules = handler._middleware_chain, set()
    while layer is not None:  # each middleware, under the wrapper Django puts around it
        layer = getattr(layer, "__wrapped__", layer)
        modules.add(type(layer).__module__)
        layer = getattr(layer, "get_response", None)
    assert "bytchat.middleware" in modules
