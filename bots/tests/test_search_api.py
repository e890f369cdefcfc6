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
        "snippet",
        "text",
        "metadata",
    }


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
