"""The champions API's error body (its document's format); see bytchat.compat.errors."""

from bytchat.compat.errors import detail_code_response as error_response

__all__ = ["error_response"]
