"""Every panel page on phones and desktops, with realistic long content: no horizontal
scrolling at 360x740 and 390x844 (mobile, touch) and at 1280x800, in Debian's
Chromium. Screenshots of each page at each size go to test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accounts.tests.factories import make_user
from bots.models import Category, Document
from bots.tests.factories import make_bot
from chat.models import Conversation

from .test_browser import (
    VIEWPORTS,
    _require_browser,
    browser_page,
    expect,
    log_in,
    panel_server,
    screenshot,
    show_conversations,
)

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SERIOUS = """(async () => {
  const result = await axe.run(document, { resultTypes: ['violations'] });
  return result.violations
    .filter((violation) => ['serious', 'critical'].includes(violation.impact))
    .map((violation) => `${violation.id}: ${violation.nodes.slice(0, 3).map((node) => node.target.join(' ')
      + ' ' + node.failureSummary.replace(/\\s+/g, ' ').slice(0, 160)).join(' | ')}`);
})()"""

# The page's background, 0 (black) to 1 (white): the colour scheme really switched.
BACKGROUND_LIGHTNESS = """(() => {
  const [r, g, b] = getComputedStyle(document.documentElement).backgroundColor.match(/\\d+/g).map(Number);
  return (r + g + b) / 765;
})()"""

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONG_TITLE = "Reembolsos de pedidos internacionales con devolución parcial y cambio de talla " * 2
LONG_WORD = "Supercalifragilisticexpialidocious" * 4
LONG_URL = "https://docs.example.com/handbook/" + "very-long-section-name/" * 8 + "refunds.html?lang=es&ref=x"
LONG_FILE = "Manual_de_procedimientos_de_reembolsos_y_devoluciones_internacionales_2026_version_final_v12.pdf"
ANSWER = (
    "Los reembolsos se pagan en 30 días [1]. Consulta " + LONG_URL + " para los detalles [2].\n\n"
    "```\n"
    'curl -X POST https://api.example.com/v1/refunds --data \'{"order": "A-000000000001", '
    '"amount": 1999, "currency": "EUR", "reason": "' + "x" * 120 + "\"}'\n"
    "```\n\n"
    "Palabra larga: " + LONG_WORD
)


def long_content():
    """A user whose pages hold everything that used to push the layout wider: long bot
    names, conversation titles, file names, base URLs, URLs and code in answers."""
    user = make_user(
        email="someone.with.a.rather.long.address.for.testing@example-company.com", full_name=LONG_TITLE
    )
    bot = make_bot(
        owner=user,
        name_es=LONG_WORD,
        description_es="Responde sobre " + LONG_URL,
        configs=[
            {"provider": "local", "model_id": "local"},
            {"provider": "openai_compatible", "model_id": LONG_WORD, "base_url": LONG_URL},
        ],
    )
    for name in (LONG_FILE, LONG_WORD + ".txt"):
        Document.objects.create(
            bot=bot,
            uploaded_by=user,
            file=f"documents/{name}",
            original_name=name,
            content_type="text/plain",
            size=10,
            sha256="0" * 64,
            status="ready",
        )
    document = bot.documents.first()
    conversation = None
    for number in range(3):
        conversation = Conversation.objects.create(
            user=user, bot=bot, title=f"{number} {LONG_TITLE}", message_count=2
        )
        conversation.messages.create(role="user", content="¿Cuánto tardan? " + LONG_URL + " " + LONG_WORD)
        answer = conversation.messages.create(role="assistant", content=ANSWER)
        answer.citations.create(
            index=1, document=document, source_name=LONG_FILE, page_numbers=[1, 2], snippet=LONG_URL
        )
        answer.citations.create(index=2, source_name=LONG_URL, snippet=LONG_WORD)
    return user, bot, conversation


def assert_fits(page, width: int, name: str) -> None:
    """No horizontal scrolling, and axe-core finds nothing serious or critical."""
    page.wait_for_load_state("load")
    screenshot(page, name)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name}: the page is {scroll_width} px wide in a {width} px viewport"
    assert_no_serious_violations(page, name)


def assert_no_serious_violations(page, name: str) -> None:
    """axe-core (vendored from the npm registry, see vendor/) scans the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    violations = page.evaluate(AXE_SERIOUS)
    assert violations == [], f"{name}: axe-core found {violations}"


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_every_panel_page_fits_the_screen_and_passes_axe(size, scheme):
    """Each page in the light and the dark colour scheme: axe's contrast rules hold in both."""
    _require_browser()
    user, bot, conversation = long_content()
    width = VIEWPORTS[size]["viewport"]["width"]
    label = f"{size}-{scheme}"
    with panel_server() as base_url, browser_page(base_url, size, color_scheme=scheme) as page:
        for path, name in [
            ("/app/login/", "login"),
            ("/app/register/", "register"),
            ("/app/password/forgot/", "password-forgot"),
            ("/app/password/reset/bad/bad-token/", "password-reset"),
        ]:
            page.goto(path)
            assert_fits(page, width, f"{label}-{name}")
            background = page.evaluate(BACKGROUND_LIGHTNESS)
            assert (background < 0.2) if scheme == "dark" else (background > 0.8), (name, background)

        log_in(page, user.email)
        expect(page.get_by_role("heading", name="Tus bots")).to_be_visible()
        assert_fits(page, width, f"{label}-dashboard")

        page.goto("/app/profile/")
        assert_fits(page, width, f"{label}-profile")
        page.goto("/app/bots/new/")
        assert_fits(page, width, f"{label}-bot-create")

        page.goto(f"/app/bots/{bot.pk}/")
        expect(page.locator(".model-item")).to_have_count(2)
        expect(page.locator(".document-item")).to_have_count(2)
        assert_fits(page, width, f"{label}-bot-editor")

        page.goto(f"/app/conversations/{conversation.pk}/")
        expect(page.locator(".message.assistant .source-link")).to_have_count(2)
        expect(page.locator(".message.assistant pre")).to_have_count(1)
        assert_fits(page, width, f"{label}-chat")
        # The code block scrolls inside itself; the page does not.
        assert page.evaluate(
            "(() => { const pre = document.querySelector('.message-body pre'); return pre.scrollWidth > pre.clientWidth; })()"
        )
        # Long titles are cut short on screen, with the full title one hover away.
        link = page.locator(".conversation-item a").first
        assert LONG_TITLE.strip() in link.get_attribute("title")
        if width < 900:
            # On a phone the conversation list is a drawer: closed, it leaves the chat the width.
            conversations = page.get_by_role("complementary", name="Conversaciones")
            expect(conversations).to_be_hidden()
            toggle = page.get_by_role("button", name="Conversaciones", exact=True)
            toggle.click()
            expect(toggle).to_have_attribute("aria-expanded", "true")
            expect(conversations.get_by_role("button", name="Nueva conversación")).to_be_visible()
            assert_fits(page, width, f"{label}-chat-drawer")
            page.keyboard.press("Escape")
            expect(conversations).to_be_hidden()
            expect(toggle).to_be_focused()
            # A tap on the shaded page beside the drawer closes it and does nothing else.
            toggle.click()
            expect(conversations).to_be_visible()
            page.mouse.click(width - 10, 400)
            expect(conversations).to_be_hidden()
            expect(toggle).to_have_attribute("aria-expanded", "false")
            expect(page).to_have_url(re.compile(f"/app/conversations/{conversation.pk}/$"))
            # So does the focus leaving it: Tab past its last control.
            toggle.click()
            expect(conversations).to_be_visible()
            last = conversations.locator("button, a, summary").last
            last.focus()
            page.keyboard.press("Tab")
            expect(conversations).to_be_hidden()


MARKDOWN = (
    "# " + LONG_WORD + "\n\n"
    "- " + LONG_URL + "\n"
    "- `" + LONG_WORD + LONG_WORD + "`\n\n"
    "1. **" + LONG_WORD + "**\n\n"
    "> " + LONG_URL + "\n\n"
    "| a | b |\n|---|---|\n| " + LONG_WORD + " | " + LONG_URL + " |\n"
)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_the_rest_of_the_long_content_fits_too(size, scheme):
    """What the first test leaves out: an unknown address (signed out), the "link sent"
    page, public agents in a long category, a document that failed with a long reason,
    suggestion chips naming long files, Markdown headings, lists and inline code of long
    words, the feedback comment box, and the archived conversations opened in the drawer."""
    _require_browser()
    user = make_user(email="long@example.com", full_name=LONG_TITLE)
    owner = make_user(email="agents@example.com")
    # A category name holds 100 characters at most: a long unbroken one of that length.
    category = Category.objects.create(name_es=LONG_WORD[:100], name_en=LONG_WORD[:100], icon="📚")
    make_bot(owner=owner, name_es=LONG_WORD, description_es=LONG_URL, is_public=True, category=category)
    bot = make_bot(owner=user, name_es=LONG_WORD)
    for name, status, error in (
        (LONG_FILE, "ready", ""),
        ("x" + LONG_FILE, "failed", "No se pudo leer " + LONG_URL + " " + LONG_WORD),
    ):
        Document.objects.create(
            bot=bot,
            uploaded_by=user,
            file=f"documents/{name}",
            original_name=name,
            content_type="text/plain",
            size=10,
            sha256="0" * 64,
            status=status,
            error_message=error,
        )
    conversation = Conversation.objects.create(user=user, bot=bot, title=LONG_TITLE, message_count=2)
    conversation.messages.create(role="user", content=LONG_URL)
    conversation.messages.create(role="assistant", content=MARKDOWN)
    for number in range(2):
        Conversation.objects.create(user=user, bot=bot, title=f"{number} {LONG_WORD}", archived=True)
    width = VIEWPORTS[size]["viewport"]["width"]
    label = f"{size}-{scheme}"
    phone = VIEWPORTS[size].get("has_touch", False)

    def check(page, name: str) -> None:
        assert_fits(page, width, f"{label}-{name}")
        if phone:
            assert_touch_friendly(page, f"{label}-{name}")

    with panel_server() as base_url, browser_page(base_url, size, color_scheme=scheme) as page:
        assert page.goto("/app/nowhere/").status == 404
        expect(page.get_by_role("heading", name="No encontrado")).to_be_visible()
        check(page, "not-found")
        page.goto("/app/password/forgot/")
        page.get_by_label("Correo electrónico").fill(LONG_WORD + "@example.com")
        page.get_by_role("button", name="Enviar el enlace").click()
        expect(page.get_by_role("heading", name="Revisa tu correo")).to_be_visible()
        check(page, "forgot-sent")
        log_in(page, user.email)
        expect(page.get_by_role("heading", name=LONG_WORD, exact=True).first).to_be_visible()
        check(page, "dashboard-agents")
        page.goto(f"/app/bots/{bot.pk}/")
        expect(page.locator(".document-item[data-status=failed]")).to_contain_text("No se pudo leer")
        check(page, "editor-failed-document")
        page.goto(f"/app/bots/{bot.pk}/chat/")
        expect(page.locator(".chip")).to_have_count(2)
        check(page, "new-chat-suggestions")
        page.goto(f"/app/conversations/{conversation.pk}/")
        answer = page.locator(".message.assistant")
        expect(answer.locator("h1, h2, h3")).to_have_count(1)
        answer.get_by_role("button", name="Útil", exact=True).click()
        expect(answer.get_by_label("Comentario (opcional)")).to_be_visible()
        check(page, "markdown-feedback")
        show_conversations(page)
        page.locator("#conversations details summary").click()
        expect(page.locator("#conversations details .conversation-item")).to_have_count(2)
        check(page, "archived-conversations")


# Controls a finger must hit. Links inside running text are exempt (WCAG 2.5.8's inline
# exception); everything else is at least 44 x 44 CSS pixels on a phone.
SMALL_TARGETS = """(() => {
  const selector = 'button, select, textarea, summary, input:not([type=hidden]):not(.visually-hidden-input),'
    + ' a.button, label.button, .sidebar a, .conversation-item a, a.brand';
  return [...document.querySelectorAll(selector)]
    .filter((node) => node.getClientRects().length && getComputedStyle(node).visibility !== 'hidden')
    .map((node) => [node, node.getBoundingClientRect()])
    .filter(([, box]) => box.width < 44 || box.height < 44)
    .map(([node, box]) => `${node.tagName.toLowerCase()}.${node.className} "${(node.getAttribute('aria-label')
      || node.textContent).trim().slice(0, 30)}" ${Math.round(box.width)}x${Math.round(box.height)}`);
})()"""
SMALL_FONTS = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter((node) => parseFloat(getComputedStyle(node).fontSize) < 16).map((node) => node.id || node.name)"""


def assert_touch_friendly(page, name: str) -> None:
    page.wait_for_load_state("load")
    assert page.evaluate(SMALL_TARGETS) == [], f"{name}: targets under 44 px"
    assert page.evaluate(SMALL_FONTS) == [], f"{name}: inputs under 16 px zoom the page when focused"


@pytest.mark.parametrize("size", ["phone-360", "phone-390"])
def test_on_a_phone_targets_are_large_inputs_do_not_zoom_and_the_question_box_stays_visible(size):
    _require_browser()
    user, bot, conversation = long_content()
    with panel_server() as base_url, browser_page(base_url, size) as page:
        for path in ["/app/login/", "/app/register/", "/app/password/forgot/"]:
            page.goto(path)
            assert_touch_friendly(page, path)
        log_in(page, user.email)
        expect(page.get_by_role("heading", name="Tus bots")).to_be_visible()
        page.get_by_role("button", name="Menú").click()
        assert_touch_friendly(page, "dashboard with the menu open")
        for path in ["/app/profile/", "/app/bots/new/", f"/app/bots/{bot.pk}/"]:
            page.goto(path)
            assert_touch_friendly(page, path)
        expect(page.locator(".document-item")).to_have_count(2)
        assert_touch_friendly(page, "bot editor with its lists")

        page.goto(f"/app/conversations/{conversation.pk}/")
        expect(page.locator(".message.assistant .source-link")).to_have_count(2)
        assert_touch_friendly(page, "chat")
        page.get_by_role("button", name="Conversaciones", exact=True).click()
        assert_touch_friendly(page, "chat with the drawer open")
        page.keyboard.press("Escape")

        # The on-screen keyboard takes half the screen: the question box stays in sight.
        question = page.get_by_label("Tu pregunta")
        question.focus()
        viewport = page.viewport_size
        page.set_viewport_size({"width": viewport["width"], "height": viewport["height"] // 2})
        page.mouse.wheel(0, -2000)
        box = question.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] // 2, box
        screenshot(page, f"{size}-chat-keyboard")


FOCUS_IS_VISIBLE = """(() => {
  const node = document.activeElement;
  if (node === document.body) return ['body', true];  // past the last stop, in the browser's own UI
  const shown = (style) => (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
  const target = node.classList.contains('visually-hidden-input') ? node.parentElement : node;
  return [node.id || node.className || node.tagName, shown(getComputedStyle(target))];
})()"""

# Records, for each change to an answer's text, whether the live region was marked busy:
# a screen reader then reads the answer once it is complete, not token by token.
WATCH_LIVE_REGION = """(() => {
  window.__liveChanges = [];
  const region = document.getElementById('messages');
  new MutationObserver((records) => {
    for (const record of records) {
      const answer = (record.target.nodeType === 1 ? record.target : record.target.parentElement).closest('.message.assistant .message-body');
      if (answer) window.__liveChanges.push(region.getAttribute('aria-busy'));
    }
  }).observe(region, { subtree: true, childList: true, characterData: true });
})()"""


JUMP_LABEL = "Ir al inicio de la última respuesta"
# Is the focus on the latest answer (the one just streamed), with its start on screen and
# a visible focus ring?
FOCUS_ON_LATEST_ANSWER = """(() => {
  const answers = document.querySelectorAll('.message.assistant');
  const latest = answers[answers.length - 1];
  const top = latest.getBoundingClientRect().top;
  return [answers.length === 2, document.activeElement === latest,
          top >= 0 && top < window.innerHeight, getComputedStyle(latest).boxShadow !== 'none'];
})()"""


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_keyboard_and_screen_reader_use_of_the_chat(size):
    _require_browser()
    user, _bot, conversation = long_content()
    with panel_server() as base_url, browser_page(base_url, size, reduced_motion="reduce") as page:
        log_in(page, user.email)
        expect(page.get_by_role("heading", name="Tus bots")).to_be_visible()
        page.goto(f"/app/conversations/{conversation.pk}/")
        expect(page.locator(".message.assistant .source-link")).to_have_count(2)

        # Every stop of the keyboard shows where the focus is.
        for _ in range(25):
            page.keyboard.press("Tab")
            name, shown = page.evaluate(FOCUS_IS_VISIBLE)
            assert shown, f"no visible focus on {name}"

        # The answer is announced once, when complete; the focus returns to the question box.
        page.evaluate(WATCH_LIVE_REGION)
        messages = page.locator("#messages")
        expect(messages).to_have_attribute("aria-live", "polite")
        question = page.get_by_label("Tu pregunta")
        question.fill("¿Y los envíos?")
        page.get_by_role("button", name="Enviar").click()
        expect(page.locator(".message.assistant")).to_have_count(2)
        expect(page.locator(".message.assistant").last).not_to_have_class(re.compile("streaming"))
        expect(question).to_be_focused()
        expect(messages).to_have_attribute("aria-busy", "false")
        # Sending did not zoom the page.
        assert page.evaluate("window.visualViewport.scale") == 1
        changes = page.evaluate("window.__liveChanges")
        assert changes and set(changes) == {"true"}, changes

        # On request the focus moves to the start of the new answer: the shortcut, then the button.
        jump = page.get_by_role("button", name=f"{JUMP_LABEL} (Alt+Shift+J)", exact=True)
        expect(jump).to_be_visible()
        expect(jump).to_have_attribute("title", f"{JUMP_LABEL} (Alt+Shift+J)")
        expect(jump).to_have_attribute("aria-keyshortcuts", "Alt+Shift+J")
        page.evaluate("window.scrollTo(0, 0)")
        page.keyboard.press("Alt+Shift+J")
        assert page.evaluate(FOCUS_ON_LATEST_ANSWER) == [True, True, True, True]
        question.focus()
        jump.click()
        assert page.evaluate(FOCUS_ON_LATEST_ANSWER) == [True, True, True, True]
        assert_no_serious_violations(page, f"{size}-chat-answered")

        # A chat with no answer yet has nothing to go to: no button, the shortcut does nothing.
        page.goto(f"/app/bots/{conversation.bot_id}/chat/")
        expect(page.get_by_label("Tu pregunta")).to_be_visible()
        expect(page.locator("#jump-to-answer")).to_be_hidden()
        page.get_by_label("Tu pregunta").focus()
        page.keyboard.press("Alt+Shift+J")
        expect(page.get_by_label("Tu pregunta")).to_be_focused()
        page.goto(f"/app/conversations/{conversation.pk}/")
        expect(page.locator(".message.assistant")).to_have_count(2)

        # With reduced motion the streaming cursor does not blink.
        page.evaluate("document.querySelector('.message.assistant').classList.add('streaming')")
        animation = page.evaluate(
            "getComputedStyle(document.querySelector('.message.streaming .message-body'), '::after').animationName"
        )
        assert animation == "none"
        screenshot(page, f"{size}-chat-answered")
