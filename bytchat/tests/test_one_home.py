"""Rules the surfaces share have one home each: the client's address, the pages the
compatibility APIs cut by cursor, the upload size limit."""

from __future__ import annotations

import pathlib
import re
import uuid
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from bytchat.api.client import client_ip
from bytchat.api.pagination import newest_first_page
from bytchat.errors import InvalidInput

ROOT = pathlib.Path(__file__).resolve().parents[2]
APPS = ("accounts", "bots", "chat", "analytics", "bytchat")


def _sources():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "tests" not in path.parts and "migrations" not in path.parts:
                yield path, path.read_text()


def test_only_one_function_reads_the_client_address():
    reading = re.compile(r"get_ident\(|REMOTE_ADDR|X_FORWARDED_FOR")
    readers = sorted(
        str(path.relative_to(ROOT))
        for path, text in _sources()
        if any(reading.search(line) and not line.lstrip().startswith("#") for line in text.splitlines())
    )
    assert readers == ["bytchat/api/client.py"]


def test_no_module_takes_a_piece_out_of_an_apps_views_module():
    importing = re.compile(r"^from (accounts|bots|chat|analytics)(\.\w+)*\.views import ", re.MULTILINE)
    offenders = sorted(str(path.relative_to(ROOT)) for path, text in _sources() if importing.search(text))
    assert offenders == []


@pytest.mark.parametrize(
    ("proxies", "expected"),
    [(0, "10.0.0.9"), (1, "203.0.113.7"), (2, "198.51.100.1")],
)
def test_the_client_address_honours_num_proxies(settings, proxies, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7"
    )
    assert client_ip(request) == expected


@pytest.mark.django_db
class TestNewestFirstPage:
    @pytest.fixture
    def conversations(self, user):
        from analytics.tests.factories import make_conversation
        from bots.tests.factories import make_bot
        from chat.models import Conversation

        bot = make_bot(owner=user)
        made = [make_conversation(user=user, bot=bot, title=str(number)) for number in range(5)]
        now = timezone.now()
        # Two share a creation time: the id breaks the tie.
        for number, conversation in enumerate(made):
            created_at = now - timedelta(minutes=min(number, 3))
            Conversation.objects.filter(pk=conversation.pk).update(created_at=created_at)
        return Conversation.objects.filter(user=user)

    def test_pages_by_cursor_meet_pages_by_offset(self, conversations):
        everything = newest_first_page(conversations, limit=10).items
        assert len(everything) == 5
        seen, after = [], None
        while True:
            page = newest_first_page(conversations, limit=2, after=after)
            seen += page.items
            if page.last is None:
                break
            after = page.last.pk
        assert seen == everything
        assert newest_first_page(conversations, limit=2, offset=2).items == everything[2:4]
        assert newest_first_page(conversations, limit=5).last is None

    def test_an_unknown_cursor_is_invalid_input(self, conversations):
        with pytest.raises(InvalidInput) as refused:
            newest_first_page(conversations, limit=2, after=uuid.uuid4())
        assert refused.value.fields == {"cursor": ["Unknown cursor."]}
