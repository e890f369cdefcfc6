"""The branch a conversation shows: its messages no newer version replaced.

Regenerating an answer or editing a question makes a new version of that message. The
messages from the replaced one onwards (the message itself, and the later turns that
followed it: the earlier branch) stay stored, pointing at the message that replaced them,
and leave the conversation's list, its model history and its export."""

from __future__ import annotations

from django.db.models import Q

from chat.models import Message


def branch_replace(*, start: Message, replacement: Message) -> int:
    """Hide `start` and every shown message after it in its conversation behind
    `replacement`, inside the caller's transaction; how many were hidden.

    The caller holds the conversation's row lock (a turn's reservation or the answer's
    store), so two replacements of one branch run one after the other: the second hides
    what the first added."""
    after_start = Q(created_at__gt=start.created_at) | Q(created_at=start.created_at, pk__gte=start.pk)
    return (
        Message.objects.filter(conversation_id=start.conversation_id, replaced_by__isnull=True)
        .filter(after_start)
        .exclude(pk=replacement.pk)
        .update(replaced_by=replacement)
    )
