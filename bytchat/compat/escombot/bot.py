"""Which Bytchat bot answers as ESCOMBOT: the one ESCOMBOT_BOT_ID names, else the oldest
public platform agent (`bots.selectors.bot_single_assistant`)."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from bots.models import Bot
from bots.selectors import bot_single_assistant


def escombot_bot(*, user: User) -> Bot | None:
    return bot_single_assistant(user=user, configured_id=settings.ESCOMBOT_BOT_ID)
