"""The ESCOMBOT API's errors: `{"error": "<mensaje en español>"}`.

Every error of this mount, raised in a view or by Django outside one, is described by
`bytchat.api.errors.describe_or_internal` and rendered here. The document's Spanish
messages (and the one status it fixes differently, 500 for a failed answer) are mapped in
this one place, by error code, then by status.
"""

from __future__ import annotations

from dataclasses import replace

from django.http import JsonResponse

from bytchat.api.errors import ApiError, exception_handler_rendered_by
from bytchat.compat.errors import error_message_response
from bytchat.errors import DomainError, InvalidInput, NotFound

# Login never says whether an email exists: one message for an unknown email and a wrong
# password (the document had "Usuario no encontrado" and "Contraseña incorrecta").
INVALID_CREDENTIALS_MESSAGE = "Email o contraseña incorrectos"


class ChatNotFound(NotFound):
    code = "ESCOMBOT_CHAT_NOT_FOUND"
    default_message = "Chat not found."


class TitleRequired(InvalidInput):
    code = "ESCOMBOT_TITLE_REQUIRED"
    default_message = "The title is required."


class ChatIdAndMessageRequired(InvalidInput):
    code = "ESCOMBOT_CHAT_ID_AND_MESSAGE_REQUIRED"
    default_message = "chatId and message are required."


class CredentialsRequired(InvalidInput):
    code = "ESCOMBOT_CREDENTIALS_REQUIRED"
    default_message = "email and password are required."


class EscombotUnavailable(DomainError):
    """No bot answers as ESCOMBOT: ESCOMBOT_BOT_ID names none, and no platform bot is public."""

    status_code = 503
    code = "ESCOMBOT_UNAVAILABLE"
    default_message = "ESCOMBOT is not configured."


# code -> (status, or None to keep the described one; message)
_BY_CODE: dict[str, tuple[int | None, str]] = {
    "UNAUTHORIZED": (None, "No autenticado"),
    "INVALID_CREDENTIALS": (None, INVALID_CREDENTIALS_MESSAGE),
    "ACCOUNT_SUSPENDED": (None, "Cuenta suspendida"),
    "EMAIL_DOMAIN_NOT_ALLOWED": (None, "Dominio de email no permitido"),
    ChatNotFound.code: (None, "Chat no encontrado"),
    TitleRequired.code: (None, "El título es requerido"),
    ChatIdAndMessageRequired.code: (None, "chatId y message son requeridos"),
    CredentialsRequired.code: (None, "email y password son requeridos"),
    EscombotUnavailable.code: (None, "ESCOMBOT no está disponible"),
    # The document answers a failed reply with 500 (Bytchat's engine says 502).
    "CHAT_FAILED": (500, "Error al crear mensaje"),
    "CONVERSATION_ARCHIVED": (None, "Este chat está archivado"),
    "CONVERSATION_LIMIT": (None, "Alcanzaste el número de chats activos que permite tu plan"),
    "CONVERSATION_LIMIT_PER_BOT": (None, "Alcanzaste el número de chats que permite tu plan"),
    "MESSAGE_LIMIT": (None, "Este chat alcanzó el número de mensajes que permite tu plan"),
    "TOKEN_QUOTA_EXCEEDED": (None, "Agotaste la cuota mensual de tokens de tu plan"),
    "RATE_LIMIT_EXCEEDED": (None, "Demasiadas solicitudes, intenta más tarde"),
    "UNSUPPORTED_MEDIA_TYPE": (None, "Content-Type debe ser application/json"),
    "MALFORMED_REQUEST": (None, "JSON inválido"),
    "VALIDATION_ERROR": (None, "Datos inválidos"),
    "PAYLOAD_TOO_LARGE": (None, "La solicitud es demasiado grande"),
    "METHOD_NOT_ALLOWED": (None, "Método no permitido"),
    "NOT_FOUND": (None, "No encontrado"),
    "FORBIDDEN": (None, "Acceso denegado"),
    "INTERNAL_ERROR": (None, "Error interno del servidor"),
}

_BY_STATUS: dict[int, str] = {
    400: "Solicitud inválida",
    401: "No autenticado",
    403: "Acceso denegado",
    404: "No encontrado",
    409: "La solicitud entra en conflicto con el estado actual",
    429: "Demasiadas solicitudes, intenta más tarde",
}


def in_spanish(error: ApiError) -> ApiError:
    status, message = _BY_CODE.get(error.code, (None, None))
    status = status or error.status
    message = message or _BY_STATUS.get(status) or ("Error interno del servidor" if status >= 500 else None)
    return replace(error, status=status, message=message or error.message)


def error_response(error: ApiError) -> JsonResponse:
    return error_message_response(in_spanish(error))


# DRF exception handler of every ESCOMBOT view.
exception_handler = exception_handler_rendered_by(error_response)


__all__ = [
    "ChatIdAndMessageRequired",
    "ChatNotFound",
    "CredentialsRequired",
    "EscombotUnavailable",
    "TitleRequired",
    "error_response",
    "exception_handler",
    "in_spanish",
]
