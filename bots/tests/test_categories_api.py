import pytest

from bots.models import Category
from bots.tests.factories import make_bot, make_category

pytestmark = pytest.mark.django_db

URL = "/api/v1/categories"


@pytest.fixture
def writing():
    return make_category(
        name_es="Redacción",
        name_en="Writing",
        description_es="Textos profesionales",
        description_en="Professional texts",
        display_order=2,
        icon="✍️",
    )


def test_it_lists_active_categories_in_order_with_the_agents_the_caller_can_see(
    user_client, user, other_user, writing
):
    images = make_category(name_es="Imágenes", name_en="Images", display_order=1)
    make_category(name_es="Oculta", name_en="Hidden", is_active=False)
    make_bot(owner=None, category=writing, is_public=True)
    make_bot(owner=user, category=writing)
    make_bot(owner=other_user, category=writing)  # private to someone else
    make_bot(owner=None, category=writing, is_public=True, is_active=False)
    response = user_client.get(URL)
    assert response.status_code == 200
    assert [(c["name"], c["agent_count"]) for c in response.json()] == [("Imágenes", 0), ("Redacción", 2)]
    assert response.json()[1] == {
        "id": str(writing.pk),
        "name": "Redacción",
        "description": "Textos profesionales",
        "icon": "✍️",
        "display_order": 2,
        "agent_count": 2,
    }
    assert images.pk


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ("?lang=en", {"HTTP_ACCEPT_LANGUAGE": "es"}, "Writing"),
        ("", {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}, "Writing"),
        ("", {"HTTP_ACCEPT_LANGUAGE": "fr, es;q=0.5"}, "Redacción"),
        ("", {}, "Redacción"),  # the user's language
    ],
)
def test_texts_follow_lang_then_accept_language_then_the_users_language(
    user_client, writing, query, headers, expected
):
    assert user_client.get(URL + query, **headers).json()[0]["name"] == expected


def test_an_english_speaking_user_gets_english_by_default(client_for, writing):
    from accounts.tests.factories import make_user

    client = client_for(make_user(language="en"))
    assert client.get(URL).json()[0]["description"] == "Professional texts"


def test_staff_see_both_languages(manager_client, writing):
    [category] = manager_client.get(URL).json()
    assert (category["name_es"], category["name_en"], category["is_active"]) == ("Redacción", "Writing", True)


def test_an_admin_creates_updates_and_soft_deletes_a_category(admin_client_api):
    created = admin_client_api.post(
        URL,
        {"name_es": "Nueva", "name_en": "New", "description_en": "Fresh", "icon": "🆕", "display_order": 7},
        format="json",
    )
    assert created.status_code == 201, created.json()
    category_id = created.json()["id"]
    assert created.json()["name_en"] == "New"
    updated = admin_client_api.patch(f"{URL}/{category_id}", {"name_es": "Renombrada"}, format="json")
    assert updated.status_code == 200 and updated.json()["name_es"] == "Renombrada"
    assert admin_client_api.delete(f"{URL}/{category_id}").status_code == 204
    assert Category.objects.get(pk=category_id).is_active is False
    assert admin_client_api.get(URL).json() == []
    restored = admin_client_api.patch(f"{URL}/{category_id}", {"is_active": True}, format="json")
    assert restored.json()["is_active"] is True


def test_a_user_cannot_change_categories(user_client, manager_client, writing):
    for client in (user_client, manager_client):
        assert client.post(URL, {"name_es": "X", "name_en": "X"}, format="json").status_code == 403
        assert client.patch(f"{URL}/{writing.pk}", {"name_es": "X"}, format="json").status_code == 403
        assert client.delete(f"{URL}/{writing.pk}").status_code == 403


def test_a_category_needs_both_names(admin_client_api):
    response = admin_client_api.post(URL, {"name_es": "Solo"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"name_en"}


def test_a_deleted_category_is_not_found_for_users(user_client, writing):
    writing.is_active = False
    writing.save()
    assert user_client.get(f"{URL}/{writing.pk}").status_code == 404
    assert user_client.get(f"{URL}/{writing.pk}").json()["error"]["code"] == "NOT_FOUND"


def test_listing_needs_a_login(api_client):
    assert api_client.get(URL).status_code == 401
