"""Encryption of the secrets Bytchat stores (model API keys), with `cryptography`'s Fernet.

The keys come from settings: `FIELD_ENCRYPTION_KEY` (comma-separated; the first one
encrypts, all of them decrypt) when set, else keys derived with HKDF from `SECRET_KEY` and
`SECRET_KEY_FALLBACKS`, so that rotating the secret key the Django way keeps stored
secrets readable. Every value is a Fernet token (authenticated, with a timestamp).
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Changing it makes every stored secret unreadable: it names what the derived key is for.
_HKDF_INFO = b"bytchat.crypto.field-encryption"


class DecryptionFailed(Exception):
    """A stored secret cannot be read with the configured keys (a key was rotated away)."""


def _derive(secret: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


@functools.lru_cache(maxsize=4)
def _fernet(secrets: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_derive(secret)) for secret in secrets])


def _secrets() -> tuple[str, ...]:
    dedicated = [
        key.strip() for key in getattr(settings, "FIELD_ENCRYPTION_KEY", "").split(",") if key.strip()
    ]
    if dedicated:
        return tuple(dedicated)
    return (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))


def encrypt(plaintext: str) -> str:
    return _fernet(_secrets()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(_secrets()).decrypt(token.encode()).decode()
    except (InvalidToken, UnicodeError) as exc:
        raise DecryptionFailed("The secret cannot be decrypted with the configured keys.") from exc


def secret_hint(secret: str) -> str:
    """What a user is shown of a secret: `sk-…abcd`, less of a short one."""
    if len(secret) >= 12:
        return f"{secret[:3]}…{secret[-4:]}"
    if len(secret) >= 6:
        return f"…{secret[-2:]}"
    return "…"
