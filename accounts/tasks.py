from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.core.management import call_command
from django.template.loader import render_to_string
from django.utils import translation

from accounts.models import User


@shared_task(
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def send_password_reset_email(user_id: str) -> None:
    from accounts.services import password_reset_link

    user = User.objects.filter(pk=user_id, status="active").first()
    if user is None:
        return
    context = {
        "user": user,
        "reset_url": password_reset_link(user=user),
        "valid_hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
    }
    with translation.override(user.language):
        subject = render_to_string("emails/password_reset_subject.txt", context).strip()
        text = render_to_string("emails/password_reset.txt", context)
        html = render_to_string("emails/password_reset.html", context)
    send_mail(subject, text, None, [user.email], html_message=html)


@shared_task
def flush_expired_tokens() -> None:
    """Blacklist bookkeeping grows with every login; drop rows for expired tokens."""
    call_command("flushexpiredtokens")
