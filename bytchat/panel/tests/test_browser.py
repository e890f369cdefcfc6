"""The panel in a real browser: headless Chromium (Debian's package) driven by Playwright,
against the ASGI app served by uvicorn, so answers really stream.

Skipped where Chromium or Playwright is missing, unless BYTCHAT_REQUIRE_BROWSER is set
(.ci/run sets it after installing Chromium), where a missing browser is a failure.
Each scenario runs on a desktop (1280x800) and on a phone (390x844, mobile and touch), where
the sidebar is a menu and the conversation list a drawer, and leaves screenshots in
test-artifacts/ named after the viewport.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application

from accounts.models import User
from accounts.tests.factories import PASSWORD, make_user
from bots.tests.factories import make_bot
from chat.models import Conversation, Feedback, Message
from chat.tests.fakes.llm_servers import FakeServer, OpenAIHandler

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000

# Browser context options per viewport, shared with test_responsive.py.
VIEWPORTS = {
    "phone-360": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
    "phone-390": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop-1280": {"viewport": {"width": 1280, "height": 800}},
}

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None


def _require_browser() -> None:
    missing = []
    if sync_playwright is None:
        missing.append("playwright (pip install -r requirements-dev.txt)")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        message = "the browser tests need " + " and ".join(missing)
        if os.environ.get("BYTCHAT_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@contextlib.contextmanager
def panel_server():
    """The ASGI app (with static files, which DEBUG=False does not route) on a free port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = ASGIStaticFilesHandler(get_asgi_application())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the ASGI server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(params=["desktop-1280", "phone-390"])
def size(request) -> str:
    """Every scenario runs at both sizes: a desktop and a phone (mobile, touch)."""
    return request.param


@contextlib.contextmanager
def browser_page(base_url: str, size: str = "desktop-1280", **options):
    """A fresh page at one of VIEWPORTS. Playwright's sync API runs an event loop in this
    thread, so tests touch the database only before and after this block."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base_url, locale="es-ES", **VIEWPORTS[size], **options)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def show_navigation(page) -> None:
    """Makes the main navigation visible: on a phone it is a menu behind a button."""
    sidebar = page.locator("#sidebar")
    if not sidebar.is_visible():
        toggle = page.locator("[data-menu-toggle]")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(sidebar).to_be_visible()


def show_conversations(page) -> None:
    """Makes the conversation list visible: on a phone it is a drawer behind a button."""
    drawer = page.locator("#conversations")
    if not drawer.is_visible():
        toggle = page.locator("[data-drawer-toggle]")
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(drawer).to_be_visible()


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/app/login/")
    page.get_by_label("Correo electrónico").fill(email)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page).to_have_url(re.compile(r"/app/$"))


HANDBOOK = (
    "Refund policy. Refunds are paid within 30 days of the request. "
    "Customers keep their receipt as proof of purchase.\n\n"
    "Shipping. Orders leave the warehouse within two working days."
)


def test_register_build_a_bot_train_it_and_chat_with_streamed_cited_answers(settings, size):
    """The bot answers through an OpenAI-compatible fake server that sends its first piece
    and holds the rest until the test releases it: what the page shows in between proves
    the answer streams in."""
    _require_browser()
    # The model server is the user's own, on loopback: the operator allows its host.
    settings.MODEL_BASE_URL_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.PROVIDER_TIMEOUT_SECONDS = 20
    email = "nora@example.com"
    with (
        FakeServer(OpenAIHandler) as model_server,
        panel_server() as base_url,
        browser_page(base_url, size) as page,
    ):
        # Register, then log in.
        page.goto("/app/register/")
        page.get_by_label("Nombre completo").fill("Nora Díaz")
        page.get_by_label("Correo electrónico").fill(email)
        page.get_by_label("Contraseña", exact=True).fill("a-long-enough-passphrase")
        page.get_by_label("Repite la contraseña").fill("a-long-enough-passphrase")
        page.get_by_role("button", name="Crear la cuenta").click()
        expect(page.get_by_text("Tu cuenta está lista.")).to_be_visible()
        log_in(page, email, "a-long-enough-passphrase")

        # Create a bot.
        show_navigation(page)
        page.get_by_role("navigation").get_by_role("link", name="Nuevo bot", exact=True).click()
        page.get_by_label("Nombre", exact=True).fill("Refund helper")
        page.get_by_label("Idioma del bot").select_option("en")
        page.get_by_label("Instrucciones del sistema").fill("Answer from the handbook.")
        page.get_by_role("button", name="Crear el bot").click()
        expect(page.get_by_role("heading", name="Refund helper", level=1)).to_be_visible()

        # The model toolbox: add the model server, then remove the offline model.
        page.get_by_label("Proveedor").select_option("openai_compatible")
        page.get_by_label("Modelo", exact=True).fill("hold-after-first")
        page.get_by_label("URL base (servidores compatibles con OpenAI)").fill(f"{model_server.url}/v1")
        page.get_by_role("button", name="Añadir modelo").click()
        models = page.locator(".model-item")
        expect(models).to_have_count(2)
        page.get_by_role("button", name="Quitar modelo: local / local").click()
        expect(models).to_have_count(1)
        expect(models.first).to_contain_text("openai_compatible / hold-after-first")

        # Upload a document by dropping it on the drop zone, and watch it become ready.
        page.evaluate(
            """(text) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([text], "handbook.txt", { type: "text/plain" }));
                const zone = document.getElementById("dropzone");
                zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
                zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }""",
            HANDBOOK,
        )
        document = page.locator(".document-item", has_text="handbook.txt")
        expect(document).to_have_attribute("data-status", "ready")
        expect(document.locator(".status")).to_contain_text("Listo")
        screenshot(page, f"scenario1-{size}-editor")

        # Ask a question and watch the answer stream in, with a citation.
        page.get_by_role("link", name="Chatear con este bot").click()
        page.get_by_label("Tu pregunta").fill("How long do refunds take?")
        page.keyboard.press("Enter")
        answer = page.locator(".message.assistant").last
        # The first piece is on the page while the model still holds the rest.
        expect(answer.locator(".message-body")).to_have_text("Refunds take")
        expect(answer).to_have_class(re.compile(r"streaming"))
        model_server.release()
        expect(answer).not_to_have_class(re.compile(r"streaming"))
        expect(answer.locator(".message-body")).to_have_text("Refunds take 30 days [1].")
        expect(answer.locator(".cite-ref")).to_have_text("[1]")
        expect(answer.locator(".source-link").first).to_contain_text("[1] handbook.txt, página 1")
        expect(page).to_have_url(re.compile(r"/app/conversations/[0-9a-f-]{36}/$"))

        # Thumbs up, then reload and find the history.
        answer.get_by_role("button", name="Útil", exact=True).click()
        expect(answer.get_by_text("Gracias por tu opinión.")).to_be_visible()
        page.reload()
        expect(page.locator(".message.user")).to_have_text(re.compile("How long do refunds take?"))
        history_answer = page.locator(".message.assistant")
        expect(history_answer.locator(".message-body")).to_have_text("Refunds take 30 days [1].")
        expect(history_answer.locator(".source-link")).to_contain_text("handbook.txt")
        expect(history_answer.get_by_role("button", name="Útil", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        screenshot(page, f"scenario1-{size}-chat")

    user = User.objects.get(email=email)
    message = Message.objects.get(conversation__user=user, role="assistant")
    assert Feedback.objects.get(message=message).rating == "thumbs_up"


def test_another_users_conversation_url_is_a_not_found_page(size):
    _require_browser()
    owner = make_user(email="owner@example.com")
    make_user(email="intruder@example.com")
    bot = make_bot(owner=owner, name_en="Private helper")
    conversation = Conversation.objects.create(user=owner, bot=bot, title="Salary questions")
    with panel_server() as base_url, browser_page(base_url, size) as page:
        log_in(page, "intruder@example.com")
        response = page.goto(f"/app/conversations/{conversation.pk}/")
        assert response.status == 404
        expect(page.get_by_role("heading", name="No encontrado")).to_be_visible()
        expect(page.get_by_text("Salary questions")).to_have_count(0)
        screenshot(page, f"scenario2-{size}-not-found")


def test_switching_the_language_to_english_changes_the_interface(size):
    _require_browser()
    make_user(email="lena@example.com", full_name="Lena")
    with panel_server() as base_url, browser_page(base_url, size) as page:
        log_in(page, "lena@example.com")
        expect(page.get_by_role("heading", name="Tus bots")).to_be_visible()
        show_navigation(page)
        page.get_by_role("link", name="Perfil").click()
        page.get_by_label("Idioma").select_option("en")
        page.get_by_role("button", name="Guardar").click()
        expect(page.get_by_text("Your profile has been saved.")).to_be_visible()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        show_navigation(page)
        page.get_by_role("link", name="Dashboard").click()
        expect(page.get_by_role("heading", name="Your bots")).to_be_visible()
        expect(page.get_by_role("main").get_by_role("link", name="New bot", exact=True)).to_be_visible()
        screenshot(page, f"scenario3-{size}-english")

        # At a phone's width the navigation folds into a menu that opens from the keyboard.
        page.set_viewport_size({"width": 390, "height": 800})
        navigation = page.get_by_role("navigation", name="Main navigation")
        expect(navigation).to_be_hidden()
        page.get_by_role("button", name="Menu").focus()
        page.keyboard.press("Enter")
        expect(navigation.get_by_role("link", name="Profile")).to_be_visible()
        screenshot(page, f"scenario3-{size}-phone-menu")
        # Escape closes the menu and gives the focus back to its button.
        page.keyboard.press("Escape")
        expect(navigation).to_be_hidden()
        expect(page.get_by_role("button", name="Menu")).to_be_focused()
        expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")
    assert User.objects.get(email="lena@example.com").language == "en"


def test_markdown_is_safe_limits_keep_the_question_and_eviction_is_confirmed(size):
    _require_browser()
    from accounts.models import Plan

    plan = Plan.objects.create(name="Small", max_conversations_per_bot=1, monthly_token_quota=0)
    user = make_user(email="maya@example.com", plan=plan)
    bot = make_bot(owner=user, name_en="Tiny helper")
    old = Conversation.objects.create(user=user, bot=bot, title="Old chat", message_count=1)
    old.messages.create(
        role="assistant",
        content='<img src=x onerror="window.__owned = true"> **bold** and `code`\n\n- one\n- two',
    )
    with panel_server() as base_url, browser_page(base_url, size) as page:
        log_in(page, "maya@example.com")
        page.goto(f"/app/conversations/{old.pk}/")
        body = page.locator(".message.assistant .message-body")
        expect(body.locator("strong")).to_have_text("bold")
        expect(body.locator("code")).to_have_text("code")
        expect(body.locator("li")).to_have_count(2)
        expect(body.locator("img")).to_have_count(0)
        expect(body).to_contain_text('<img src=x onerror="window.__owned = true">')
        assert page.evaluate("window.__owned") is None

        # The plan's token quota stops the answer: the page says so, the question stays.
        question = page.get_by_label("Tu pregunta")
        question.fill("Is this question kept?")
        page.get_by_role("button", name="Enviar").click()
        expect(page.get_by_role("alert")).to_have_text("Has agotado la cuota mensual de tokens de tu plan.")
        expect(question).to_have_value("Is this question kept?")
        screenshot(page, f"scenario4-{size}-quota")

        # One conversation per bot: a new one asks before deleting the oldest.
        dialogs = []

        def accept(dialog):
            dialogs.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)
        show_conversations(page)
        page.get_by_role("button", name="Nueva conversación").click()
        expect(page).not_to_have_url(re.compile(str(old.pk)))
        expect(page).to_have_url(re.compile(r"/app/conversations/[0-9a-f-]{36}/$"))
        assert len(dialogs) == 1 and "«Old chat»" in dialogs[0]
    assert not Conversation.objects.filter(pk=old.pk).exists()
    assert Conversation.objects.filter(user=user).count() == 1


def test_document_metadata_at_upload_and_edited_later_and_the_bots_default_filter():
    _require_browser()
    from bots.models import Bot, Document
    from bots.tests.factories import make_indexed_document

    owner = make_user(email="tagger@example.com")
    bot = make_bot(owner=owner, name_en="Loan helper", language="en")
    make_indexed_document(bot=bot, text="DSCR matrix.", name="dscr.md", metadata={"program": "DSCR"})
    with panel_server() as base_url, browser_page(base_url) as page:
        log_in(page, "tagger@example.com")
        page.goto(f"/app/bots/{bot.pk}/")
        existing = page.locator(".document-item", has_text="dscr.md")
        expect(existing.locator("summary")).to_contain_text("program: DSCR")

        # Upload with metadata for the next uploads.
        page.get_by_label("Metadatos para las próximas subidas (opcional)").fill(
            '{"program": "Full Doc", "year": 2024}'
        )
        page.evaluate(
            """() => {
                const transfer = new DataTransfer();
                transfer.items.add(new File(["Full Doc matrix."], "full.txt", { type: "text/plain" }));
                const zone = document.getElementById("dropzone");
                zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }"""
        )
        uploaded = page.locator(".document-item", has_text="full.txt")
        expect(uploaded.locator("summary")).to_contain_text("program: Full Doc · year: 2024")
        expect(uploaded).to_have_attribute("data-status", "ready")

        # Edit the first document's metadata; invalid JSON is refused on the page.
        existing.locator("summary").click()
        editor = existing.get_by_label("Metadatos: dscr.md")
        editor.fill("{oops")
        existing.get_by_role("button", name="Guardar metadatos").click()
        expect(existing.get_by_role("alert")).to_contain_text("objeto JSON")
        editor.fill('{"program": "DSCR", "tags": ["rental", "investor"]}')
        existing.get_by_role("button", name="Guardar metadatos").click()
        expect(page.locator(".document-item", has_text="dscr.md").locator("summary")).to_contain_text(
            "tags: rental, investor"
        )

        # The bot's default filter: an unknown key is refused, a known one is saved.
        page.get_by_label("Filtro de conocimiento por defecto").fill('{"region": "west"}')
        page.get_by_role("button", name="Guardar", exact=True).click()
        expect(page.get_by_text("Unknown metadata key 'region'")).to_be_visible()
        page.get_by_label("Filtro de conocimiento por defecto").fill('{"program": "DSCR"}')
        page.get_by_role("button", name="Guardar", exact=True).click()
        expect(page.get_by_label("Filtro de conocimiento por defecto")).to_have_value('{"program": "DSCR"}')
        screenshot(page, "metadata-editor")

        # The chat searches only what the default filter selects; sources show the tags.
        page.get_by_role("link", name="Chatear con este bot").click()
        page.get_by_label("Tu pregunta").fill("Which matrix?")
        page.keyboard.press("Enter")
        answer = page.locator(".message.assistant").last
        expect(answer).not_to_have_class(re.compile(r"streaming"))
        expect(answer.locator(".source-link")).to_have_count(1)
        expect(answer.locator(".source-link")).to_have_text("[1] dscr.md, página 1 · DSCR · rental, investor")

    assert Document.objects.get(bot=bot, original_name="dscr.md").metadata == {
        "program": "DSCR",
        "tags": ["rental", "investor"],
    }
    assert Document.objects.get(bot=bot, original_name="full.txt").metadata == {
        "program": "Full Doc",
        "year": 2024,
    }
    assert Bot.objects.get(pk=bot.pk).default_filter == {"program": "DSCR"}
