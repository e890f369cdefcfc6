from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tasks import flush_expired_tokens, send_password_reset_email


@pytest.mark.django_db
def test_flush_expired_tokens_drops_only_expired_ones(user):
    RefreshToken.for_user(user)
    expired = RefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=expired["jti"]).update(expires_at=timezone.now() - timedelta(days=1))
    flush_expired_tokens.delay()
    assert list(OutstandingToken.objects.values_list("user", flat=True)) == [user.pk]


@pytest.mark.django_db
def test_the_reset_email_task_returns_quietly_for_a_missing_user(mailoutbox):
    send_password_reset_email.delay("00000000-0000-0000-0000-000000000000")
    assert mailoutbox == []
