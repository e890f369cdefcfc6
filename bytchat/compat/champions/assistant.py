"""Which bot a Champions request talks to.

Champions had one assistant (the loan expert) and its requests name no bot. Here a
request may name one (`bot` in the body or the query string); otherwise a conversation's
own bot answers in that conversation; otherwise the bot named by the
CHAMPIONS_BOT_ID setting; otherwise the first public platform agent (the oldest).
Every lookup goes through `bots.selectors`, so a bot the caller may not see is a 404.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import User
from bots import selectors
from bots.models import Bot
from bytchat.errors import DomainError


class NoAssistantConfigured(DomainError):
    status_code = 500
    code = "NO_FILE_SEARCH_STORE"
    default_message = "No assistant is configured: set CHAMPIONS_BOT_ID or publish a platform agent."


def champions_bot(*, user: User, bot_id: Any = None) -> Bot:
    """The bot named in the request, else the configured default."""
    if bot_id:
        return selectors.bot_get_visible(user=user, bot_id=bot_id)
    bot = selectors.bot_single_assistant(user=user, configured_id=settings.CHAMPIONS_BOT_ID)
    if bot is None:
        raise NoAssistantConfigured()
    return bot
