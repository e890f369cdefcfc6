from __future__ import annotations

import itertools

from accounts.models import User

PASSWORD = "correct-horse-battery-staple"
_sequence = itertools.count(1)


def make_user(*, email: str | None = None, password: str = PASSWORD, **fields) -> User:
    email = email or f"user{next(_sequence)}@example.com"
    return User.objects.create_user(email=email, password=password, **fields)
