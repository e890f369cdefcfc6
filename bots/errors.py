from bytchat.errors import Conflict, DomainError, Forbidden, InvalidInput


class PlanLimitReached(Conflict):
    code = "PLAN_LIMIT"
    default_message = "Your plan does not allow more bots."


class LastModelConfig(Conflict):
    code = "LAST_MODEL_CONFIG"
    default_message = "A bot needs at least one active model. Add another one before removing this one."


class DocumentBusy(Conflict):
    code = "DOCUMENT_BUSY"
    default_message = "The document is being indexed. Try again when it is ready or failed."


class FileTooLarge(DomainError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_message = "The file is too large."


class UnsupportedFileType(DomainError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_message = "Unsupported file type. Upload a .txt, .md, .pdf or .docx file."


class EmptyFile(InvalidInput):
    code = "EMPTY_FILE"
    default_message = "The file is empty."


class NotBotEditor(Forbidden):
    default_message = "You can use this bot but not change it."


class StaffOnly(Forbidden):
    default_message = "Only administrators can do this."
