"""The panel's pages through Django's test client: login, forms, ownership, language."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import make_user
from bots.models import Bot
from bots.tests.factories import make_bot, make_category
from chat.models import Conversation

pytestmark = pytest.mark.django_db

LOGIN = reverse("panel:login")


def pages_with_ids(bot, conversation) -> list[str]:
    return [
        reverse("panel:bot-edit", args=[bot.pk]),
        reverse("panel:bot-chat", args=[bot.pk]),
        reverse("panel:conversation", args=[conversation.pk]),
    ]


class TestLoginRequired:
    @pytest.mark.parametrize("name", ["panel:dashboard", "panel:profile", "panel:bot-create"])
    def test_pages_send_visitors_to_the_login_page_and_back(self, client, name):
        url = reverse(name)
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={url}"

    def test_pages_with_an_id_send_visitors_to_the_login_page(self, client, bot, conversation):
        for url in pages_with_ids(bot, conversation):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith(LOGIN)

    def test_login_comes_back_to_next(self, client, user, password):
        response = client.post(LOGIN, {"email": user.email, "password": password, "next": "/app/profile/"})
        assert response.status_code == 302 and response["Location"] == "/app/profile/"
        assert client.get("/app/profile/").status_code == 200

    def test_login_ignores_a_next_on_another_site(self, client, user, password):
        response = client.post(
            LOGIN, {"email": user.email, "password": password, "next": "https://evil.example.com/"}
        )
        assert response["Location"] == reverse("panel:dashboard")


class TestLogin:
    def test_a_wrong_password_says_so_without_naming_the_email(self, client, user):
        response = client.post(LOGIN, {"email": user.email, "password": "nope"})
        assert response.status_code == 200
        assert "Correo o contraseña incorrectos." in response.content.decode()
        unknown = client.post(LOGIN, {"email": "nobody@example.com", "password": "nope"})
        assert "Correo o contraseña incorrectos." in unknown.content.decode()

    def test_bad_input_is_shown_on_the_form(self, client):
        response = client.post(LOGIN, {"email": "not-an-email", "password": ""})
        assert response.status_code == 200
        assert response.context["form"].errors.keys() == {"email", "password"}

    def test_failed_logins_are_throttled(self, client, user, settings):
        settings.LOGIN_FAILURE_LIMIT = 2
        for _attempt in range(2):
            client.post(LOGIN, {"email": user.email, "password": "nope"})
        response = client.post(LOGIN, {"email": user.email, "password": "correct-horse-battery-staple"})
        assert "Demasiados intentos" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_a_suspended_user_cannot_log_in(self, client, password):
        suspended = make_user(email="zed@example.com", status="suspended")
        response = client.post(LOGIN, {"email": suspended.email, "password": password})
        assert "suspendida" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_logout_needs_a_post_and_ends_the_session(self, panel):
        assert panel.get(reverse("panel:logout")).status_code == 405
        assert panel.post(reverse("panel:logout")).status_code == 302
        assert panel.get(reverse("panel:dashboard")).status_code == 302


class TestRegister:
    URL = reverse("panel:register")

    def form(self, **changes):
        data = {
            "full_name": "Carla Ruiz",
            "email": "carla@example.com",
            "password": "a-long-enough-passphrase",
            "password_confirm": "a-long-enough-passphrase",
            "language": "en",
        }
        return {**data, **changes}

    def test_it_creates_the_account_and_sends_to_login(self, client, db):
        response = client.post(self.URL, self.form())
        assert response.status_code == 302 and response["Location"] == LOGIN
        user = User.objects.get(email="carla@example.com")
        assert user.full_name == "Carla Ruiz" and user.language == "en"

    def test_it_applies_the_password_rules_and_duplicates(self, client, user):
        weak = client.post(self.URL, self.form(password="123", password_confirm="123"))
        assert weak.status_code == 200 and weak.context["form"].errors["password"]
        taken = client.post(self.URL, self.form(email=user.email))
        assert "Ya existe un usuario con este correo." in taken.context["form"].errors["email"]
        differ = client.post(self.URL, self.form(password_confirm="something-else-entirely"))
        assert differ.context["form"].errors["password_confirm"]
        assert not User.objects.filter(email="carla@example.com").exists()

    def test_it_applies_the_email_domain_policy(self, client, settings, db):
        settings.ALLOWED_EMAIL_DOMAINS = ["company.com"]
        response = client.post(self.URL, self.form())
        assert response.context["form"].errors["email"] == ["Este dominio de correo no está permitido."]

    def test_it_is_closed_when_registration_is_off(self, client, settings, db):
        settings.REGISTRATION_OPEN = False
        assert client.get(self.URL).status_code == 403
        assert client.post(self.URL, self.form()).status_code == 403
        assert not User.objects.exists()


class TestPasswordReset:
    def test_the_whole_reset_flow(self, client, user, settings, django_capture_on_commit_callbacks):
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        settings.SITE_URL = "http://testserver"
        unknown = client.post(reverse("panel:password-forgot"), {"email": "nobody@example.com"})
        known_page = "Si existe una cuenta con este correo"
        assert unknown.status_code == 200 and known_page in unknown.content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("panel:password-forgot"), {"email": user.email})
        assert response.status_code == 200 and known_page in response.content.decode()
        link = re.search(r"http://testserver(/app/password/reset/\S+/)", mail.outbox[-1].body).group(1)
        mismatch = client.post(
            link, {"new_password": "brand-new-passphrase", "new_password_confirm": "other"}
        )
        assert mismatch.context["form"].errors["new_password_confirm"]
        done = client.post(
            link, {"new_password": "brand-new-passphrase", "new_password_confirm": "brand-new-passphrase"}
        )
        assert done.status_code == 302 and done["Location"] == LOGIN
        user.refresh_from_db()
        assert user.check_password("brand-new-passphrase")
        again = client.post(
            link, {"new_password": "another-passphrase-1", "new_password_confirm": "another-passphrase-1"}
        )
        assert "no es válido o ha caducado" in again.content.decode()


class TestProfileAndLanguage:
    def test_it_changes_name_and_language_and_the_interface_follows(self, panel, user):
        assert "Panel" in panel.get(reverse("panel:dashboard")).content.decode()
        response = panel.post(reverse("panel:profile"), {"full_name": "Alice A.", "language": "en"})
        assert response.status_code == 302
        user.refresh_from_db()
        assert (user.full_name, user.language) == ("Alice A.", "en")
        html = panel.get(reverse("panel:dashboard")).content.decode()
        assert "Your bots" in html and 'lang="en"' in html

    def test_it_refuses_an_unknown_language(self, panel, user):
        response = panel.post(reverse("panel:profile"), {"full_name": "", "language": "fr"})
        assert response.status_code == 200 and response.context["form"].errors["language"]
        user.refresh_from_db()
        assert user.language == "es"

    def test_the_users_language_wins_over_the_browsers(self, panel):
        html = panel.get(reverse("panel:dashboard"), headers={"Accept-Language": "en"}).content.decode()
        assert "Tus bots" in html

    def test_visitors_can_switch_the_language_of_the_login_page(self, client):
        assert "Iniciar sesión" in client.get(LOGIN).content.decode()
        client.post(reverse("panel:language"), {"language": "en", "next": LOGIN})
        assert "Log in" in client.get(LOGIN).content.decode()


class TestDashboard:
    def test_it_lists_own_bots_and_public_agents_by_category_in_the_users_language(
        self, panel, user, other_user
    ):
        category = make_category(name_es="Finanzas", name_en="Finance")
        make_bot(owner=user, name_es="Mi asistente", name_en="My assistant", language="es")
        Bot.objects.create(owner=None, is_public=True, category=category, name_es="Asesor", name_en="Advisor")
        make_bot(owner=other_user, name_en="Bob's private bot")
        html = panel.get(reverse("panel:dashboard")).content.decode()
        assert "Mi asistente" in html and "Finanzas" in html and "Asesor" in html
        assert "Bob&#x27;s private bot" not in html and "Bob's private bot" not in html


class TestBots:
    def test_create_a_bot(self, panel, user):
        category = make_category()
        response = panel.post(
            reverse("panel:bot-create"),
            {
                "name": "Soporte",
                "description": "Ayuda",
                "category": category.pk,
                "language": "es",
                "system_prompt": "Sé breve.",
            },
        )
        bot = Bot.objects.get(owner=user)
        assert response["Location"] == reverse("panel:bot-edit", args=[bot.pk])
        assert (bot.name_es, bot.description_es, bot.category, bot.system_prompt) == (
            "Soporte",
            "Ayuda",
            category,
            "Sé breve.",
        )
        assert bot.model_configs.get().provider == "local"

    def test_bad_input_is_shown_on_the_form(self, panel, user):
        response = panel.post(
            reverse("panel:bot-create"), {"name": "", "language": "xx", "category": uuid.uuid4()}
        )
        assert response.status_code == 200
        assert response.context["form"].errors.keys() == {"name", "language", "category"}
        assert not Bot.objects.filter(owner=user).exists()

    def test_the_plan_limit_is_shown(self, panel, user):
        from accounts.models import Plan

        user.plan = Plan.objects.create(name="Tiny", max_bots=0)
        user.save()
        response = panel.post(reverse("panel:bot-create"), {"name": "One too many", "language": "es"})
        assert "Tu plan no permite más bots" in response.content.decode()

    def test_edit_a_bot(self, panel, bot):
        url = reverse("panel:bot-edit", args=[bot.pk])
        page = panel.get(url)
        assert page.status_code == 200 and "Handbook helper" in page.content.decode()
        response = panel.post(
            url, {"name": "Policy helper", "description": "", "language": "en", "system_prompt": "Be kind."}
        )
        assert response.status_code == 302
        bot.refresh_from_db()
        assert (bot.name_en, bot.system_prompt) == ("Policy helper", "Be kind.")

    def test_delete_a_bot(self, panel, bot):
        response = panel.post(reverse("panel:bot-delete", args=[bot.pk]))
        assert response.status_code == 302
        bot.refresh_from_db()
        assert bot.is_active is False


class TestOwnership:
    def test_another_users_pages_are_not_found(self, other_panel, bot, conversation):
        for url in pages_with_ids(bot, conversation):
            response = other_panel.get(url)
            assert response.status_code == 404, url
            assert "No encontrado" in response.content.decode()
        assert other_panel.post(reverse("panel:bot-delete", args=[bot.pk])).status_code == 404
        assert (
            other_panel.post(reverse("panel:bot-edit", args=[bot.pk]), {"name": "Mine now"}).status_code
            == 404
        )
        bot.refresh_from_db()
        assert bot.is_active and bot.name_en == "Handbook helper"

    def test_a_public_agent_can_be_chatted_with_but_not_edited(self, panel, db):
        agent = Bot.objects.create(owner=None, is_public=True, name_en="Advisor")
        assert panel.get(reverse("panel:bot-chat", args=[agent.pk])).status_code == 200
        assert panel.get(reverse("panel:bot-edit", args=[agent.pk])).status_code == 404

    def test_unknown_ids_are_not_found(self, panel):
        assert panel.get(reverse("panel:conversation", args=[uuid.uuid4()])).status_code == 404
        assert panel.get(reverse("panel:bot-edit", args=[uuid.uuid4()])).status_code == 404


class TestUnknownAddresses:
    """An address under /app/ that does not exist is the panel's own not-found page (with
    the viewport tag and styles, so it fits a phone), not Django's bare one."""

    def test_a_user_gets_the_panel_page_in_their_language(self, panel, user):
        user.language = "en"
        user.save(update_fields=["language"])
        response = panel.get("/app/no-such-page/")
        assert response.status_code == 404
        html = response.content.decode()
        assert "<h1>Not found</h1>" in html and 'id="sidebar"' in html
        assert 'name="viewport"' in html

    def test_a_visitor_gets_it_without_the_signed_in_navigation(self, client, db):
        response = client.get("/app/bots/nothing/here/", HTTP_ACCEPT_LANGUAGE="es")
        assert response.status_code == 404
        html = response.content.decode()
        assert "<h1>No encontrado</h1>" in html and 'name="viewport"' in html
        assert "auth-card" in html and 'id="sidebar"' not in html

    def test_other_surfaces_keep_their_own_not_found(self, panel):
        for url in ["/app/api/no-such-endpoint", "/api/v1/no-such-endpoint/"]:
            response = panel.get(url)
            assert response.status_code == 404, url
            assert "panel/not_found.html" not in [template.name for template in response.templates], url


class TestChatPage:
    def test_it_shows_the_history_and_the_conversation_list(self, panel, user, bot, conversation):
        from chat.services.engine import chat_complete

        chat_complete(
            user=user, bot_id=bot.pk, message="How long do refunds take?", conversation_id=conversation.pk
        )
        Conversation.objects.create(user=user, bot=bot, title="Old one", archived=True)
        response = panel.get(reverse("panel:conversation", args=[conversation.pk]))
        html = response.content.decode()
        assert "About refunds" in html and "Old one" in html
        data = response.context["chat_data"]
        assert [message["role"] for message in data["messages"]] == ["user", "assistant"]
        assert data["messages"][1]["citations"][0]["source_name"] == "handbook.txt"

    def test_model_output_is_never_in_the_page_as_markup(self, panel, user, bot, conversation):
        conversation.messages.create(role="assistant", content="<img src=x onerror=alert(1)>")
        html = panel.get(reverse("panel:conversation", args=[conversation.pk])).content.decode()
        assert "<img src=x" not in html
