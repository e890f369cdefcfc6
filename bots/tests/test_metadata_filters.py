"""Document metadata and filtered search, the same on PostgreSQL and SQLite: run with and
without DATABASE_URL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bots import services
from bots.knowledge.filters import filter_documents, metadata_clean
from bots.knowledge.search import search
from bots.models import Document, DocumentMetadataValue
from bots.tests.factories import make_bot, make_indexed_document
from bytchat.errors import InvalidInput

pytestmark = pytest.mark.django_db

TEXT = "Loan requirements: the minimum credit score and the reserves for this program."


@pytest.fixture
def bot(user):
    bot = make_bot(owner=user, language="en")
    make_indexed_document(
        bot=bot,
        text=TEXT,
        name="dscr.md",
        metadata={"program": "DSCR", "year": 2024, "effective": "2024-03-01", "tags": ["rental", "investor"]},
    )
    make_indexed_document(
        bot=bot,
        text=TEXT,
        name="full-doc.md",
        metadata={"program": "Full Doc", "year": 2023, "effective": "2023-06-15", "tags": ["w2"]},
    )
    make_indexed_document(
        bot=bot,
        text=TEXT,
        name="alt-doc.md",
        metadata={"program": "Alt Doc", "year": 2025.5, "effective": "2025-01-10", "department": "risk"},
    )
    make_indexed_document(bot=bot, text=TEXT, name="untagged.md")
    return bot


def names(bot, filter_, query="loan requirements", k=10):
    hits = search(bot, query, k, documents=filter_documents(filter_, bot=bot))
    return sorted(hit.document_name for hit in hits)


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"program": "DSCR"}, ["dscr.md"]),
        ({"program": {"eq": "Full Doc"}}, ["full-doc.md"]),
        ({"year": 2023}, ["full-doc.md"]),
        ({"effective": "2025-01-10"}, ["alt-doc.md"]),
        ({"tags": "w2"}, ["full-doc.md"]),  # a list matches when one item equals
        ({"program": {"in": ["DSCR", "Alt Doc"]}}, ["alt-doc.md", "dscr.md"]),
        ({"tags": {"in": ["investor", "w2"]}}, ["dscr.md", "full-doc.md"]),
        ({"year": {"in": [2023, 2024]}}, ["dscr.md", "full-doc.md"]),
        ({"year": {"gte": 2024}}, ["alt-doc.md", "dscr.md"]),
        ({"year": {"gt": 2024}}, ["alt-doc.md"]),
        ({"year": {"lt": 2024}}, ["full-doc.md"]),
        ({"year": {"lte": 2024}}, ["dscr.md", "full-doc.md"]),
        ({"year": {"gte": 2023.5, "lte": 2025}}, ["dscr.md"]),
        ({"effective": {"gte": "2024-01-01"}}, ["alt-doc.md", "dscr.md"]),
        ({"effective": {"gt": "2023-06-15", "lt": "2025-01-10"}}, ["dscr.md"]),
        ({"effective": {"lte": "2023-06-15"}}, ["full-doc.md"]),
        ({"program": "DSCR", "year": 2024}, ["dscr.md"]),
        ({"program": "DSCR", "year": 2023}, []),
        ({"and": [{"year": {"gte": 2023}}, {"tags": "rental"}]}, ["dscr.md"]),
        ({"or": [{"program": "DSCR"}, {"department": "risk"}]}, ["alt-doc.md", "dscr.md"]),
        (
            {"or": [{"and": [{"program": "Full Doc"}, {"year": 2023}]}, {"effective": {"gt": "2025-01-01"}}]},
            ["alt-doc.md", "full-doc.md"],
        ),
        ({"program": "DSCR", "or": [{"year": 2023}, {"tags": "investor"}]}, ["dscr.md"]),
        ({}, ["alt-doc.md", "dscr.md", "full-doc.md", "untagged.md"]),
        (None, ["alt-doc.md", "dscr.md", "full-doc.md", "untagged.md"]),
    ],
)
def test_each_operator_and_their_combinations(bot, filter_, expected):
    assert names(bot, filter_) == expected


def test_the_filter_applies_before_ranking_so_the_top_k_all_match(user):
    """Many better-ranked chunks in other documents must not push the matching one out."""
    bot = make_bot(owner=user, language="en")
    for number in range(8):
        make_indexed_document(
            bot=bot,
            text="Refund refund refund policy. " * 5,
            name=f"noise-{number}.md",
            metadata={"program": "x"},
        )
    make_indexed_document(
        bot=bot,
        text="A long text that mentions a refund once among many other words.",
        name="wanted.md",
        metadata={"program": "DSCR"},
    )
    assert "wanted.md" not in [hit.document_name for hit in search(bot, "refund", 3)]
    hits = search(bot, "refund", 3, documents=filter_documents({"program": "DSCR"}, bot=bot))
    assert [hit.document_name for hit in hits] == ["wanted.md"]


def test_the_filter_is_part_of_the_search_query_not_a_post_filter(bot):
    """The filter resolves to its documents once, then restricts the one candidate query."""
    wanted = Document.objects.get(bot=bot, original_name="dscr.md").pk
    documents = filter_documents({"program": "DSCR"}, bot=bot)
    with CaptureQueriesContext(connection) as queries:
        search(bot, "loan", 5, documents=documents)
    statements = [query["sql"] for query in queries]
    resolving = [index for index, sql in enumerate(statements) if "bots_documentmetadatavalue" in sql]
    searching = [index for index, sql in enumerate(statements) if "bots_chunk" in sql]
    assert len(resolving) == 1
    assert len(searching) == 1
    assert resolving[0] < searching[0]
    candidate_query = statements[searching[0]]  # the allowed ids are among its parameters
    assert str(wanted) in candidate_query or wanted.hex in candidate_query


def test_a_filter_that_matches_no_document_runs_no_search(bot):
    documents = filter_documents({"program": "Nothing"}, bot=bot)
    with CaptureQueriesContext(connection) as queries:
        assert search(bot, "loan", 5, documents=documents) == []
    assert not [query for query in queries if "bots_chunk" in query["sql"]]


def test_hits_carry_their_documents_metadata(bot):
    [hit] = search(bot, "loan", 5, documents=filter_documents({"program": "DSCR"}, bot=bot))
    assert hit.metadata == {
        "program": "DSCR",
        "year": 2024,
        "effective": "2024-03-01",
        "tags": ["rental", "investor"],
    }


@pytest.mark.parametrize(
    ("filter_", "names_it"),
    [
        ({"programme": "DSCR"}, "programme"),
        ({"program": {"like": "D%"}}, "like"),
        ({"program": {}}, "program"),
        ({"program": None}, "program"),
        ({"program": True}, "program"),
        ({"program": ["DSCR"]}, "program"),
        ({"program": {"in": "DSCR"}}, "in"),
        ({"program": {"in": []}}, "in"),
        ({"year": {"gte": "recent"}}, "gte"),
        ({"effective": {"gte": "2024-02-30"}}, "gte"),
        ({"year": {"gte": None}}, "gte"),
        ({"or": {"program": "DSCR"}}, "or"),
        ({"or": []}, "or"),
        ({"and": [{}]}, "and"),
        ({"and": ["program"]}, "program"),
        ({"or": [{"or": [{"or": [{"or": [{"or": [{"program": "x"}]}]}]}]}]}, "deep"),
        ({"bad key!": 1}, "bad key!"),
        ({"program\n": 1}, "program"),
        ({"program": "DS\x00CR"}, "program"),
        ({"year": 10**400}, "year"),
        ({"year": {"gt": 1e300}}, "gt"),
    ],
)
def test_a_bad_filter_is_invalid_input_naming_what_is_wrong(bot, filter_, names_it):
    with pytest.raises(InvalidInput) as raised:
        filter_documents(filter_, bot=bot)
    assert names_it in str(raised.value)
    assert raised.value.fields == {"filter": [str(raised.value)]}


def test_a_key_is_known_when_one_of_the_bots_documents_has_it(bot, user):
    other = make_bot(owner=user, language="en")
    make_indexed_document(bot=other, text=TEXT, metadata={"region": "west"})
    with pytest.raises(InvalidInput, match=r"Unknown metadata key 'region'.*department, effective"):
        filter_documents({"region": "west"}, bot=bot)
    # A stored filter is compiled without the check: its gone key matches nothing.
    assert (
        search(bot, "loan", 5, documents=filter_documents({"region": "west"}, bot=bot, check_keys=False))
        == []
    )


def test_another_users_documents_never_match(bot, other_user):
    theirs = make_bot(owner=other_user, language="en")
    make_indexed_document(bot=theirs, text=TEXT, name="theirs.md", metadata={"program": "DSCR"})
    assert names(bot, {"program": "DSCR"}) == ["dscr.md"]
    assert names(theirs, {"program": "DSCR"}) == ["theirs.md"]
    # Even a queryset naming their document does not reach across bots.
    assert search(bot, "loan", 5, documents=Document.objects.filter(bot=theirs)) == []


@pytest.mark.parametrize(
    ("metadata", "names_it"),
    [
        ([1, 2], "JSON object"),
        ("not json", "JSON object"),
        ({"bad key": "x"}, "bad key"),
        ({"or": "x"}, "or"),
        ({"program": {"nested": "x"}}, "program"),
        ({"program": True}, "program"),
        ({"program": None}, "program"),
        ({"program": ""}, "program"),
        ({"program": "x" * 256}, "program"),
        ({"tags": ["a", 1]}, "tags"),
        ({"effective": "2024-13-01"}, "effective"),
        ({"program\n": "x"}, "program"),
        ({"program": "DS\x00CR"}, "program"),
        ({"year": 10**400}, "year"),
        ({"year": float("nan")}, "year"),
        ({f"k{n}": n for n in range(31)}, "30 keys"),
    ],
)
def test_bad_metadata_is_invalid_input_naming_the_key(metadata, names_it):
    with pytest.raises(InvalidInput) as raised:
        metadata_clean(metadata)
    assert names_it in str(raised.value)


def test_metadata_is_cleaned_and_a_json_string_is_read():
    assert metadata_clean('{"program": " DSCR ", "tags": ["a", "a", "b"], "year": 2024}') == {
        "program": "DSCR",
        "tags": ["a", "b"],
        "year": 2024,
    }
    assert metadata_clean(None) == metadata_clean("") == {}


def test_changing_metadata_keeps_the_chunks_and_replaces_the_typed_values(bot):
    document = Document.objects.get(bot=bot, original_name="dscr.md")
    chunk_ids = list(document.chunks.values_list("pk", flat=True))
    services.document_set_metadata(document=document, metadata={"program": "Bank Statement"})
    assert list(document.chunks.values_list("pk", flat=True)) == chunk_ids
    assert sorted(DocumentMetadataValue.objects.filter(document=document).values_list("key", "text")) == [
        ("program", "Bank Statement")
    ]
    assert names(bot, {"program": "Bank Statement"}) == ["dscr.md"]
    assert names(bot, {"program": {"in": ["DSCR", "Full Doc"]}}) == ["full-doc.md"]


def test_a_bad_metadata_change_stores_nothing(bot):
    document = Document.objects.get(bot=bot, original_name="dscr.md")
    with pytest.raises(InvalidInput):
        services.document_set_metadata(document=document, metadata={"program": {"x": 1}})
    document.refresh_from_db()
    assert document.metadata["program"] == "DSCR"
    assert DocumentMetadataValue.objects.filter(document=document).count() == 5
