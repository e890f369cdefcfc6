"""champions-api.md's `metadata_filter` on POST /chat and `program` on GET admin/documents,
backed by document metadata. Same on PostgreSQL and SQLite."""

from __future__ import annotations

import pytest

from accounts.services import auth_tokens_issue
from accounts.tests.factories import make_user
from bots import services as bot_services
from bots.tests.factories import make_bot, make_indexed_document
from bytchat.compat.champions.tests.helpers import stream_chat, url
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db

DOMAIN = "championsfunding.com"
QUESTION = "¿Cuáles son los requisitos de reservas?"


@pytest.fixture(autouse=True)
def _email_domain_policy(settings):
    settings.ALLOWED_EMAIL_DOMAINS = [DOMAIN]


@pytest.fixture
def rep(db):
    return make_user(email=f"usuario@{DOMAIN}")


@pytest.fixture
def manager_api(client_for, db):
    return client_for(make_user(email=f"manager@{DOMAIN}", role="manager"))


@pytest.fixture
def assistant(db):
    bot = make_bot(owner=None, is_public=True, name_en="Loan Expert", language="es")
    make_indexed_document(
        bot=bot,
        text="Programa DSCR. Las reservas requeridas son seis meses de pagos.",
        name="DSCR_Matrix.md",
        metadata={"program": "DSCR", "page_label": "DSCR matrix"},
    )
    make_indexed_document(
        bot=bot,
        text="Programa Full Doc. Las reservas requeridas son dos meses de pagos.",
        name="FullDoc_Matrix.md",
        metadata={"program": "Full Doc"},
    )
    make_indexed_document(
        bot=bot,
        text="Programa Alt Doc. Las reservas requeridas son tres meses de pagos.",
        name="AltDoc_Matrix.md",
        metadata={"program": ["Alt Doc", "Bank Statement"]},
    )
    make_indexed_document(bot=bot, text="Glosario de términos de reservas.", name="Glossary.md")
    return bot


def chat(user, metadata_filter, **extra):
    token = auth_tokens_issue(user=user).access
    return stream_chat(token, {"message": QUESTION, "metadata_filter": metadata_filter, **extra})


def sources(events) -> list[str]:
    [citations] = [event for event in events if event["type"] == "citations"]
    return sorted(citation["source_name"] for citation in citations["citations"])


def test_metadata_filter_restricts_the_file_search(rep, assistant):
    status, _, events = chat(rep, None)
    assert status == 200 and len(sources(events)) == 4
    status, _, events = chat(rep, {"program": "DSCR"})
    assert status == 200 and sources(events) == ["DSCR_Matrix.md"]
    [citations] = [event for event in events if event["type"] == "citations"]
    metadata = citations["citations"][0]["metadata"]
    assert metadata["program"] == "DSCR" and metadata["page_label"] == "DSCR matrix"
    assert set(metadata) == {"program", "page_label", "document_id", "score"}
    status, _, events = chat(rep, {"program": {"in": ["Full Doc", "Bank Statement"]}})
    assert sources(events) == ["AltDoc_Matrix.md", "FullDoc_Matrix.md"]


def test_a_follow_up_keeps_the_filter(rep, assistant):
    _, _, first = chat(rep, {"program": "Full Doc"})
    conversation_id = first[0]["conversation_id"]
    status, _, events = chat(rep, None, conversation_id=conversation_id)
    assert status == 200 and sources(events) == ["FullDoc_Matrix.md"]


def test_a_filter_matching_nothing_answers_that_it_has_no_knowledge(rep, assistant):
    status, _, events = chat(rep, {"program": "Jumbo"})
    assert status == 200 and sources(events) == []
    answer = "".join(event["content"] for event in events if event["type"] == "delta")
    assert answer.startswith("No encuentro información")


@pytest.mark.parametrize(
    ("metadata_filter", "names_it"),
    [({"programa": "DSCR"}, "programa"), ({"program": {"gte": "x"}}, "gte"), ("program = DSCR", "JSON")],
)
def test_a_bad_metadata_filter_is_a_400_in_the_champions_error_body(
    rep, assistant, metadata_filter, names_it
):
    status, _, body = chat(rep, metadata_filter)
    assert status == 400
    assert body["detail"]["code"] == "VALIDATION_ERROR" and names_it in body["detail"]["error"]
    assert not Conversation.objects.filter(user=rep).exists() and not Message.objects.exists()


def test_admin_documents_list_each_documents_program(manager_api, assistant):
    response = manager_api.get(url("admin/documents"))
    assert response.status_code == 200
    programs = {item["filename"]: item["program"] for item in response.json()["items"]}
    assert programs == {
        "DSCR_Matrix.md": "DSCR",
        "FullDoc_Matrix.md": "Full Doc",
        "AltDoc_Matrix.md": "Alt Doc, Bank Statement",
        "Glossary.md": None,
    }


def test_a_program_set_later_shows_without_reindexing(manager_api, assistant):
    glossary = assistant.documents.get(original_name="Glossary.md")
    indexed_at = glossary.indexed_at
    bot_services.document_set_metadata(document=glossary, metadata={"program": "General"})
    glossary.refresh_from_db()
    assert glossary.indexed_at == indexed_at and glossary.status == "ready"
    items = manager_api.get(url("admin/documents")).json()["items"]
    assert {item["filename"]: item["program"] for item in items}["Glossary.md"] == "General"


def test_another_users_documents_never_match(rep, assistant):
    other = make_user(email=f"otro@{DOMAIN}")
    theirs = make_bot(owner=other, language="es")
    make_indexed_document(
        bot=theirs, text="Reservas de doce meses.", name="Theirs.md", metadata={"program": "DSCR"}
    )
    status, _, events = chat(rep, {"program": "DSCR"})
    assert status == 200 and sources(events) == ["DSCR_Matrix.md"]
    # Naming their bot is a 404, filter or not.
    status, _, body = chat(rep, {"program": "DSCR"}, bot=str(theirs.pk))
    assert status == 404 and body["detail"]["code"] == "NOT_FOUND"
