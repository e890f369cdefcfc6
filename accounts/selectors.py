from django.db.models import QuerySet

from accounts.models import Plan, User
from bytchat.cached import Read, cached_read
from bytchat.errors import NotFound

# The names of the cached rows (`bytchat.cached`) that the account services forget.
CACHED_USERS = "auth-user"
CACHED_DEFAULT_PLAN = "default-plan"
EVERY_PLAN = "plans"
# Renewed when an account is deleted: what other apps cache about its rows (its bots) goes.
ACCOUNT_DELETIONS = "account-deletions"


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


def user_get_for_auth(*, user_id) -> User | None:
    """The user a token or an API key names, with their plan (None if there is none), as
    authentication reads it on every request: from the cache until an account service
    changes the user (`services.user_forget`) or any plan (`services.plan_save`)."""
    return cached_read(
        **user_for_auth_read(user_id).kwargs(),
        load=lambda: User.objects.select_related("plan").filter(pk=user_id).first(),
    )


def user_for_auth_read(user_id) -> Read:
    return Read(CACHED_USERS, str(user_id), (EVERY_PLAN,))


def user_plan(user: User) -> Plan:
    """The plan whose limits apply: the user's, else the default one, else no limits."""
    if user.plan_id is not None:
        return user.plan
    return cached_read(
        **default_plan_read().kwargs(),
        load=lambda: Plan.objects.filter(is_default=True).first() or Plan(),
    )


def default_plan_read() -> Read:
    """`user_plan`'s read of the default plan, for `bytchat.cached.read_ahead`."""
    return Read(CACHED_DEFAULT_PLAN, "", (EVERY_PLAN,))


def plan_list() -> QuerySet[Plan]:
    return Plan.objects.all()
