from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Plan, User
from bots.knowledge.search import search
from bots.models import Bot, Category, Chunk, Document, DocumentStatus, ModelConfig
from bots.tests.factories import make_bot, pdf_bytes

pytestmark = pytest.mark.django_db


def _seed(monkeypatch) -> str:
    monkeypatch.setenv("DEMO_ADMIN_EMAIL", "root@bytchat.local")
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "a-long-admin-password-123")
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _snapshot():
    return {
        "plans": list(Plan.objects.order_by("name").values()),
        "users": sorted(User.objects.values_list("email", "role")),
        "categories": list(Category.objects.order_by("name_en").values()),
        "bots": list(Bot.objects.order_by("name_en").values()),
        "configs": sorted(ModelConfig.objects.values_list("bot_id", "provider", "model_id")),
        "documents": list(Document.objects.values("id", "status", "chunk_count", "indexed_at")),
        "chunks": sorted(Chunk.objects.values_list("id", "text")),
    }


def test_seed_demo_creates_plans_categories_agents_and_an_indexed_guide(monkeypatch):
    output = _seed(monkeypatch)
    free = Plan.objects.get(name="Free")
    assert (free.max_conversations_per_bot, free.max_messages_per_conversation) == (5, 100)
    assert User.objects.get(email="root@bytchat.local").role == "admin"
    assert "root@bytchat.local / a-long-admin-password-123" in output
    assert Category.objects.filter(is_active=True).count() >= 4
    assert all(category.name_es and category.name_en for category in Category.objects.all())
    agents = Bot.objects.filter(owner__isnull=True, is_public=True)
    assert agents.count() >= 3
    assert all(len(agent.system_prompt) > 100 and agent.category for agent in agents)
    guide_agent = agents.get(name_en="Bytchat Guide")
    document = Document.objects.get(bot=guide_agent)
    assert document.status == DocumentStatus.READY and document.chunk_count > 3
    hits = search(guide_agent, "how do I upload a scanned PDF", 3)
    assert hits and "OCR" in " ".join(hit.text for hit in hits)


def test_seed_demo_twice_changes_nothing(monkeypatch):
    _seed(monkeypatch)
    before = _snapshot()
    output = _seed(monkeypatch)
    assert _snapshot() == before
    assert "already indexed" in output and "password unchanged" in output


def test_index_documents_indexes_files_and_folders_and_summarises(tmp_path, user):
    bot = make_bot(owner=user)
    folder = tmp_path / "docs"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.md").write_text("# Uno\n\nPrimer documento.")
    (folder / "nested" / "b.pdf").write_bytes(pdf_bytes(["Página uno", "Página dos"]))
    (folder / "ignored.png").write_bytes(b"\x89PNG")
    single = tmp_path / "c.txt"
    single.write_text("Tercer documento.")
    out, err = StringIO(), StringIO()
    call_command("index_documents", "--bot", str(bot.pk), str(folder), str(single), stdout=out, stderr=err)
    assert "Indexed 3 document(s): 4 page(s), 3 chunk(s)" in out.getvalue()
    assert "0 failed" in out.getvalue()
    assert "[3/3] c.txt" in err.getvalue()
    assert set(Document.objects.filter(bot=bot).values_list("status", flat=True)) == {"ready"}


def test_index_documents_skips_known_files_unless_reindex(tmp_path, user):
    bot = make_bot(owner=user)
    path = tmp_path / "a.txt"
    path.write_text("Contenido estable.")
    call_command("index_documents", "--bot", str(bot.pk), str(path), stdout=StringIO(), stderr=StringIO())
    first = list(Chunk.objects.values_list("pk", flat=True))
    out = StringIO()
    call_command("index_documents", "--bot", str(bot.pk), str(path), stdout=out, stderr=StringIO())
    assert "1 already indexed" in out.getvalue()
    call_command(
        "index_documents", "--bot", str(bot.pk), str(path), "--reindex", stdout=StringIO(), stderr=StringIO()
    )
    assert Document.objects.count() == 1 and Chunk.objects.count() == 1
    assert list(Chunk.objects.values_list("pk", flat=True)) != first


def test_index_documents_reports_failures_and_exits_non_zero(tmp_path, user):
    bot = make_bot(owner=user)
    (tmp_path / "good.txt").write_text("Bien.")
    (tmp_path / "scan.pdf").write_bytes(pdf_bytes([""]))
    (tmp_path / "fake.docx").write_bytes(b"not a word file")
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("index_documents", "--bot", str(bot.pk), str(tmp_path), stdout=out, stderr=StringIO())
    assert raised.value.returncode == 1
    report = out.getvalue()
    assert "Indexed 1 document(s)" in report and "2 failed" in report
    assert "scan.pdf: The PDF has 1 page(s) but no text" in report
    assert "fake.docx: The file is named .docx but is not a Word document." in report


def test_index_documents_needs_an_existing_bot(tmp_path):
    with pytest.raises(CommandError, match="No active bot"):
        call_command("index_documents", "--bot", "not-a-uuid", str(tmp_path))
