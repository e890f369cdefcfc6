import pytest

from bots.tests.factories import make_bot, make_indexed_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(user):
    bot = make_bot(owner=user, language="es")
    make_indexed_document(
        bot=bot, text=["Portada.", "El reembolso se pide desde el panel."], name="ayuda.pdf"
    )
    return bot


def test_it_returns_the_top_chunks_with_score_snippet_document_and_pages(user_client, bot):
    response = user_client.get(f"/api/v1/bots/{bot.pk}/search", {"q": "reembolso", "k": 3})
    assert response.status_code == 200
    [hit] = response.json()
    assert hit["document_name"] == "ayuda.pdf"
    assert hit["page_numbers"] == [1, 2]
    assert "reembolso" in hit["snippet"]
    assert hit["score"] > 0
    assert set(hit) == {
        "chunk_id",
        "document_id",
        "document_name",
        "position",
        "page_numbers",
        "score",
        "retriever",
        "similarity",
        "snippet",
        "text",
        "metadata",
    }
    assert hit["retriever"] == "keyword" and hit["similarity"] is None  # not embedded


def test_an_embedded_document_is_found_by_both_retrievers_with_its_similarity(user_client, user):
    bot = make_bot(owner=user, language="en")
    make_indexed_document(bot=bot, text="Refunds are requested from the panel.", name="help.txt", embed=True)
    [hit] = user_client.get(f"/api/v1/bots/{bot.pk}/search", {"q": "refunds"}).json()
    assert hit["retriever"] == "both" and 0 < hit["similarity"] <= 1 and hit["score"] > 0


def test_the_bot_search_settings_are_editable_and_validated(user_client, user):
    bot = make_bot(owner=user, language="en")
    url = f"/api/v1/bots/{bot.pk}"
    changed = user_client.patch(
        url, {"search_mode": "semantic", "top_k": 8, "min_similarity": 0.8}, format="json"
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["search_mode"], changed.json()["top_k"], changed.json()["min_similarity"]) == (
        "semantic",
        8,
        0.8,
    )
    for bad in ({"search_mode": "fuzzy"}, {"top_k": 0}, {"top_k": 51}, {"min_similarity": 2}):
        assert user_client.patch(url, bad, format="json").status_code == 400, bad
    bot.refresh_from_db()
    assert (bot.search_mode, bot.top_k, bot.min_similarity) == ("semantic", 8, 0.8)


@pytest.mark.parametrize("q", ["", "el de la", "!!!"])
def test_a_query_with_nothing_to_search_for_is_an_empty_list(user_client, bot, q):
    response = user_client.get(f"/api/v1/bots/{bot.pk}/search", {"q": q})
    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.parametrize("k", ["0", "51", "-3", "many"])
def test_k_out_of_range_is_a_400(user_client, bot, k):
    response = user_client.get(f"/api/v1/bots/{bot.pk}/search", {"q": "reembolso", "k": k})
    assert response.status_code == 400
    assert "k" in response.json()["error"]["fields"]


def test_q_is_required(user_client, bot):
    response = user_client.get(f"/api/v1/bots/{bot.pk}/search")
    assert response.status_code == 400 and "q" in response.json()["error"]["fields"]


def test_it_hides_another_users_bot(other_client, bot):
    assert other_client.get(f"/api/v1/bots/{bot.pk}/search", {"q": "reembolso"}).status_code == 404


def test_staff_can_search_a_platform_agent_but_users_cannot(user_client, manager_client):
    agent = make_bot(owner=None, is_public=True)
    make_indexed_document(bot=agent, text="Horario de atención: de 9 a 18.")
    assert user_client.get(f"/api/v1/bots/{agent.pk}/search", {"q": "horario"}).status_code == 403
    assert len(manager_client.get(f"/api/v1/bots/{agent.pk}/search", {"q": "horario"}).json()) == 1
