"""The user admin writes through the account services, with the admin's own forms."""

import pytest

from accounts.models import Plan, Role, User, UserStatus
from accounts.tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, admin_user):
    client.force_login(admin_user)
    return client


def _add_form(**overrides) -> dict:
    data = {
        "email": "new.person@example.com",
        "password": "a long and unusual passphrase 42",
        "full_name": "New Person",
        "role": Role.USER,
        "language": "en",
        "plan": "",
    }
    return {**data, **overrides}


def _change_form(user: User, **overrides) -> dict:
    data = {
        "full_name": user.full_name,
        "role": user.role,
        "plan": str(user.plan_id or ""),
        "language": user.language,
    }
    return {**data, **overrides}


def test_a_user_added_in_the_admin_can_log_in_with_the_password(admin_browser):
    response = admin_browser.post("/admin/accounts/user/add/", _add_form())

    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert user.check_password("a long and unusual passphrase 42")
    assert (user.full_name, user.role, user.language) == ("New Person", Role.USER, "en")


def test_the_admin_applies_the_email_domain_policy(admin_browser, settings):
    settings.ALLOWED_EMAIL_DOMAINS = ["bytchat.test"]

    response = admin_browser.post("/admin/accounts/user/add/", _add_form(), follow=True)

    assert "This email domain is not allowed." in response.content.decode()
    assert not User.objects.filter(email="new.person@example.com").exists()


def test_the_admin_applies_the_password_rules(admin_browser):
    response = admin_browser.post(
        "/admin/accounts/user/add/", _add_form(password="new.person@example.com"), follow=True
    )

    assert "password:" in response.content.decode()
    assert not User.objects.filter(email="new.person@example.com").exists()


def test_the_admin_refuses_a_second_account_for_an_email(admin_browser, user):
    response = admin_browser.post(
        "/admin/accounts/user/add/", _add_form(email=user.email.upper()), follow=True
    )

    # The form's own unique check, or the service's case-insensitive one, refuses it.
    assert response.status_code == 200
    assert User.objects.filter(email__iexact=user.email).count() == 1


def test_an_admin_cannot_change_their_own_role_in_the_admin(admin_browser, admin_user):
    response = admin_browser.post(
        f"/admin/accounts/user/{admin_user.pk}/change/", _change_form(admin_user, role=Role.USER), follow=True
    )

    assert response.status_code == 200
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_the_admin_changes_a_users_role_plan_and_profile(admin_browser):
    person = make_user(email="person@example.com", full_name="Person")
    plan = Plan.objects.create(name="Team", max_bots=9)

    response = admin_browser.post(
        f"/admin/accounts/user/{person.pk}/change/",
        _change_form(person, role=Role.MANAGER, plan=str(plan.pk), full_name="Renamed", language="en"),
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.role, person.plan_id, person.full_name, person.language) == (
        Role.MANAGER,
        plan.pk,
        "Renamed",
        "en",
    )


def test_the_admin_shows_email_status_and_onboarding_read_only(admin_browser):
    person = make_user(email="person@example.com")

    admin_browser.post(
        f"/admin/accounts/user/{person.pk}/change/",
        {**_change_form(person), "email": "other@example.com", "status": UserStatus.SUSPENDED},
    )

    person.refresh_from_db()
    assert (person.email, person.status) == ("person@example.com", UserStatus.ACTIVE)
