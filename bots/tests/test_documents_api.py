import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bots.models import Chunk, Document, DocumentStatus
from bots.tests.factories import docx_bytes, make_bot, make_indexed_document, pdf_bytes, zip_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(user):
    return make_bot(owner=user, language="es")


@pytest.fixture
def upload(user_client, bot, django_capture_on_commit_callbacks):
    def send(name, content, client=None, target=None):
        target = target or bot
        with django_capture_on_commit_callbacks(execute=True):
            return (client or user_client).post(
                f"/api/v1/bots/{target.pk}/documents",
                {"file": SimpleUploadedFile(name, content)},
                format="multipart",
            )

    return send


def _stored_files(media_root):
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


def test_an_upload_is_accepted_pending_and_then_indexed(upload, user_client, bot):
    response = upload("guía.md", "# Envíos\n\nLos envíos tardan tres días.".encode())
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["name"], body["status"], body["content_type"], body["size"]) == (
        "guía.md",
        "pending",
        "text/markdown",
        len("# Envíos\n\nLos envíos tardan tres días.".encode()),
    )
    assert len(body["sha256"]) == 64
    detail = user_client.get(f"/api/v1/bots/{bot.pk}/documents/{body['id']}").json()
    assert (detail["status"], detail["page_count"], detail["chunk_count"], detail["error_message"]) == (
        "ready",
        1,
        1,
        "",
    )
    listing = user_client.get(f"/api/v1/bots/{bot.pk}/documents").json()
    assert [document["id"] for document in listing["results"]] == [body["id"]]


def test_pdf_and_docx_uploads_are_indexed(upload, bot):
    assert upload("a.pdf", pdf_bytes(["Instalación rápida"])).status_code == 202
    assert upload("b.docx", docx_bytes(["Garantía de dos años."])).status_code == 202
    assert set(Document.objects.filter(bot=bot).values_list("status", flat=True)) == {"ready"}


def test_an_empty_file_is_a_400_and_nothing_is_stored(upload, bot, _media_root):
    response = upload("empty.txt", b"")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "EMPTY_FILE"
    assert Document.objects.count() == 0 and _stored_files(_media_root) == []


def test_a_file_over_the_limit_is_a_413_and_nothing_is_stored(upload, settings, _media_root):
    settings.MAX_UPLOAD_MB = 1
    response = upload("big.txt", b"a" * (1024 * 1024 + 10))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "1 MB" in response.json()["error"]["message"]
    assert Document.objects.count() == 0 and _stored_files(_media_root) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
        ("program.exe", b"MZ\x90\x00"),
        ("binary.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4),
        ("archive.txt", zip_bytes()),
        ("fake.pdf", b"just some text"),
        ("fake.docx", b"just some text"),
    ],
)
def test_unsupported_or_disguised_files_are_a_415(upload, name, content, _media_root):
    response = upload(name, content)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert Document.objects.count() == 0 and _stored_files(_media_root) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage", "The PDF is damaged"),
        (pdf_bytes([""]), "no text that can be extracted"),
    ],
)
def test_an_unreadable_pdf_ends_failed_with_a_clear_message(upload, user_client, bot, content, message):
    document_id = upload("report.pdf", content).json()["id"]
    detail = user_client.get(f"/api/v1/bots/{bot.pk}/documents/{document_id}").json()
    assert detail["status"] == "failed"
    assert message in detail["error_message"]
    assert detail["chunk_count"] == 0 and not Chunk.objects.exists()


def test_non_utf8_text_is_indexed(upload, user_client, bot):
    upload("latin.txt", "Política de devolución: treinta días.".encode("latin-1"))
    [hit] = user_client.get(f"/api/v1/bots/{bot.pk}/search?q=devolucion").json()
    assert hit["text"] == "Política de devolución: treinta días."


def test_a_huge_single_line_file_is_indexed(upload, bot):
    response = upload("line.txt", ("token " * 400_000).encode())
    assert response.status_code == 202
    document = Document.objects.get()
    assert document.status == DocumentStatus.READY and document.chunk_count > 2000


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
        ("bad\x00na\x1bme\x7f.txt", "badname.txt"),
        ("   .hidden.txt", "hidden.txt"),
    ],
)
def test_filenames_lose_path_separators_and_control_characters(upload, sent, stored, _media_root):
    response = upload(sent, b"contenido")
    assert response.status_code == 202
    assert response.json()["name"] == stored
    [path] = _stored_files(_media_root)
    assert path.is_relative_to(_media_root) and path.name == f"{response.json()['id']}.txt"


def test_deleting_a_document_removes_it_and_its_chunks(upload, user_client, bot):
    document_id = upload("a.txt", b"Texto para borrar.").json()["id"]
    response = user_client.delete(f"/api/v1/bots/{bot.pk}/documents/{document_id}")
    assert response.status_code == 204
    assert not Document.objects.exists() and not Chunk.objects.exists()
    assert user_client.get(f"/api/v1/bots/{bot.pk}/search?q=borrar").json() == []


def test_the_file_is_removed_once_the_deletion_commits(
    upload, user_client, bot, _media_root, django_capture_on_commit_callbacks
):
    document_id = upload("a.txt", b"Texto para borrar.").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        user_client.delete(f"/api/v1/bots/{bot.pk}/documents/{document_id}")
    assert _stored_files(_media_root) == []


def test_reindex_queues_the_document_again(upload, user_client, bot, django_capture_on_commit_callbacks):
    document_id = upload("a.txt", b"Texto original.").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(f"/api/v1/bots/{bot.pk}/documents/{document_id}/reindex")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert Document.objects.get(pk=document_id).status == "ready"
    assert Chunk.objects.count() == 1


def test_reindexing_a_document_being_indexed_is_a_409(user_client, bot):
    document = make_indexed_document(bot=bot, text="x")
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PROCESSING)
    response = user_client.post(f"/api/v1/bots/{bot.pk}/documents/{document.pk}/reindex")
    assert response.status_code == 409 and response.json()["error"]["code"] == "DOCUMENT_BUSY"


def test_uploading_needs_a_file_field(user_client, bot):
    response = user_client.post(f"/api/v1/bots/{bot.pk}/documents", {"other": "x"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]


def test_it_hides_another_users_bot_documents(upload, other_client, bot, _media_root):
    document_id = upload("a.txt", b"Privado.").json()["id"]
    base = f"/api/v1/bots/{bot.pk}/documents"
    assert upload("b.txt", b"Intruso.", client=other_client).status_code == 404
    assert other_client.get(base).status_code == 404
    assert other_client.get(f"{base}/{document_id}").status_code == 404
    assert other_client.delete(f"{base}/{document_id}").status_code == 404
    assert other_client.post(f"{base}/{document_id}/reindex").status_code == 404
    assert Document.objects.count() == 1 and len(_stored_files(_media_root)) == 1


def test_a_document_of_another_bot_is_not_found(upload, user_client, user, bot):
    document_id = upload("a.txt", b"Del primero.").json()["id"]
    second = make_bot(owner=user)
    assert user_client.get(f"/api/v1/bots/{second.pk}/documents/{document_id}").status_code == 404


def test_users_cannot_see_or_change_a_public_agents_knowledge(upload, user_client, manager_client):
    agent = make_bot(owner=None, is_public=True)
    assert user_client.get(f"/api/v1/bots/{agent.pk}/documents").status_code == 403
    assert upload("a.txt", b"x", target=agent).status_code == 403
    assert manager_client.get(f"/api/v1/bots/{agent.pk}/documents").status_code == 200
    assert upload("a.txt", b"x", client=manager_client, target=agent).status_code == 403


def test_an_admin_uploads_to_a_platform_agent(upload, admin_client_api):
    agent = make_bot(owner=None, is_public=True)
    assert upload("a.txt", b"Conocimiento.", client=admin_client_api, target=agent).status_code == 202
