from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User, UserStatus
from accounts.tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/me"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["fields"], dict)
    return body["error"]


def login(client, email: str, password: str = PASSWORD):
    return client.post(TOKEN, {"email": email, "password": password}, format="json")


class TestRegister:
    def test_it_creates_a_user_with_the_default_plan(self, api_client):
        response = api_client.post(
            REGISTER,
            {
                "email": "New.Person@Example.com",
                "password": PASSWORD,
                "full_name": "New Person",
                "language": "en",
            },
            format="json",
        )
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "new.person@example.com"
        assert body["role"] == "user" and body["status"] == "active" and body["language"] == "en"
        assert body["plan"]["name"] == "Standard" and body["plan"]["max_bots"] == 10
        assert "password" not in body
        user = User.objects.get(email="new.person@example.com")
        assert user.password.startswith("argon2")

    def test_it_rejects_a_duplicate_email_differing_only_in_case(self, api_client, user):
        response = api_client.post(
            REGISTER, {"email": "ALICE@example.com", "password": PASSWORD}, format="json"
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert "email" in error["fields"]
        assert User.objects.filter(email__iexact="alice@example.com").count() == 1

    def test_it_rejects_a_weak_password(self, api_client):
        response = api_client.post(
            REGISTER, {"email": "weak@example.com", "password": "123456"}, format="json"
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert error["fields"]["password"]
        assert not User.objects.filter(email="weak@example.com").exists()

    def test_it_reports_each_missing_field(self, api_client):
        error = assert_error(api_client.post(REGISTER, {}, format="json"), 400, "VALIDATION_ERROR")
        assert set(error["fields"]) == {"email", "password"}
        assert User.objects.count() == 0

    def test_it_rejects_overlong_fields(self, api_client):
        long_email = "a" * 250 + "@example.com"
        response = api_client.post(
            REGISTER, {"email": long_email, "password": PASSWORD, "full_name": "x" * 201}, format="json"
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert {"email", "full_name"} <= set(error["fields"])
        assert User.objects.count() == 0

    @override_settings(ALLOWED_EMAIL_DOMAINS=["bytchat.dev"])
    def test_it_rejects_an_email_outside_the_allowed_domains(self, api_client):
        response = api_client.post(
            REGISTER, {"email": "eve@elsewhere.com", "password": PASSWORD}, format="json"
        )
        error = assert_error(response, 400, "EMAIL_DOMAIN_NOT_ALLOWED")
        assert "email" in error["fields"]
        assert User.objects.count() == 0
        ok = api_client.post(REGISTER, {"email": "eve@Bytchat.dev", "password": PASSWORD}, format="json")
        assert ok.status_code == 201

    def test_it_rejects_malformed_json_without_storing(self, api_client):
        response = api_client.post(
            REGISTER, data='{"email": "x@example.com",', content_type="application/json"
        )
        assert_error(response, 400, "MALFORMED_REQUEST")
        assert User.objects.count() == 0

    def test_it_rejects_a_wrong_content_type(self, api_client):
        response = api_client.post(
            REGISTER, data="email=x@example.com&password=long-enough-pass", content_type="text/plain"
        )
        assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        assert User.objects.count() == 0

    @override_settings(REGISTRATION_OPEN=False)
    def test_closed_registration_is_admin_only(self, api_client, user_client, admin_client_api):
        body = {"email": "closed@example.com", "password": PASSWORD}
        assert_error(api_client.post(REGISTER, body, format="json"), 401, "UNAUTHORIZED")
        assert_error(user_client.post(REGISTER, body, format="json"), 403, "FORBIDDEN")
        assert admin_client_api.post(REGISTER, body, format="json").status_code == 201


class TestLogin:
    def test_it_returns_tokens_and_the_user(self, api_client, user):
        response = login(api_client, "Alice@Example.com")
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access", "refresh", "token_type", "expires_in", "user"}
        assert body["token_type"] == "bearer" and body["expires_in"] == 30 * 60
        assert body["user"]["email"] == "alice@example.com"
        assert AccessToken(body["access"])["user_id"] == str(user.pk)
        user.refresh_from_db()
        assert user.last_login is not None

    def test_unknown_email_and_wrong_password_get_the_same_answer(self, api_client, user):
        wrong_password = login(api_client, "alice@example.com", "not-the-password")
        unknown_email = login(api_client, "nobody@example.com", "not-the-password")
        assert wrong_password.status_code == unknown_email.status_code == 401
        assert wrong_password.json() == unknown_email.json()
        assert wrong_password.json()["error"]["code"] == "INVALID_CREDENTIALS"

    def test_a_suspended_user_cannot_log_in(self, api_client):
        make_user(email="sus@example.com", status=UserStatus.SUSPENDED)
        assert_error(login(api_client, "sus@example.com"), 403, "ACCOUNT_SUSPENDED")
        # Without the right password, a suspended account looks like any other failure.
        assert_error(login(api_client, "sus@example.com", "wrong-password!"), 401, "INVALID_CREDENTIALS")

    @override_settings(ALLOWED_EMAIL_DOMAINS=["bytchat.dev"])
    def test_it_rejects_a_login_outside_the_allowed_domains(self, api_client, user):
        assert_error(login(api_client, "alice@example.com"), 400, "EMAIL_DOMAIN_NOT_ALLOWED")

    def test_it_throttles_after_five_failures_per_email(self, api_client, user):
        for attempt in range(5):
            response = api_client.post(
                TOKEN,
                {"email": "alice@example.com", "password": "wrong-password"},
                format="json",
                REMOTE_ADDR=f"10.0.0.{attempt}",
            )
            assert response.status_code == 401
        response = login(api_client, "alice@example.com")  # even the right password waits
        assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
        assert 0 < int(response["Retry-After"]) <= 15 * 60

    def test_it_throttles_after_five_failures_per_ip(self, api_client, user):
        for attempt in range(5):
            response = login(api_client, f"someone{attempt}@example.com", "wrong-password")
            assert response.status_code == 401
        response = login(api_client, "alice@example.com")
        assert_error(response, 429, "RATE_LIMIT_EXCEEDED")
        assert "Retry-After" in response
        assert login(api_client, "alice@example.com", PASSWORD).status_code == 429
        other_ip = api_client.post(
            TOKEN, {"email": "alice@example.com", "password": PASSWORD}, format="json", REMOTE_ADDR="10.9.9.9"
        )
        assert other_ip.status_code == 200

    def test_it_reports_missing_fields(self, api_client):
        error = assert_error(api_client.post(TOKEN, {}, format="json"), 400, "VALIDATION_ERROR")
        assert set(error["fields"]) == {"email", "password"}


class TestTokens:
    def test_an_access_token_opens_me(self, api_client, user):
        access = login(api_client, "alice@example.com").json()["access"]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        assert api_client.get(ME).json()["email"] == "alice@example.com"

    def test_no_token_is_unauthorized(self, api_client):
        assert_error(api_client.get(ME), 401, "UNAUTHORIZED")

    def test_a_garbage_token_is_unauthorized(self, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
        assert_error(api_client.get(ME), 401, "UNAUTHORIZED")

    def test_an_expired_token_is_unauthorized(self, api_client, user):
        token = AccessToken.for_user(user)
        token.set_exp(lifetime=-timedelta(minutes=1))
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert_error(api_client.get(ME), 401, "UNAUTHORIZED")

    def test_a_token_verified_once_still_expires_and_only_verified_tokens_are_kept(
        self, api_client, user, monkeypatch
    ):
        """Each process verifies an access token's signature once (`_verified`): its expiry
        is checked again at every request, and what failed verification is never kept."""
        from accounts import authentication

        access = login(api_client, "alice@example.com").json()["access"]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        assert api_client.get(ME).status_code == 200
        assert access.encode() in authentication._verified
        assert api_client.get(ME).status_code == 200  # from what was verified

        # A token altered in its last character of signature is another token: verified, refused.
        forged = access[:-2] + ("A" if access[-2] != "A" else "B") + access[-1]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
        assert_error(api_client.get(ME), 401, "UNAUTHORIZED")
        refresh = login(api_client, "alice@example.com").json()["refresh"]
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh}")  # not an access token
        assert_error(api_client.get(ME), 401, "UNAUTHORIZED")
        assert set(authentication._verified) & {forged.encode(), refresh.encode()} == set()

        later = authentication.aware_utcnow() + timedelta(minutes=31)
        monkeypatch.setattr(authentication, "aware_utcnow", lambda: later)
        monkeypatch.setattr("rest_framework_simplejwt.tokens.aware_utcnow", lambda: later)
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        assert_error(api_client.get(ME), 401, "UNAUTHORIZED")
        assert access.encode() not in authentication._verified

    def test_refresh_rotates_and_blacklists_the_old_refresh_token(self, api_client, user):
        refresh = login(api_client, "alice@example.com").json()["refresh"]
        response = api_client.post(REFRESH, {"refresh": refresh}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access", "refresh", "token_type", "expires_in"}
        assert body["refresh"] != refresh
        assert_error(api_client.post(REFRESH, {"refresh": refresh}, format="json"), 401, "UNAUTHORIZED")

    def test_logout_blacklists_the_refresh_token(self, api_client, user):
        refresh = login(api_client, "alice@example.com").json()["refresh"]
        assert api_client.post(LOGOUT, {"refresh": refresh}, format="json").status_code == 204
        assert_error(api_client.post(REFRESH, {"refresh": refresh}, format="json"), 401, "UNAUTHORIZED")
        assert_error(api_client.post(LOGOUT, {"refresh": refresh}, format="json"), 401, "UNAUTHORIZED")

    def test_garbage_refresh_token_is_unauthorized(self, api_client):
        assert_error(api_client.post(REFRESH, {"refresh": "garbage"}, format="json"), 401, "UNAUTHORIZED")

    def test_suspending_a_user_stops_their_tokens_at_once(self, api_client, user, admin_client_api):
        tokens = login(api_client, "alice@example.com").json()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        assert api_client.get(ME).status_code == 200
        response = admin_client_api.patch(f"/api/v1/users/{user.pk}", {"status": "suspended"}, format="json")
        assert response.status_code == 200
        assert_error(api_client.get(ME), 401, "UNAUTHORIZED")
        api_client.credentials()
        assert_error(
            api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json"), 401, "UNAUTHORIZED"
        )

    def test_a_token_of_a_deleted_user_is_unauthorized(self, api_client, user):
        refresh = str(RefreshToken.for_user(user))
        access = str(AccessToken.for_user(user))
        user.delete()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
        assert_error(api_client.get(ME), 401, "UNAUTHORIZED")
        api_client.credentials()
        assert_error(api_client.post(REFRESH, {"refresh": refresh}, format="json"), 401, "UNAUTHORIZED")


class TestPasswordReset:
    FORGOT = "/api/v1/auth/password/forgot"
    RESET = "/api/v1/auth/password/reset"

    def _link_parts(self) -> tuple[str, str]:
        message = mail.outbox[-1]
        link = next(word for word in message.body.split() if "/password/reset/" in word)
        uid, token = link.rstrip("/").split("/")[-2:]
        return uid, token

    def test_the_answer_is_the_same_whether_or_not_the_account_exists(self, api_client, user):
        known = api_client.post(self.FORGOT, {"email": "alice@example.com"}, format="json")
        unknown = api_client.post(self.FORGOT, {"email": "ghost@example.com"}, format="json")
        assert known.status_code == unknown.status_code == 200
        assert known.json() == unknown.json()

    def test_it_sends_a_text_and_html_email_with_a_single_use_link(
        self, api_client, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            api_client.post(self.FORGOT, {"email": "Alice@example.com"}, format="json")
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["alice@example.com"]
        assert "/password/reset/" in message.body
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html" and "/password/reset/" in html
        uid, token = self._link_parts()

        new_password = "a-brand-new-passphrase"
        body = {"uid": uid, "token": token, "new_password": new_password}
        assert api_client.post(self.RESET, body, format="json").status_code == 200
        assert login(api_client, "alice@example.com", new_password).status_code == 200
        assert_error(api_client.post(self.RESET, body, format="json"), 400, "INVALID_RESET_LINK")

    def test_it_sends_nothing_for_an_unknown_email(self, api_client, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            api_client.post(self.FORGOT, {"email": "ghost@example.com"}, format="json")
        assert mail.outbox == []

    def test_it_rejects_a_garbage_link(self, api_client, user):
        body = {"uid": "zzz", "token": "nope", "new_password": "a-brand-new-passphrase"}
        assert_error(api_client.post(self.RESET, body, format="json"), 400, "INVALID_RESET_LINK")

    def test_it_rejects_a_weak_new_password_and_keeps_the_old_one(
        self, api_client, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            api_client.post(self.FORGOT, {"email": "alice@example.com"}, format="json")
        uid, token = self._link_parts()
        body = {"uid": uid, "token": token, "new_password": "password"}
        error = assert_error(api_client.post(self.RESET, body, format="json"), 400, "VALIDATION_ERROR")
        assert "password" in error["fields"]
        assert login(api_client, "alice@example.com").status_code == 200
