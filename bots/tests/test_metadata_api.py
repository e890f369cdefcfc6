"""Setting document metadata (upload, PATCH, the admin, index_documents) and filtering
the search API and a bot's default filter by it."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.tests.test_auth_api import assert_error
from bots.models import Bot, Chunk, Document, DocumentMetadataValue
from bots.tests.factories import make_bot, make_indexed_document, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(user):
    bot = make_bot(owner=user, language="en")
    make_indexed_document(bot=bot, text="Reserves: six months.", name="dscr.md", metadata={"program": "DSCR"})
    make_indexed_document(
        bot=bot, text="Reserves: two months.", name="full.md", metadata={"program": "Full Doc", "year": 2023}
    )
    return bot


def documents_url(bot):
    return f"/api/v1/bots/{bot.pk}/documents"


class TestUpload:
    def test_metadata_is_a_json_form_field(self, user_client, bot):
        response = user_client.post(
            documents_url(bot),
            {
                "file": upload("a.txt", b"Some text."),
                "metadata": json.dumps({"program": "DSCR", "year": 2024}),
            },
            format="multipart",
        )
        assert response.status_code == 202, response.content
        assert response.json()["metadata"] == {"program": "DSCR", "year": 2024}
        document = Document.objects.get(pk=response.json()["id"])
        assert sorted(
            DocumentMetadataValue.objects.filter(document=document).values_list("key", "number")
        ) == [
            ("program", None),
            ("year", 2024.0),
        ]

    @pytest.mark.parametrize(
        ("metadata", "names_it"), [("{", "JSON object"), ('{"a b": 1}', "a b"), ('{"x": {"y": 1}}', "x")]
    )
    def test_bad_metadata_is_a_400_and_nothing_is_stored(self, user_client, bot, metadata, names_it):
        before = Document.objects.count()
        response = user_client.post(
            documents_url(bot),
            {"file": upload("a.txt", b"Some text."), "metadata": metadata},
            format="multipart",
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert names_it in error["message"] and list(error["fields"]) == ["metadata"]
        assert Document.objects.count() == before


class TestEdit:
    def test_patch_replaces_the_metadata_without_reindexing(self, user_client, bot):
        document = bot.documents.get(original_name="dscr.md")
        chunks = list(Chunk.objects.filter(document=document).values_list("pk", flat=True))
        response = user_client.patch(
            f"{documents_url(bot)}/{document.pk}", {"metadata": {"program": "Alt Doc"}}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["metadata"] == {"program": "Alt Doc"}
        assert response.json()["status"] == "ready"
        assert list(Chunk.objects.filter(document=document).values_list("pk", flat=True)) == chunks
        hits = user_client.get(
            f"/api/v1/bots/{bot.pk}/search", {"q": "reserves", "filter": '{"program": "Alt Doc"}'}
        )
        assert [hit["document_name"] for hit in hits.json()] == ["dscr.md"]

    def test_bad_metadata_is_a_400(self, user_client, bot):
        document = bot.documents.get(original_name="dscr.md")
        response = user_client.patch(
            f"{documents_url(bot)}/{document.pk}", {"metadata": {"year": [1, 2]}}, format="json"
        )
        assert "year" in assert_error(response, 400, "VALIDATION_ERROR")["message"]
        document.refresh_from_db()
        assert document.metadata == {"program": "DSCR"}

    def test_another_user_gets_a_404(self, other_client, bot):
        document = bot.documents.get(original_name="dscr.md")
        response = other_client.patch(
            f"{documents_url(bot)}/{document.pk}", {"metadata": {"program": "x"}}, format="json"
        )
        assert response.status_code == 404
        document.refresh_from_db()
        assert document.metadata == {"program": "DSCR"}


class TestSearchApi:
    def search(self, client, bot, filter_):
        return client.get(f"/api/v1/bots/{bot.pk}/search", {"q": "reserves", "filter": filter_})

    def test_the_filter_selects_documents_and_hits_carry_metadata(self, user_client, bot):
        response = self.search(user_client, bot, json.dumps({"year": {"lte": 2023}}))
        assert response.status_code == 200
        assert [(hit["document_name"], hit["metadata"]) for hit in response.json()] == [
            ("full.md", {"program": "Full Doc", "year": 2023})
        ]
        both = self.search(user_client, bot, json.dumps({"or": [{"program": "DSCR"}, {"year": 2023}]}))
        assert sorted(hit["document_name"] for hit in both.json()) == ["dscr.md", "full.md"]
        assert self.search(user_client, bot, json.dumps({"program": "Jumbo"})).json() == []

    @pytest.mark.parametrize(
        ("filter_", "names_it"),
        [
            ('{"region": "x"}', "region"),
            ('{"year": {"gte": "x"}}', "gte"),
            ('{"program": {"regex": "x"}}', "regex"),
            ("[1]", "JSON object"),
            ("{", "JSON object"),
        ],
    )
    def test_a_bad_filter_is_a_400_naming_it(self, user_client, bot, filter_, names_it):
        error = assert_error(self.search(user_client, bot, filter_), 400, "VALIDATION_ERROR")
        assert names_it in error["message"] and list(error["fields"]) == ["filter"]

    def test_another_users_keys_are_unknown_here(self, user_client, bot, other_user):
        theirs = make_bot(owner=other_user, language="en")
        make_indexed_document(bot=theirs, text="Reserves.", metadata={"region": "x"})
        error = assert_error(self.search(user_client, bot, '{"region": "x"}'), 400, "VALIDATION_ERROR")
        assert "region" in error["message"]


class TestBotDefaultFilter:
    def test_an_editor_sets_and_reads_it(self, user_client, bot):
        response = user_client.patch(
            f"/api/v1/bots/{bot.pk}", {"default_filter": {"program": "DSCR"}}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["default_filter"] == {"program": "DSCR"}
        cleared = user_client.patch(f"/api/v1/bots/{bot.pk}", {"default_filter": {}}, format="json")
        assert cleared.json()["default_filter"] is None

    def test_a_bad_default_filter_is_a_400(self, user_client, bot):
        response = user_client.patch(
            f"/api/v1/bots/{bot.pk}", {"default_filter": {"region": "x"}}, format="json"
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert "region" in error["message"] and list(error["fields"]) == ["default_filter"]
        assert Bot.objects.get(pk=bot.pk).default_filter is None

    def test_another_user_gets_a_404(self, other_client, bot):
        response = other_client.patch(
            f"/api/v1/bots/{bot.pk}", {"default_filter": {"program": "x"}}, format="json"
        )
        assert response.status_code == 404


class TestAdmin:
    def test_staff_edit_the_metadata_through_the_service(self, bot, client, admin_user):
        client.force_login(admin_user)
        admin_user_client = client
        document = bot.documents.get(original_name="dscr.md")
        url = f"/admin/bots/document/{document.pk}/change/"
        assert admin_user_client.get(url).status_code == 200
        response = admin_user_client.post(url, {"metadata": '{"program": "Alt Doc", "year": 2025}'})
        assert response.status_code == 302, response.content
        assert DocumentMetadataValue.objects.filter(document=document, key="year", number=2025).exists()
        bad = admin_user_client.post(url, {"metadata": '{"program": {"x": 1}}'})
        assert bad.status_code == 200 and b"program" in bad.content
        document.refresh_from_db()
        assert document.metadata == {"program": "Alt Doc", "year": 2025}


class TestIndexDocumentsCommand:
    def run(self, bot, *args):
        out = StringIO()
        call_command("index_documents", "--bot", str(bot.pk), *args, stdout=out, stderr=StringIO())
        return out.getvalue()

    def test_sidecars_and_flags(self, tmp_path, user):
        bot = make_bot(owner=user)
        (tmp_path / "dscr.md").write_text("DSCR matrix.")
        (tmp_path / "dscr.md.meta.json").write_text('{"program": "DSCR", "year": 2023}')
        (tmp_path / "full.md").write_text("Full Doc matrix.")
        self.run(
            bot, str(tmp_path), "--meta", "year=2024", "--meta", 'tags=["matrix"]', "--meta", "source=web"
        )
        metadata = dict(Document.objects.filter(bot=bot).values_list("original_name", "metadata"))
        assert metadata == {
            "dscr.md": {"program": "DSCR", "year": 2024, "tags": ["matrix"], "source": "web"},
            "full.md": {"year": 2024, "tags": ["matrix"], "source": "web"},
        }

    def test_a_known_file_gets_new_metadata_without_reindexing(self, tmp_path, user):
        bot = make_bot(owner=user)
        (tmp_path / "a.md").write_text("Some text.")
        self.run(bot, str(tmp_path / "a.md"))
        chunks = list(Chunk.objects.values_list("pk", flat=True))
        output = self.run(bot, str(tmp_path / "a.md"), "--meta", "program=DSCR")
        assert "1 already indexed" in output and "Metadata changed on 1" in output
        assert Document.objects.get(bot=bot).metadata == {"program": "DSCR"}
        assert list(Chunk.objects.values_list("pk", flat=True)) == chunks

    def test_a_bad_sidecar_fails_that_file_and_a_bad_flag_stops_before_anything(self, tmp_path, user):
        bot = make_bot(owner=user)
        (tmp_path / "a.md").write_text("Some text.")
        (tmp_path / "a.md.meta.json").write_text('{"year": {"x": 1}}')
        (tmp_path / "b.md").write_text("Other text.")
        with pytest.raises(CommandError, match="1 file"):
            self.run(bot, str(tmp_path))
        assert list(Document.objects.filter(bot=bot).values_list("original_name", flat=True)) == ["b.md"]
        with pytest.raises(CommandError, match="KEY=VALUE"):
            self.run(bot, str(tmp_path / "b.md"), "--meta", "novalue")
        with pytest.raises(CommandError, match="--meta"):
            self.run(bot, str(tmp_path / "b.md"), "--meta", "bad key=1")
