"""The plan's bot limit under parallel requests, on PostgreSQL where they really run in
parallel."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from bots import services
from bots.models import Bot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_creations_never_pass_the_plans_bot_limit(user):
    user.plan = Plan.objects.create(name="Three bots", max_bots=3)
    user.save()
    token = auth_tokens_issue(user=user).access
    barrier = threading.Barrier(12)

    def create(index: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        barrier.wait()
        try:
            return client.post("/api/v1/bots", {"name": f"Bot {index}"}, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(create, range(12)))
    assert sorted(statuses) == [201] * 3 + [409] * 9
    assert Bot.objects.filter(owner=user).count() == 3


def test_a_creation_does_not_wait_for_another_transaction_that_references_the_user(user):
    """The plan check locks the user's row FOR NO KEY UPDATE, which does not conflict with
    the KEY SHARE lock an insert referencing the user holds until it commits: a plain
    FOR UPDATE would queue behind every such transaction, and could deadlock with it."""
    inserted, release = threading.Event(), threading.Event()

    def hold_a_reference_to_the_user() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    # Django's foreign keys are deferred: check this one now, as a plain
                    # foreign key (or the commit of a deferred one) does.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                Bot.objects.create(owner=user, name_es="Sin confirmar")
                inserted.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_a_reference_to_the_user)
    holder.start()
    try:
        assert inserted.wait(timeout=10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            bot = services.bot_create(user=user, name="Confirmado")
    finally:
        release.set()
        holder.join()
    assert Bot.objects.filter(pk=bot.pk).exists()
