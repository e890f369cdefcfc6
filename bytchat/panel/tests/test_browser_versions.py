"""The chat page's regenerate, edit and resend, version switcher, export menu and live
conversation list, in Chromium against uvicorn (see test_browser.py)."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import make_user
from bots.tests.factories import make_bot
from bytchat.panel.tests.test_browser import _require_browser, browser_page, log_in, panel_server, screenshot
from chat.models import Conversation, Message
from chat.tests.helpers import add_knowledge

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - depends on the machine
    expect = None

HANDBOOK = (
    "Refund policy. Customers may ask for a refund within 30 days of purchase.\n\n"
    "Office hours. The support office is open from 9:00 to 17:00, Monday to Friday."
)


@pytest.fixture
def bot():
    user = make_user(email="iris@example.com")
    bot = make_bot(owner=user, name_es="Asistente de la tienda", language="en")
    add_knowledge(bot, "handbook.md", HANDBOOK)
    return bot


def test_a_new_conversation_joins_the_list_at_once_in_every_tab_and_renames_live(bot):
    _require_browser()
    with panel_server() as base_url, browser_page(base_url) as page:
        log_in(page, "iris@example.com")
        other_tab = page.context.new_page()
        for tab in (page, other_tab):
            tab.goto(f"/app/bots/{bot.pk}/chat/")
            expect(tab.locator(".conversation-list").first).to_contain_text("Aún no hay conversaciones.")
        expect(page.locator("#export-menu > summary")).to_be_hidden()

        page.get_by_label("Tu pregunta").fill("How many days do I have to ask for a refund?")
        page.get_by_role("button", name="Enviar").click()
        expect(page.locator(".message.assistant .message-body")).to_contain_text("30 days")
        # No reload: this tab and the other one list the new conversation.
        item = page.locator(".conversation-item")
        expect(item).to_have_count(1)
        expect(item.locator("a")).to_have_text("How many days do I have to ask for a refund?")
        expect(item.locator("a")).to_have_attribute("aria-current", "page")
        expect(other_tab.locator(".conversation-item a")).to_have_text(
            "How many days do I have to ask for a refund?"
        )
        expect(page.locator("#export-menu > summary")).to_be_visible()

        page.once("dialog", lambda dialog: dialog.accept("Refund deadline"))
        item.get_by_role("button", name=re.compile("^Renombrar")).click()
        expect(item.locator("a")).to_have_text("Refund deadline")
        expect(page.locator("#conversation-title")).to_have_text("Refund deadline")
        expect(item.get_by_role("button", name="Renombrar: Refund deadline")).to_be_visible()
        expect(other_tab.locator(".conversation-item a")).to_have_text("Refund deadline")
        screenshot(page, "versions-live-list")
    assert Conversation.objects.get().title == "Refund deadline"


def test_regenerate_switch_versions_edit_and_resend_then_export(bot):
    _require_browser()
    user = bot.owner
    conversation = Conversation.objects.create(user=user, bot=bot, title="Refunds", message_count=3)
    question = conversation.messages.create(
        role="user", content="How many days do I have to ask for a refund?"
    )
    first = conversation.messages.create(role="assistant", content="First answer.")
    second = conversation.messages.create(role="assistant", content="Second answer.", version_of=first)
    Message.objects.filter(pk=first.pk).update(replaced_by=second)

    with panel_server() as base_url, browser_page(base_url) as page:
        log_in(page, "iris@example.com")
        page.goto(f"/app/conversations/{conversation.pk}/")
        answer = page.locator(".message.assistant")
        body = answer.locator(".message-body")
        expect(body).to_have_text("Second answer.")
        switcher = answer.get_by_role("group", name="Versiones")
        expect(switcher).to_contain_text("2/2")
        expect(switcher.get_by_role("button", name="Versión siguiente")).to_be_disabled()
        switcher.get_by_role("button", name="Versión anterior").click()
        expect(body).to_have_text("First answer.")
        expect(switcher).to_contain_text("1/2")
        switcher.get_by_role("button", name="Versión siguiente").click()
        expect(body).to_have_text("Second answer.")

        # Regenerate: the new answer streams in as the third version.
        answer.get_by_role("button", name="Regenerar").click()
        expect(body).to_contain_text("30 days")
        expect(answer).not_to_have_class(re.compile("streaming"))
        expect(switcher).to_contain_text("3/3")
        screenshot(page, "versions-regenerated")

        # Edit and resend the question: the new question is answered, the old one is a version.
        user_message = page.locator(".message.user")
        user_message.get_by_role("button", name="Editar").click()
        box = user_message.get_by_role("textbox", name="Edita tu pregunta")
        expect(box).to_have_value("How many days do I have to ask for a refund?")
        box.fill("When is the support office open?")
        user_message.get_by_role("button", name="Guardar y enviar").click()
        expect(user_message.locator(".message-body")).to_have_text("When is the support office open?")
        expect(body).to_contain_text("9:00")
        expect(answer).not_to_have_class(re.compile("streaming"))
        # The new answer is a new turn's first: no answer versions; the question has two.
        expect(answer.get_by_role("group", name="Versiones")).to_have_count(0)
        question_versions = user_message.get_by_role("group", name="Versiones")
        expect(question_versions).to_contain_text("2/2")
        question_versions.get_by_role("button", name="Versión anterior").click()
        expect(user_message.locator(".message-body")).to_have_text(
            "How many days do I have to ask for a refund?"
        )
        expect(body).to_contain_text("30 days")
        question_versions.get_by_role("button", name="Versión siguiente").click()
        expect(body).to_contain_text("9:00")
        screenshot(page, "versions-edited")

        # Export: the menu downloads the conversation as it is shown.
        page.locator("#export-menu > summary").click()
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Markdown (.md)").click()
        download = download_info.value
        assert download.suggested_filename.startswith("refunds-") and download.suggested_filename.endswith(
            ".md"
        )
        exported = download.path().read_text(encoding="utf-8")
        assert "When is the support office open?" in exported and "9:00" in exported
        assert "How many days" not in exported

        # After a reload the page shows the same versions.
        page.reload()
        expect(page.locator(".message.user .message-body")).to_have_text("When is the support office open?")
        expect(page.locator(".message.user").get_by_role("group", name="Versiones")).to_contain_text("2/2")

    shown = Message.objects.filter(conversation=conversation, replaced_by__isnull=True)
    assert [message.role for message in shown] == ["user", "assistant"]
    assert Message.objects.filter(conversation=conversation).count() == 6
    assert Message.objects.get(pk=question.pk).replaced_by_id is not None
