"""The escombot API's error body (its document's format); see bytchat.compat.errors."""

from bytchat.compat.errors import error_message_response as error_response

__all__ = ["error_response"]
