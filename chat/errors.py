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


class MessageReplaced(Conflict):
    """The message was replaced by a newer version (regenerated, edited, or left in an
    earlier branch): only the conversation's shown messages can be regenerated or edited."""

    code = "MESSAGE_REPLACED"
    default_message = "This message has been replaced by a newer version. Reload the conversation."


class InvalidApiKey(DomainError):
    """No key, an unknown or malformed one, a revoked or expired one, or its user is suspended:
    one answer for all, so a caller learns nothing about which keys exist."""

    status_code = 401
    code = "INVALID_API_KEY"
    default_message = "Incorrect API key provided, or the key is revoked or expired."


class ApiKeyRateLimited(RateLimited):
    code = "API_KEY_RATE_LIMIT"
    default_message = "This API key's requests-per-minute limit is reached."


class BotNotInKeyScope(DomainError):
    """A bot the key may not use (another bot than its scope's, or one its user cannot see)."""

    status_code = 404
    code = "MODEL_NOT_FOUND"
    default_message = "The model does not exist or this API key may not use it."


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
