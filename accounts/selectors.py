from django.db.models import QuerySet

from accounts.models import Plan, User
from bytchat.errors import NotFound


def user_list(*, role: str | None = None, status: str | None = None) -> QuerySet[User]:
    users = User.objects.select_related("plan")
    if role:
        users = users.filter(role=role)
    if status:
        users = users.filter(status=status)
    return users


def user_get(*, user_id) -> User:
    """One user, for the staff who manage accounts; NotFound when there is none."""
    user = user_list().filter(pk=user_id).first()
    if user is None:
        raise NotFound("User not found.")
    return user


def user_plan(user: User) -> Plan:
    """The plan whose limits apply: the user's, else the default one, else no limits."""
    return user.plan or Plan.objects.filter(is_default=True).first() or Plan()


def plan_list() -> QuerySet[Plan]:
    return Plan.objects.all()
