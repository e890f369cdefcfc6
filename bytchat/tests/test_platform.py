import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.models import Plan, User

pytestmark = pytest.mark.django_db


def test_welcome_names_the_product_version_and_docs(client):
    body = client.get("/").json()
    assert body["name"] == "Bytchat"
    assert body["version"]
    assert body["docs_url"].endswith("/docs/")


def test_healthz_answers_while_the_process_runs(client):
    assert client.get("/healthz").status_code == 200


def test_readyz_checks_the_database(client, settings):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_readyz_names_redis_when_it_does_not_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]


def test_readyz_names_the_database_when_it_does_not_answer(client, monkeypatch):
    from bytchat import views

    monkeypatch.setattr(views, "_database_ready", lambda: False)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json()["failed"]


def test_an_unknown_api_url_gets_the_envelope_not_html(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@override_settings(DEBUG=True)
def test_an_unknown_api_url_gets_the_envelope_even_in_debug(client):
    response = client.get("/api/v1/no-such-thing")
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "NOT_FOUND"


def test_an_unexpected_error_is_a_500_envelope_without_a_traceback(user_client, monkeypatch):
    from accounts.api import views

    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.services, "user_update_profile", explode)
    user_client.raise_request_exception = False
    response = user_client.patch("/api/v1/me", {"full_name": "x"}, format="json")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "secret internals" not in response.content.decode()


def test_an_oversized_body_is_a_413_envelope(user_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = user_client.patch("/api/v1/me", {"full_name": "x" * 5000}, format="json")
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_the_default_throttle_answers_429_with_retry_after(user_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK}
    from rest_framework.throttling import UserRateThrottle

    original = UserRateThrottle.THROTTLE_RATES
    UserRateThrottle.THROTTLE_RATES = {**original, "user": "2/minute"}
    try:
        statuses = [user_client.get("/api/v1/me").status_code for _ in range(3)]
        response = user_client.get("/api/v1/me")
    finally:
        UserRateThrottle.THROTTLE_RATES = original
    assert statuses[:2] == [200, 200] and statuses[2] == 429
    assert response.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(response["Retry-After"]) >= 1


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/api/v1/auth/token" in text and "ErrorEnvelope" in text


def test_swagger_and_redoc_pages_are_served_without_a_cdn(client):
    for url in ("/docs/", "/redoc/"):
        response = client.get(url)
        assert response.status_code == 200
        assert "cdn.jsdelivr" not in response.content.decode()
    assert client.get("/api/v1/schema/").status_code == 200


def test_a_default_plan_exists_after_migrate():
    assert Plan.objects.filter(is_default=True).count() == 1


def test_seed_demo_is_idempotent(capsys):
    call_command("seed_demo")
    first = capsys.readouterr().out
    counts = (User.objects.count(), Plan.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), Plan.objects.count()) == counts
    assert "demo@bytchat.local" in first
    assert Plan.objects.get(name="Free").max_conversations_per_bot == 5


def test_createsuperuser_makes_an_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-strong-admin-passphrase")
    call_command("createsuperuser", "--no-input", "--email", "Root@Example.com")
    root = User.objects.get(email="root@example.com")
    assert root.role == "admin" and root.is_staff and root.is_superuser
    assert root.check_password("a-strong-admin-passphrase")


def test_the_admin_lists_users_for_staff(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/admin/accounts/user/", {"q": "admin"})
    assert response.status_code == 200
    assert "admin@example.com" in response.content.decode()


def test_the_admin_suspend_action_revokes_tokens(client, admin_user, user):
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
    from rest_framework_simplejwt.tokens import RefreshToken

    RefreshToken.for_user(user)
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/user/", {"action": "suspend", "_selected_action": [str(user.pk), str(admin_user.pk)]}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    admin_user.refresh_from_db()
    assert user.status == "suspended" and admin_user.status == "active"
    assert BlacklistedToken.objects.filter(token__user=user).count() == 1


def test_a_manager_can_view_but_not_change_in_the_admin(client, manager, user):
    client.force_login(manager)
    assert client.get("/admin/accounts/user/").status_code == 200
    assert client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200
    response = client.post(f"/admin/accounts/user/{user.pk}/change/", {"email": "x@example.com"})
    assert response.status_code == 403
