"""The analytics pages of the Django admin: the dashboard and the read-only lists."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import pytest
from django.test import Client
from django.urls import reverse

from analytics.tests.factories import at_days_ago, make_conversation, make_exchange, populate, rate
from bots.tests.factories import make_bot
from chat.models import Conversation

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/analytics/dashboard/"


def admin_session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def activity(user, other_user):
    bots = [
        make_bot(owner=user, name_es="Ayudante", language="es"),
        make_bot(owner=other_user, name_es="Redactor", language="es"),
    ]
    return populate(users=[user, other_user], bots=bots, days=8, conversations_per_day=2)


class TestDashboard:
    def test_staff_see_the_charts_drawn_on_the_server(self, manager, activity):
        response = admin_session(manager).get(DASHBOARD)
        assert response.status_code == 200
        html = response.content.decode()
        svgs = re.findall(r"<svg xmlns=[^>]*role=\"img\".*?</svg>", html, flags=re.S)
        assert len(svgs) == 6
        for svg in svgs:
            ElementTree.fromstring(svg)  # well-formed, numbers with dots whatever the locale
        titles = [ElementTree.fromstring(svg).get("aria-label") for svg in svgs]
        assert titles == [
            "Runs per day",
            "Tokens per day",
            "Errors per day",
            "Latency p95 (ms)",
            "Satisfaction (thumbs up / rated)",
            "Active users per day",
        ]
        runs_chart = ElementTree.fromstring(svgs[0])
        assert len(runs_chart.findall("{http://www.w3.org/2000/svg}rect")) == 30  # one bar per day
        assert "Ayudante" in html and "Redactor" in html  # top bots
        assert "analytics/dashboard.css" in html
        assert "<script" not in html.split('id="content-main"')[1]

    def test_the_period_can_be_chosen_and_odd_values_fall_back(self, manager, activity):
        client = admin_session(manager)
        week = client.get(DASHBOARD + "?days=7").content.decode()
        svg = re.findall(r"<svg xmlns=[^>]*role=\"img\".*?</svg>", week, flags=re.S)[0]
        assert len(ElementTree.fromstring(svg).findall("{http://www.w3.org/2000/svg}rect")) == 7
        assert client.get(DASHBOARD + "?days=banana").status_code == 200

    def test_an_empty_period_says_so(self, manager):
        html = admin_session(manager).get(DASHBOARD).content.decode()
        assert "No data in this period" in html and "No runs in this period." in html

    def test_it_is_linked_from_the_admin_index(self, admin_user):
        html = admin_session(admin_user).get(reverse("admin:index")).content.decode()
        assert 'href="/admin/analytics/dashboard/"' in html

    def test_plain_users_are_sent_to_the_login_page(self, user):
        response = admin_session(user).get(DASHBOARD)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


class TestReadOnlyLists:
    def test_runs_are_listed_and_filtered_but_not_editable(self, admin_user, activity):
        client = admin_session(admin_user)
        run = activity[4]
        changelist = reverse("admin:chat_run_changelist")
        for query in [
            "",
            "?status=error",
            "?provider=openai",
            "?model=local",
            f"?bot__id__exact={run.bot_id}",
        ]:
            assert client.get(changelist + query).status_code == 200
        errors = client.get(changelist + "?status=error").content.decode()
        assert str(run.pk) in errors  # every fifth run failed
        html = client.get(changelist).content.decode()
        assert reverse("admin:chat_run_add") not in html
        change = reverse("admin:chat_run_change", args=[run.pk])
        assert client.get(change).status_code == 200
        assert client.post(change, {"status": "success"}).status_code == 403
        assert client.get(reverse("admin:chat_run_add")).status_code == 403

    def test_a_run_shows_the_feedback_on_its_answer(self, admin_user, user):
        bot = make_bot(owner=user)
        run = make_exchange(
            conversation=make_conversation(user=user, bot=bot, at=at_days_ago(1)), at=at_days_ago(1)
        )
        rate(run, "thumbs_down", "Too vague")
        html = admin_session(admin_user).get(reverse("admin:chat_run_change", args=[run.pk])).content.decode()
        assert "Too vague" in html

    def test_a_conversation_shows_its_messages_and_their_feedback(self, manager, user):
        bot = make_bot(owner=user)
        conversation = make_conversation(user=user, bot=bot)
        run = make_exchange(conversation=conversation, question="Where is the refund policy?")
        rate(run, "thumbs_down", "It missed the policy")
        html = admin_session(manager).get(reverse("admin:chat_conversation_change", args=[conversation.pk]))
        body = html.content.decode()
        assert "Where is the refund policy?" in body and "It missed the policy" in body
        assert admin_session(manager).get(reverse("admin:chat_conversation_changelist")).status_code == 200

    def test_only_admins_delete_conversations_in_the_admin(self, manager, admin_user, user):
        conversation = make_conversation(user=user, bot=make_bot(owner=user))
        url = reverse("admin:chat_conversation_delete", args=[conversation.pk])
        assert admin_session(manager).post(url, {"post": "yes"}).status_code == 403
        assert Conversation.objects.filter(pk=conversation.pk).exists()
        assert admin_session(admin_user).post(url, {"post": "yes"}).status_code == 302
        assert not Conversation.objects.filter(pk=conversation.pk).exists()

    def test_a_conversation_deleted_in_the_admin_leaves_its_owners_list_at_once(
        self, admin_user, user, user_client
    ):
        bot = make_bot(owner=user)
        first, second, third = (make_conversation(user=user, bot=bot) for _ in range(3))

        def listed() -> set[str]:
            return {row["id"] for row in user_client.get("/api/v1/conversations").json()["results"]}

        assert listed() == {str(first.pk), str(second.pk), str(third.pk)}  # the first page, cached
        session = admin_session(admin_user)
        session.post(reverse("admin:chat_conversation_delete", args=[first.pk]), {"post": "yes"})
        assert listed() == {str(second.pk), str(third.pk)}
        session.post(
            reverse("admin:chat_conversation_changelist"),
            {"action": "delete_selected", "_selected_action": [str(second.pk)], "post": "yes"},
        )
        assert listed() == {str(third.pk)}

    def test_feedback_is_listed_with_its_bot_and_filtered_by_rating(self, manager, activity):
        client = admin_session(manager)
        changelist = reverse("admin:chat_feedback_changelist")
        html = client.get(changelist + "?rating__exact=thumbs_down").content.decode()
        assert "La respuesta fue incorrecta y lenta" in html and "Ayudante" in html
        assert client.get(changelist + "?q=incorrecta").status_code == 200
