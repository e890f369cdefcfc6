from django.conf import settings
from rest_framework.permissions import BasePermission


class IsManagerOrAdmin(BasePermission):
    message = "This action needs the manager or admin role."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_manager_or_admin)


class IsAdmin(BasePermission):
    message = "This action needs the admin role."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_admin)


class RegistrationAllowed(BasePermission):
    """Anyone while REGISTRATION_OPEN is on; only admins once it is off."""

    message = "Registration is closed. Ask an administrator for an account."

    def has_permission(self, request, view) -> bool:
        if settings.REGISTRATION_OPEN:
            return True
        return IsAdmin().has_permission(request, view)
