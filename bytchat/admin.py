"""What the Django admins of every app share."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from bytchat.errors import DomainError


def _describe(error: DomainError) -> str:
    """The error's message, with the fields it names: the admin has no error envelope."""
    details = "; ".join(f"{name}: {' '.join(map(str, problems))}" for name, problems in error.fields.items())
    return f"{error.message} {details}" if details else error.message


class ServiceAdmin(admin.ModelAdmin):
    """An admin whose writes go through the services: a rule a service refuses (a plan
    limit, the last active model config, a password too weak) is shown as an error and
    nothing is stored."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:  # raised inside the view's transaction: rolled back
            self.message_user(request, _describe(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
