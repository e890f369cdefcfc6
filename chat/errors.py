from bytchat.errors import Conflict, DomainError, RateLimited


class ConversationArchived(Conflict):
    code = "CONVERSATION_ARCHIVED"
    default_message = "This conversation is archived. Restore it to send new messages."


class ConversationLimitReached(Conflict):
    code = "CONVERSATION_LIMIT"
    default_message = "You have reached the number of active conversations your plan allows."


class ConversationConfirmationRequired(Conflict):
    """The bot's conversation limit is reached: creating one more deletes the oldest,
    which the client must confirm with `confirm_delete: true` (MagicAI's rule)."""

    code = "CONVERSATION_LIMIT_PER_BOT"
    default_message = "You have reached the conversation limit for this bot."


class MessageLimitReached(Conflict):
    code = "MESSAGE_LIMIT"
    default_message = "This conversation has reached the number of messages your plan allows."


class MessageRateLimited(RateLimited):
    default_message = "You are sending messages too fast. Wait a moment."


class TokenQuotaExceeded(DomainError):
    status_code = 429
    code = "TOKEN_QUOTA_EXCEEDED"
    default_message = "You have used this month's token quota of your plan."


class ChatFailed(DomainError):
    status_code = 502
    code = "CHAT_FAILED"
    default_message = "No model could answer. Try again later."


class AnswerEnded(Conflict):
    code = "ANSWER_ENDED"
    default_message = "This answer has already ended."


class AnswerEventsExpired(DomainError):
    status_code = 410
    code = "EVENTS_EXPIRED"
    default_message = (
        "This answer ended and its events have expired. Read it from the conversation's messages."
    )


class AnswerStopTimeout(DomainError):
    status_code = 503
    code = "STOP_TIMEOUT"
    default_message = "The answer did not stop in time. Try again."
