from __future__ import annotations

from accounts.models import User
from bytchat.errors import NotFound
from chat.models import Feedback, Message, MessageRole


def feedback_submit(*, user: User, message_id, rating: str, comment: str = "") -> Feedback:
    """One rating per user per answer; sending again updates it."""
    message = Message.objects.filter(
        pk=message_id, role=MessageRole.ASSISTANT, conversation__user=user
    ).first()
    if message is None:
        raise NotFound("Message not found.")
    feedback, _ = Feedback.objects.update_or_create(
        message=message, user=user, defaults={"rating": rating, "comment": comment}
    )
    return feedback
