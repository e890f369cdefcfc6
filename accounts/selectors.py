from django.db.models import QuerySet

from accounts.models import Plan, User


def user_list(*, role: str | None = None, status: str | None = None) -> QuerySet[User]:
    users = User.objects.select_related("plan")
    if role:
        users = users.filter(role=role)
    if status:
        users = users.filter(status=status)
    return users


def plan_list() -> QuerySet[Plan]:
    return Plan.objects.all()


def plan_default() -> Plan | None:
    return Plan.objects.filter(is_default=True).first()
