from bytchat.errors import DomainError, Forbidden, InvalidInput, RateLimited


class InvalidCredentials(DomainError):
    status_code = 401
    code = "INVALID_CREDENTIALS"
    # One message whether the email is unknown or the password is wrong.
    default_message = "Invalid email or password."


class AccountSuspended(DomainError):
    status_code = 403
    code = "ACCOUNT_SUSPENDED"
    default_message = "This account is suspended. Contact an administrator."


class EmailDomainNotAllowed(DomainError):
    status_code = 400
    code = "EMAIL_DOMAIN_NOT_ALLOWED"
    default_message = "Email addresses of this domain are not allowed."


class LoginThrottled(RateLimited):
    default_message = "Too many failed login attempts. Try again later."


class InvalidResetLink(InvalidInput):
    code = "INVALID_RESET_LINK"
    default_message = "The password reset link is invalid or has expired."


class SelfModificationForbidden(Forbidden):
    default_message = "You cannot change your own role or status."


class InvalidRefreshToken(DomainError):
    status_code = 401
    code = "UNAUTHORIZED"
    default_message = "The token is invalid, expired or revoked."
