"""Texts the panel shows in the user's language: service errors by their code, and the
strings its JavaScript needs (passed to the page as JSON, so no JS catalogue is built)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from bytchat.errors import DomainError

# Field messages the services write in English; gettext_noop puts them in the catalogue so
# the views can translate them with gettext(message). DRF's and Django's own messages
# ("This field is required.") are translated by their catalogues.
SERVICE_FIELD_MESSAGES = (
    gettext_noop("A user with this email already exists."),
    gettext_noop("This email domain is not allowed."),
    gettext_noop("This category no longer exists."),
)


def error_messages() -> dict[str, str]:
    """Error codes (the native API's) and what the panel says about each."""
    return {
        "INVALID_CREDENTIALS": _("Invalid email or password."),
        "ACCOUNT_SUSPENDED": _("This account is suspended. Contact an administrator."),
        "EMAIL_DOMAIN_NOT_ALLOWED": _("Email addresses of this domain are not allowed."),
        "RATE_LIMIT_EXCEEDED": _("Too many attempts. Wait a moment and try again."),
        "INVALID_RESET_LINK": _("The password reset link is invalid or has expired."),
        "PLAN_LIMIT": _("Your plan does not allow more bots. Delete one or move to a bigger plan."),
        "LAST_MODEL_CONFIG": _(
            "A bot needs at least one active model. Add another one before removing this one."
        ),
        "DOCUMENT_BUSY": _("The document is being indexed. Try again when it is ready or failed."),
        "PAYLOAD_TOO_LARGE": _("The file is too large."),
        "UNSUPPORTED_MEDIA_TYPE": _("Unsupported file type. Upload a .txt, .md, .pdf or .docx file."),
        "EMPTY_FILE": _("The file is empty."),
        "CONVERSATION_ARCHIVED": _("This conversation is archived. Restore it to send new messages."),
        "CONVERSATION_LIMIT": _(
            "You have reached the number of active conversations your plan allows. Archive or delete one first."
        ),
        "CONVERSATION_LIMIT_PER_BOT": _("You have reached the conversation limit for this bot."),
        "MESSAGE_LIMIT": _(
            "This conversation has reached the number of messages your plan allows. Start a new conversation."
        ),
        "TOKEN_QUOTA_EXCEEDED": _("You have used this month's token quota of your plan."),
        "CHAT_FAILED": _("No model could answer. Try again later."),
        "MESSAGE_REPLACED": _("This message has been replaced by a newer version. Reload the conversation."),
        "VALIDATION_ERROR": _("Check the highlighted fields."),
        "NOT_FOUND": _("Not found."),
        "FORBIDDEN": _("You do not have permission to do this."),
        "UNAUTHORIZED": _("Your session has ended. Log in again."),
    }


def error_text(exc: DomainError) -> str:
    return error_messages().get(exc.code) or _(exc.message)


def js_texts() -> dict[str, object]:
    return {
        "errors": error_messages(),
        "generic_error": _("Something went wrong. Try again."),
        "network_error": _("The connection was lost. Your question is still in the box: send it again."),
        "confirm_evict": _(
            "You have reached the conversation limit for this bot. Creating a new one deletes "
            "the oldest conversation, “%(title)s”. Continue?"
        ),
        "confirm_delete_conversation": _("Delete this conversation for good?"),
        "confirm_delete_document": _("Delete this document and its knowledge?"),
        "confirm_delete_bot": _("Delete this bot?"),
        "rename_prompt": _("New title of the conversation:"),
        "sources": _("Sources"),
        "page": _("page"),
        "thinking": _("Searching the knowledge…"),
        "you": _("You"),
        "assistant": _("Assistant"),
        "thumbs_up": _("Helpful"),
        "thumbs_down": _("Not helpful"),
        "feedback_comment": _("Comment (optional)"),
        "feedback_send": _("Send feedback"),
        "feedback_thanks": _("Thanks for your feedback."),
        "incomplete": _("The answer was interrupted."),
        "stopped": _("You stopped this answer."),
        "reconnecting": _("Reconnecting…"),
        "status": {
            "pending": _("Pending"),
            "processing": _("Processing"),
            "embedding": _("Embedding"),
            "ready": _("Ready"),
            "failed": _("Failed"),
        },
        "chunks": _("%(count)s passages"),
        "uploading": _("Uploading %(name)s…"),
        "move_up": _("Move up"),
        "move_down": _("Move down"),
        "remove": _("Remove model"),
        "delete": _("Delete"),
        "reindex": _("Index again"),
        "no_documents": _("No documents yet. Drop a file here or choose one."),
        "no_models": _("No models."),
        "saved": _("Saved."),
        "metadata": _("Metadata"),
        "edit_metadata": _("Edit metadata"),
        "save_metadata": _("Save metadata"),
        "no_metadata": _("No metadata"),
        "invalid_json": _('Write a JSON object, such as {"program": "DSCR"}.'),
        "new_conversation": _("New conversation"),
        "regenerate": _("Regenerate"),
        "edit": _("Edit"),
        "edit_question": _("Edit your question"),
        "edit_send": _("Save and send"),
        "cancel": _("Cancel"),
        "versions": _("Versions"),
        "previous_version": _("Previous version"),
        "next_version": _("Next version"),
        "version_of": _("%(current)s/%(count)s"),
        "archived": _("Archived"),
    }
