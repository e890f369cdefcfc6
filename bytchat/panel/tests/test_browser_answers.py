"""Stop and resume in the panel, in Chromium: the Stop button while an answer streams, and
an answer that goes on through a dropped connection ("Reconectando…")."""

from __future__ import annotations

import contextlib
import re
import socket
import threading

import pytest

from accounts.tests.factories import make_user
from bots.tests.factories import make_bot
from bytchat.panel.tests.test_browser import _require_browser, browser_page, log_in, panel_server, screenshot
from chat.models import Message, MessageStatus
from chat.services.event_log import event_log_reset
from chat.tests.fakes.llm_servers import OPENAI_PIECES, FakeServer, OpenAIHandler

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the machine
    expect = None


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PROVIDER_TIMEOUT_SECONDS = 20
    settings.CHAT_ANSWER_HEARTBEAT_MS = 200
    event_log_reset()
    yield
    event_log_reset()


class CuttableProxy:
    """A TCP proxy on loopback between the browser and the server: `cut()` drops every open
    connection and refuses new ones until `restore()`, as a lost network would."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.down = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.open.update((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for end in (source, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.down = True
        with self.lock:
            for end in self.open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            self.open.clear()

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


def _bot(user, model_server, model_id: str):
    config = {"provider": "openai_compatible", "model_id": model_id, "base_url": f"{model_server.url}/v1"}
    return make_bot(owner=user, name_en="Refund helper", configs=[config])


def test_the_stop_button_ends_the_answer_and_keeps_what_was_written():
    _require_browser()
    user = make_user(email="sara@example.com")
    with FakeServer(OpenAIHandler) as model_server:
        bot = _bot(user, model_server, "stall-after-first")
        with panel_server() as base_url, browser_page(base_url) as page:
            log_in(page, "sara@example.com")
            page.goto(f"/app/bots/{bot.pk}/chat/")
            stop = page.get_by_role("button", name="Detener")
            expect(stop).to_be_hidden()
            page.get_by_label("Tu pregunta").fill("How long do refunds take?")
            page.keyboard.press("Enter")
            answer = page.locator(".message.assistant").last
            expect(answer.locator(".message-body")).to_have_text(OPENAI_PIECES[0].strip())
            expect(answer).to_have_class(re.compile(r"streaming"))
            stop.click()
            expect(answer).not_to_have_class(re.compile(r"streaming"))
            expect(answer.get_by_text("Has detenido esta respuesta.")).to_be_visible()
            expect(stop).to_be_hidden()
            expect(page.get_by_role("alert")).to_be_hidden()
            screenshot(page, "answers-stopped")
    message = Message.objects.get(conversation__user=user, role="assistant")
    assert message.status == MessageStatus.STOPPED
    assert message.content == OPENAI_PIECES[0]
    assert message.tokens_used > 0


def test_an_answer_goes_on_through_a_dropped_connection_and_the_page_resumes_it():
    _require_browser()
    user = make_user(email="ines@example.com")
    with FakeServer(OpenAIHandler) as model_server:
        bot = _bot(user, model_server, "hold-after-first")
        with panel_server() as base_url:
            proxy = CuttableProxy(int(base_url.rsplit(":", 1)[1]))
            try:
                with browser_page(f"http://127.0.0.1:{proxy.port}") as page:
                    log_in(page, "ines@example.com")
                    page.goto(f"/app/bots/{bot.pk}/chat/")
                    page.get_by_label("Tu pregunta").fill("How long do refunds take?")
                    page.keyboard.press("Enter")
                    answer = page.locator(".message.assistant").last
                    expect(answer.locator(".message-body")).to_have_text(OPENAI_PIECES[0].strip())
                    proxy.cut()  # the network goes away mid-answer
                    expect(answer.locator(".reconnecting")).to_have_text("Reconectando…")
                    model_server.release()  # the model goes on meanwhile
                    proxy.restore()
                    expect(answer).not_to_have_class(re.compile(r"streaming"))
                    expect(answer.locator(".message-body")).to_have_text("".join(OPENAI_PIECES))
                    expect(answer.locator(".reconnecting")).to_have_count(0)
                    expect(page.get_by_role("alert")).to_be_hidden()
                    screenshot(page, "answers-resumed")
            finally:
                proxy.close()
    message = Message.objects.get(conversation__user=user, role="assistant")
    assert message.status == MessageStatus.COMPLETE
    assert message.content == "".join(OPENAI_PIECES)
