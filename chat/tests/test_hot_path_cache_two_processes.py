"""The hot path's cache shared by two processes (one Redis, one PostgreSQL): a change made
through the services in another process holds in this one from its very next request.
This process serves the requests (Django's test client); a second Python process makes
the change, as an admin's web process or a management command would."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Plan
from accounts.services import auth_tokens_issue
from bots.tests.factories import make_bot
from chat.tests.helpers import stream_chat

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    """The test database, which the other process must share with this test."""
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def in_another_process(code: str) -> None:
    """Run `code` in a new Python process with the project's settings, against this test's
    database and Redis, and wait for it (its transaction has committed when it returns)."""
    script = "import django\ndjango.setup()\n" + textwrap.dedent(code)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bytchat.settings",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DEBUG": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _chat(token: str, bot) -> tuple[int, list[dict]]:
    status, _, events = stream_chat(token, {"bot": str(bot.pk), "message": "Hello?"})
    return status, events


@pytest.fixture
def token(user):
    return auth_tokens_issue(user=user).access


def test_a_suspension_in_another_process_holds_here_at_the_next_request(token, user, admin_user):
    bot = make_bot(owner=user)
    assert _chat(token, bot)[0] == 200  # the user is cached, in Redis
    in_another_process(
        f"""
        from accounts.models import User
        from accounts.services import user_set_status
        user_set_status(
            actor=User.objects.get(pk="{admin_user.pk}"), user=User.objects.get(pk="{user.pk}"), status="suspended"
        )
        """
    )
    assert _chat(token, bot)[0] == 401


def test_a_plan_changed_in_another_process_holds_here_at_the_next_turn(token, user):
    plan = Plan.objects.create(name="Generous", messages_per_minute=100)
    type(user).objects.filter(pk=user.pk).update(plan=plan)  # set up before any request
    bot = make_bot(owner=user)
    assert _chat(token, bot)[0] == 200
    in_another_process(
        f"""
        from accounts.models import Plan
        from accounts.services import plan_save
        plan = Plan.objects.get(pk={plan.pk})
        plan.messages_per_minute = 0  # refused whatever minute it is
        plan_save(plan=plan)
        """
    )
    status, events = _chat(token, bot)
    assert (status, events[0]["error"]["code"]) == (429, "RATE_LIMIT_EXCEEDED")


def test_a_model_config_changed_in_another_process_answers_here_at_the_next_turn(token, user):
    bot = make_bot(owner=user)
    assert _chat(token, bot)[1][-1]["model"] == "local"
    in_another_process(
        f"""
        from bots.models import ModelConfig
        from bots.services import model_config_update
        model_config_update(config=ModelConfig.objects.get(bot_id="{bot.pk}"), model_id="local-2")
        """
    )
    assert _chat(token, bot)[1][-1]["model"] == "local-2"


def test_a_bot_deleted_in_another_process_is_not_found_here_at_the_next_turn(token, user):
    bot = make_bot(owner=user)
    assert _chat(token, bot)[0] == 200
    in_another_process(
        f"""
        from bots.models import Bot
        from bots.services import bot_delete
        bot_delete(bot=Bot.objects.get(pk="{bot.pk}"))
        """
    )
    assert _chat(token, bot)[0] == 404
