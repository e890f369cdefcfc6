"""Every endpoint runs the same number of queries however many rows there are."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import make_user
from analytics.services import rollup_refresh
from analytics.tests.factories import populate
from analytics.tests.helpers import count_queries
from bots.tests.factories import make_bot
from chat.models import Conversation

pytestmark = pytest.mark.django_db

BASE = "/api/v1/analytics/"
# The bound includes the request's own authentication query.
ENDPOINTS = [
    ("overview?days=30", 11),
    ("daily?days=30", 8),
    ("bots?days=30", 11),
    ("users?days=30", 8),
    ("runs", 2),
    ("runs?status=success&model=gpt-4o-mini&date_from=2020-01-01", 2),
    ("feedback?days=30", 6),
    ("conversations", 2),
]


@pytest.fixture
def admin_client_api(admin_client_api):
    """The admin's client, signed in by a first request: authentication reads the user once,
    then from the cache, so each count compared here is of the same work."""
    assert admin_client_api.get("/api/v1/me").status_code == 200
    return admin_client_api


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Users are made by the handful; Argon2 would be most of each test's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _grow(users, bots, *, days: int, per_day: int) -> None:
    populate(users=users, bots=bots, days=days, conversations_per_day=per_day, runs_per_conversation=3)


@pytest.mark.parametrize("rolled_up", [False, True], ids=["live", "rolled up"])
@pytest.mark.parametrize(("endpoint", "bound"), ENDPOINTS)
def test_queries_do_not_grow_with_the_data(
    admin_client_api, endpoint, bound, rolled_up, django_assert_max_num_queries
):
    users = [make_user() for _ in range(2)]
    bots = [make_bot(owner=users[0]) for _ in range(2)]
    _grow(users, bots, days=2, per_day=1)
    if rolled_up:
        rollup_refresh()
    small = count_queries(admin_client_api, BASE + endpoint)

    # More of every kind of row (users, bots, days, conversations a day, runs, ratings):
    # a query per row of any of them would show.
    users += [make_user() for _ in range(2)]
    bots += [make_bot(owner=users[-1]) for _ in range(2)]
    _grow(users, bots, days=5, per_day=2)
    if rolled_up:
        rollup_refresh(recent_days=5)
    with django_assert_max_num_queries(bound):
        large = count_queries(admin_client_api, BASE + endpoint)
    assert small == large


def test_filters_on_ids_add_one_lookup_each(admin_client_api, django_assert_max_num_queries):
    users = [make_user() for _ in range(2)]
    bots = [make_bot(owner=users[0]) for _ in range(2)]
    _grow(users, bots, days=3, per_day=2)
    with django_assert_max_num_queries(4):
        count_queries(admin_client_api, f"{BASE}runs?bot={bots[0].pk}&user={users[0].pk}")
    with django_assert_max_num_queries(4):
        count_queries(admin_client_api, f"{BASE}conversations?bot={bots[0].pk}&user={users[0].pk}")
    with django_assert_max_num_queries(7):
        count_queries(admin_client_api, f"{BASE}feedback?bot={bots[0].pk}")


def test_deleting_a_conversation_costs_the_same_whatever_its_length(admin_client_api):
    users = [make_user()]
    bots = [make_bot(owner=users[0])]
    populate(users=users, bots=bots, days=1, runs_per_conversation=1)
    populate(users=users, bots=bots, days=1, runs_per_conversation=12)
    short, long = Conversation.objects.order_by("message_count")
    counts = []
    for conversation in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client_api.delete(f"{BASE}conversations/{conversation.pk}").status_code == 204
        counts.append(len(queries))
    assert counts[0] == counts[1]
