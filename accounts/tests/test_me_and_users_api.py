import pytest

from accounts.models import Plan, User
from accounts.tests.factories import PASSWORD, make_user
from accounts.tests.test_auth_api import assert_error

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"
USERS = "/api/v1/users"


class TestMe:
    def test_it_shows_the_profile_with_the_plan_limits(self, user_client):
        body = user_client.get(ME).json()
        assert body["email"] == "alice@example.com"
        assert body["onboarding_completed"] is False
        assert set(body["plan"]) >= {
            "name",
            "max_bots",
            "max_conversations_per_bot",
            "max_active_conversations",
            "max_messages_per_conversation",
            "messages_per_minute",
            "monthly_token_quota",
        }

    def test_it_updates_name_and_language_only(self, user_client, user):
        response = user_client.patch(
            ME,
            {"full_name": "Alice A.", "language": "en", "role": "admin", "status": "suspended"},
            format="json",
        )
        assert response.status_code == 200
        user.refresh_from_db()
        assert (user.full_name, user.language, user.role, user.status) == ("Alice A.", "en", "user", "active")

    def test_it_rejects_an_unknown_language_and_an_overlong_name(self, user_client, user):
        response = user_client.patch(ME, {"full_name": "x" * 201, "language": "fr"}, format="json")
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert set(error["fields"]) == {"full_name", "language"}
        user.refresh_from_db()
        assert user.language == "es" and user.full_name == ""

    def test_onboarding_can_be_completed(self, user_client, user):
        response = user_client.post(f"{ME}/onboarding/complete")
        assert response.status_code == 200 and response.json()["onboarding_completed"] is True
        user.refresh_from_db()
        assert user.onboarding_completed

    def test_a_wrong_method_gets_the_envelope(self, user_client):
        assert_error(user_client.delete(ME), 405, "METHOD_NOT_ALLOWED")


class TestUserList:
    def test_a_plain_user_cannot_list_users(self, user_client):
        assert_error(user_client.get(USERS), 403, "FORBIDDEN")

    def test_a_manager_lists_users_newest_first_with_cursor_pages(self, manager_client, manager):
        for number in range(4):
            make_user(email=f"u{number}@example.com")
        first = manager_client.get(USERS, {"limit": 3}).json()
        assert len(first["results"]) == 3 and first["next"]
        second = manager_client.get(first["next"]).json()
        emails = [row["email"] for row in first["results"] + second["results"]]
        assert len(emails) == len(set(emails)) == User.objects.count()
        created = [row["created_at"] for row in first["results"] + second["results"]]
        assert created == sorted(created, reverse=True)

    def test_it_filters_by_role_and_status(self, manager_client, user, admin_user):
        make_user(email="gone@example.com", status="suspended")
        admins = manager_client.get(USERS, {"role": "admin"}).json()["results"]
        assert [row["email"] for row in admins] == ["admin@example.com"]
        suspended = manager_client.get(USERS, {"status": "suspended"}).json()["results"]
        assert [row["email"] for row in suspended] == ["gone@example.com"]

    def test_it_rejects_an_unknown_filter_value(self, manager_client):
        error = assert_error(manager_client.get(USERS, {"role": "king"}), 400, "VALIDATION_ERROR")
        assert "role" in error["fields"]


class TestAdminUserManagement:
    def test_an_admin_creates_a_user_with_role_and_plan(self, admin_client_api):
        plan = Plan.objects.create(name="Gold", max_bots=99)
        response = admin_client_api.post(
            USERS,
            {"email": "mgr@example.com", "password": PASSWORD, "role": "manager", "plan": plan.pk},
            format="json",
        )
        assert response.status_code == 201
        assert response.json()["role"] == "manager" and response.json()["plan"]["name"] == "Gold"

    def test_a_manager_cannot_create_users(self, manager_client):
        response = manager_client.post(USERS, {"email": "x@example.com", "password": PASSWORD}, format="json")
        assert_error(response, 403, "FORBIDDEN")
        assert not User.objects.filter(email="x@example.com").exists()

    def test_an_admin_changes_role_status_and_plan(self, admin_client_api, user):
        plan = Plan.objects.create(name="Gold")
        response = admin_client_api.patch(
            f"{USERS}/{user.pk}", {"role": "manager", "status": "suspended", "plan": plan.pk}, format="json"
        )
        assert response.status_code == 200
        user.refresh_from_db()
        assert (user.role, user.status, user.plan_id) == ("manager", "suspended", plan.pk)

    def test_nobody_changes_their_own_role_or_status(self, admin_client_api, admin_user):
        for change in ({"role": "user"}, {"status": "suspended"}):
            response = admin_client_api.patch(f"{USERS}/{admin_user.pk}", change, format="json")
            assert_error(response, 403, "FORBIDDEN")
        admin_user.refresh_from_db()
        assert (admin_user.role, admin_user.status) == ("admin", "active")

    def test_plain_users_and_managers_cannot_change_users(self, user_client, manager_client, other_user):
        for client in (user_client, manager_client):
            response = client.patch(f"{USERS}/{other_user.pk}", {"role": "admin"}, format="json")
            assert_error(response, 403, "FORBIDDEN")
        other_user.refresh_from_db()
        assert other_user.role == "user"

    def test_an_unknown_user_or_plan_is_reported(self, admin_client_api, user):
        missing = "00000000-0000-0000-0000-000000000000"
        assert_error(
            admin_client_api.patch(f"{USERS}/{missing}", {"role": "user"}, format="json"), 404, "NOT_FOUND"
        )
        error = assert_error(
            admin_client_api.patch(f"{USERS}/{user.pk}", {"plan": 987654}, format="json"),
            400,
            "VALIDATION_ERROR",
        )
        assert "plan" in error["fields"]

    def test_plans_are_listed_for_staff_only(self, manager_client, user_client):
        names = [plan["name"] for plan in manager_client.get("/api/v1/plans").json()]
        assert "Standard" in names
        assert_error(user_client.get("/api/v1/plans"), 403, "FORBIDDEN")
