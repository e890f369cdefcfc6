"""Hybrid knowledge search: exact vectors in numpy, reciprocal-rank fusion, the documents
seam, the fallbacks and re-embedding. Same behaviour on PostgreSQL and SQLite."""

import numpy as np
import pytest
from django.core.management import call_command

from bots import services
from bots.knowledge import vectors
from bots.knowledge.embeddings import get_embedder
from bots.knowledge.search import fuse_ranks, search
from bots.models import Chunk, Document, DocumentStatus
from bots.tests.embedders import DIMENSIONS
from bots.tests.factories import make_bot, make_indexed_document, upload_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def bot(user):
    return make_bot(owner=user, language="en")


# --- Exact vector search ------------------------------------------------------------------


def _vectors(count: int, dimensions: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dimensions)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("blocks", [1, 3])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_numpy_search_equals_a_brute_force_reference(seed, blocks, settings, monkeypatch):
    # In three blocks side by side as a large bot's matrix is (from PARALLEL_ROWS rows).
    settings.VECTOR_SEARCH_THREADS = blocks
    monkeypatch.setattr(vectors, "PARALLEL_ROWS", 100)
    matrix = _vectors(500, 24, seed)
    documents = [f"doc-{index}" for index in range(7)]
    codes = np.arange(500, dtype=np.int32) % 7
    store = vectors.BotVectors(
        chunk_ids=np.arange(1000, 1500, dtype=np.int64),
        document_codes=codes,
        document_ids=documents,
        matrix=matrix,
    )
    query = _vectors(1, 24, seed + 100)[0]
    allowed = {"doc-1", "doc-4"}

    def reference(k, only=None, minimum=None):
        rows = []
        for row in range(500):
            if only is not None and documents[codes[row]] not in only:
                continue
            similarity = sum(float(a) * float(b) for a, b in zip(matrix[row], query, strict=True))
            if minimum is None or similarity >= minimum:
                rows.append((1000 + row, similarity))
        rows.sort(key=lambda pair: (-pair[1], pair[0]))
        return rows[:k]

    for k, only, minimum in [
        (10, None, None),
        (1, None, None),
        (500, None, None),
        (8, allowed, None),
        (50, None, 0.2),
    ]:
        got = vectors.top_k(store, query, k=k, document_ids=only, min_similarity=minimum)
        expected = reference(k, only, minimum)
        assert [chunk_id for chunk_id, _ in got] == [chunk_id for chunk_id, _ in expected]
        assert np.allclose([s for _, s in got], [s for _, s in expected], atol=1e-5)


def test_reciprocal_rank_fusion_rewards_agreement():
    fused = fuse_ranks([["a", "b", "c"], ["c", "a", "d"]])
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3][1] == pytest.approx(1 / 63)


# --- Hybrid search over stored vectors ----------------------------------------------------


def test_semantic_hits_report_their_similarity_and_retriever(bot):
    make_indexed_document(
        bot=bot, text="Refunds are paid within thirty days.", name="refunds.txt", embed=True
    )
    make_indexed_document(bot=bot, text="The office opens at nine.", name="office.txt", embed=True)
    hits = search(bot, "refunds", 5, mode="semantic")
    assert hits[0].document_name == "refunds.txt"
    assert hits[0].retriever == "semantic"
    assert hits[0].score == pytest.approx(hits[0].similarity) and hits[0].score > 0.3


def test_hybrid_search_fuses_both_retrievers_and_labels_each_hit(bot):
    make_indexed_document(
        bot=bot, text="Refunds are paid within thirty days.", name="refunds.txt", embed=True
    )
    make_indexed_document(
        bot=bot, text="Refund requests go to the billing desk.", name="desk.txt", embed=False
    )
    hits = search(bot, "refunds", 5)
    by_name = {hit.document_name: hit for hit in hits}
    assert by_name["refunds.txt"].retriever == "both"
    assert by_name["desk.txt"].retriever == "keyword"  # not embedded: keywords only
    assert hits[0].document_name == "refunds.txt"
    assert hits[0].score == pytest.approx(2 / 61)


def test_the_documents_seam_restricts_both_retrievers_before_ranking(bot):
    wanted = make_indexed_document(bot=bot, text="Refunds take ten days here.", name="wanted.txt", embed=True)
    for number in range(5):
        make_indexed_document(
            bot=bot, text=f"Refunds are handled, case {number}.", name=f"o{number}.txt", embed=True
        )
    for mode in ("keyword", "semantic", "hybrid"):
        hits = search(bot, "refunds", 1, mode=mode, documents=Document.objects.filter(pk=wanted.pk))
        assert [hit.document_name for hit in hits] == ["wanted.txt"], mode
    assert search(bot, "refunds", 5, documents=Document.objects.none()) == []


def test_a_minimum_similarity_drops_weak_semantic_hits(bot):
    make_indexed_document(bot=bot, text="Refunds are paid within thirty days.", embed=True)
    make_indexed_document(bot=bot, text="The office opens at nine.", name="office.txt", embed=True)
    bot.min_similarity = 0.99
    bot.save()
    assert search(bot, "weather tomorrow", 5, mode="semantic") == []


def test_top_k_of_the_bot_is_the_default_k(bot):
    for number in range(4):
        make_indexed_document(bot=bot, text=f"Refund rule number {number}.", name=f"{number}.txt", embed=True)
    bot.top_k = 2
    bot.save()
    assert len(search(bot, "refund rule")) == 2


def test_the_query_embedding_failing_falls_back_to_keywords(bot, fake_embedder):
    make_indexed_document(bot=bot, text="Refunds are paid within thirty days.", embed=True)
    fake_embedder.fail = True
    hits = search(bot, "refunds", 5)
    assert [hit.retriever for hit in hits] == ["keyword"]
    assert "fake embedder" in hits.fallback


def test_the_cache_sees_a_new_and_a_deleted_document(bot):
    first = make_indexed_document(
        bot=bot, text="Refunds are paid within thirty days.", name="a.txt", embed=True
    )
    assert len(search(bot, "refunds", 5, mode="semantic")) == 1
    make_indexed_document(bot=bot, text="Refunds of gift cards are not possible.", name="b.txt", embed=True)
    assert len(search(bot, "refunds", 5, mode="semantic")) == 2
    services.document_delete(document=first)
    assert [hit.document_name for hit in search(bot, "refunds", 5, mode="semantic")] == ["b.txt"]


def test_the_cache_is_bounded(bot, settings):
    settings.VECTOR_CACHE_MAX_CHUNKS = 1
    other = make_bot(owner=bot.owner)
    make_indexed_document(bot=bot, text="Refunds are paid.", embed=True)
    make_indexed_document(bot=other, text="Refunds are paid.", embed=True)
    search(bot, "refunds", 5, mode="semantic")
    search(other, "refunds", 5, mode="semantic")
    assert len(vectors._CACHE) == 1


# --- Indexing and re-embedding -------------------------------------------------------------


def _upload(bot, capture):
    with capture(execute=True):
        document = upload_document(bot=bot, name="guide.txt", content=b"Refunds are paid within thirty days.")
    document.refresh_from_db()
    return document


def test_indexing_embeds_every_chunk_and_records_the_embedder(
    bot, fake_embedder, django_capture_on_commit_callbacks
):
    document = _upload(bot, django_capture_on_commit_callbacks)
    assert document.status == DocumentStatus.READY
    assert document.embedding_model == fake_embedder.key and document.embedding_dimensions == DIMENSIONS
    assert all(len(chunk.embedding) == DIMENSIONS * 4 for chunk in Chunk.objects.filter(document=document))


def test_the_status_shows_the_document_is_embedding(bot, fake_embedder, django_capture_on_commit_callbacks):
    seen = []
    embed = fake_embedder.embed_passages

    def watching(texts):
        seen.append(Document.objects.get(bot=bot).status)
        return embed(texts)

    fake_embedder.embed_passages = watching
    _upload(bot, django_capture_on_commit_callbacks)
    assert seen == [DocumentStatus.EMBEDDING]


def test_an_embedder_that_keeps_failing_fails_the_document_but_keeps_keyword_search(
    bot, fake_embedder, settings, django_capture_on_commit_callbacks
):
    settings.EMBEDDINGS_MAX_ATTEMPTS = 3
    fake_embedder.fail = True
    document = _upload(bot, django_capture_on_commit_callbacks)
    assert document.status == DocumentStatus.FAILED
    assert "could not be embedded" in document.error_message and "keyword search" in document.error_message
    assert len(fake_embedder.calls) == 3  # retried
    assert [hit.retriever for hit in search(bot, "refunds", 5)] == ["keyword"]


def test_a_model_change_re_embeds_and_searches_by_keywords_until_then(bot, settings, fake_embedder):
    make_indexed_document(bot=bot, text="Refunds are paid within thirty days.", embed=True)
    settings.EMBEDDINGS_DIMENSIONS = 32  # another model: its vectors must not be compared
    assert [hit.retriever for hit in search(bot, "refunds", 5)] == ["keyword"]
    call_command("reembed_documents", "--bot", str(bot.pk))
    document = Document.objects.get(bot=bot)
    assert document.embedding_model == "fake:bag-of-words:32" and document.embedding_dimensions == 32
    assert document.status == DocumentStatus.READY
    assert [hit.retriever for hit in search(bot, "refunds", 5)] == ["both"]


def test_reembedding_queued_runs_in_the_celery_task(bot, settings, django_capture_on_commit_callbacks):
    make_indexed_document(bot=bot, text="Refunds are paid within thirty days.", embed=True)
    settings.EMBEDDINGS_DIMENSIONS = 16
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reembed_documents", "--queue")
    assert Document.objects.get(bot=bot).embedding_model == "fake:bag-of-words:16"


# --- Meaning and languages, with the real local model -------------------------------------

HANDBOOK_ES = [
    "Las devoluciones se aceptan durante treinta días naturales desde la entrega del pedido.",
    "El horario de atención telefónica es de lunes a viernes, de nueve a seis.",
    "Las nóminas se pagan el último día hábil de cada mes mediante transferencia.",
]
HANDBOOK_EN = [
    "Employees may work from home up to two days per week with their manager approval.",
    "Lost access badges must be reported to the security office immediately.",
]


@pytest.fixture
def bilingual_bot(user, local_embedder):
    bot = make_bot(owner=user, language="es")
    for number, text in enumerate(HANDBOOK_ES):
        make_indexed_document(bot=bot, text=text, name=f"es{number}.txt", embed=True)
    for number, text in enumerate(HANDBOOK_EN):
        make_indexed_document(bot=bot, text=text, name=f"en{number}.txt", embed=True)
    return bot


CROSS_LANGUAGE = [
    ("How long do I have to return an order?", "es0.txt"),
    ("When are salaries paid?", "es2.txt"),
    ("What are the phone support hours?", "es1.txt"),
    ("¿Puedo trabajar desde casa?", "en0.txt"),
    ("¿Qué hago si pierdo mi tarjeta de acceso?", "en1.txt"),
]


def test_a_question_in_one_language_finds_the_passage_in_the_other(bilingual_bot):
    for question, expected in CROSS_LANGUAGE:
        semantic = search(bilingual_bot, question, 1, mode="semantic")
        assert semantic[0].document_name == expected, question
        # Fused with the keyword side, a passage sharing one incidental word with the
        # question does not outrank it: beside meaning, only chunks with every word count.
        hybrid = search(bilingual_bot, question, 3)
        assert hybrid[0].document_name == expected, question
        # Words alone do not find it first: the meaning does.
        keyword = search(bilingual_bot, question, 1, mode="keyword")
        assert not keyword or keyword[0].document_name != expected or question.startswith("¿Puedo")


def test_embeddings_turned_off_index_without_vectors_and_search_by_keywords(
    bot, settings, django_capture_on_commit_callbacks
):
    settings.EMBEDDINGS_PROVIDER = "none"
    document = _upload(bot, django_capture_on_commit_callbacks)
    assert document.status == DocumentStatus.READY and document.embedding_model == ""
    hits = search(bot, "refunds", 5)
    assert [hit.retriever for hit in hits] == ["keyword"] and hits.fallback == ""


def test_with_vectors_hybrid_counts_words_only_for_chunks_that_have_them_all(bot, fake_embedder):
    make_indexed_document(bot=bot, text="Las facturas se emiten cada mes.", name="a.txt", embed=True)
    make_indexed_document(bot=bot, text="Las facturas y los pagos se consultan.", name="c.txt", embed=True)
    by_words = {hit.document_name: hit.retriever for hit in search(bot, "facturas pagos", 5)}
    assert by_words["c.txt"] == "both" and by_words.get("a.txt") in (None, "semantic")
    keyword = {hit.document_name for hit in search(bot, "facturas pagos", 5, mode="keyword")}
    assert keyword == {"a.txt", "c.txt"}


def test_a_chunk_is_embedded_as_the_mean_of_its_sentences_each_embedded_once(fake_embedder):
    embedder = get_embedder()
    texts = ["Refunds take a week. Shipping is free.", "Shipping is free. Returns need a receipt."]
    embedded = vectors.embed_chunks(embedder.embed_passages, texts)
    assert embedder.calls[-1] == ["Refunds take a week.", "Shipping is free.", "Returns need a receipt."]
    for (chunk_vector, sentence_rows), sentences in zip(embedded, [texts[0], texts[1]], strict=True):
        assert sentence_rows.shape == (2, DIMENSIONS)
        mean = sentence_rows.mean(axis=0)
        assert np.allclose(chunk_vector, mean / np.linalg.norm(mean), atol=1e-6)
    stored = vectors.sentences_from_bytes(vectors.sentences_to_bytes(embedded[0][1]), DIMENSIONS)
    assert np.allclose(stored, embedded[0][1], atol=1e-3)


def test_candidates_are_ranked_again_by_their_best_sentence(bot, fake_embedder):
    # Both chunks are about as close to the question as a whole; only one has a sentence
    # that says what it asks.
    diluted = make_indexed_document(
        bot=bot,
        text="Warranty repairs and warranty claims. Parcels leave the warehouse daily.",
        name="a.txt",
        embed=True,
    )
    answer = make_indexed_document(
        bot=bot,
        text="Opening hours are nine to five. The warranty does last long on every repair.",
        name="b.txt",
        embed=True,
    )
    query = get_embedder().embed_queries(["How long does the warranty last on a repair?"])[0]
    ids = {document.original_name: Chunk.objects.get(document=document).pk for document in (diluted, answer)}
    chunk_scores = {ids["a.txt"]: 0.5, ids["b.txt"]: 0.45}
    ranked = vectors.rerank(list(chunk_scores.items()), query)
    assert [chunk_id for chunk_id, _ in ranked] == [ids["b.txt"], ids["a.txt"]]
    sentences = vectors.sentences_from_bytes(
        Chunk.objects.get(pk=ids["b.txt"]).sentence_embeddings, DIMENSIONS
    )
    best_sentence = float(np.max(sentences @ query))
    both = sentences.sum(axis=0)
    best_pair = float(both @ query / np.linalg.norm(both))  # its two sentences together
    assert ranked[0][1] == pytest.approx((best_sentence + best_pair + 0.45) / 3, abs=1e-3)
    # A chunk stored without sentence vectors (embedded before they existed) keeps its score.
    Chunk.objects.filter(pk=ids["a.txt"]).update(sentence_embeddings=None)
    assert dict(vectors.rerank(list(chunk_scores.items()), query))[ids["a.txt"]] == 0.5


def test_an_answer_told_by_two_neighbouring_sentences_outranks_the_same_sentences_apart(bot, fake_embedder):
    # The same best sentence and the same chunk similarity: only the neighbours differ.
    apart = make_indexed_document(
        bot=bot,
        text="Warranty repairs happen in our workshop. Parcels leave every morning. Duration: fifteen days at most.",
        name="apart.txt",
        embed=True,
    )
    together = make_indexed_document(
        bot=bot,
        text="Warranty repairs happen in our workshop. Duration: fifteen days at most. Parcels leave every morning.",
        name="together.txt",
        embed=True,
    )
    ids = {document.original_name: Chunk.objects.get(document=document).pk for document in (apart, together)}
    query = get_embedder().embed_queries(["Warranty repair duration?"])[0]
    ranked = vectors.rerank([(ids["apart.txt"], 0.4), (ids["together.txt"], 0.4)], query)
    assert [chunk_id for chunk_id, _ in ranked] == [ids["together.txt"], ids["apart.txt"]]
    assert ranked[0][1] > ranked[1][1]


def test_exclusions_and_phrases_keep_hybrid_to_words_but_or_keeps_meaning(bot, fake_embedder):
    make_indexed_document(
        bot=bot, text="Train travel is preferred for short trips.", name="train.txt", embed=True
    )
    make_indexed_document(bot=bot, text="Flights need a manager's approval.", name="fly.txt", embed=True)
    excluded = search(bot, "travel -flights", 5)
    assert {hit.retriever for hit in excluded} == {"keyword"}
    assert [hit.document_name for hit in excluded] == ["train.txt"]
    phrase = search(bot, '"short trips"', 5)
    assert [(hit.document_name, hit.retriever) for hit in phrase] == [("train.txt", "keyword")]
    either = search(bot, "Should I fly or take the train for short trips?", 5)
    assert either[0].document_name == "train.txt" and either[0].retriever in ("semantic", "both")


def test_a_chunk_of_many_tiny_sentences_stores_a_bounded_number_of_sentence_vectors(fake_embedder):
    text = " ".join(f"Item {n}." for n in range(100))
    [(_, rows)] = vectors.embed_chunks(get_embedder().embed_passages, [text])
    assert len(rows) == vectors.MAX_SENTENCES_PER_CHUNK
    assert get_embedder().calls[-1][0].startswith("Item 0. Item 1.")


def test_searches_that_arrive_while_a_bots_vectors_load_wait_for_that_one_load(monkeypatch):
    import threading
    import time

    loads = []
    matrix = _vectors(3, 4, 1)

    def slow_load(bot_id, embedder_key, dimensions):
        loads.append(bot_id)
        time.sleep(0.2)
        return vectors.BotVectors(
            chunk_ids=np.arange(3, dtype=np.int64),
            document_codes=np.zeros(3, dtype=np.int32),
            document_ids=["doc"],
            matrix=matrix,
        )

    monkeypatch.setattr(vectors, "_version", lambda bot_id, embedder_key: (3, "v1"))
    monkeypatch.setattr(vectors, "_load", slow_load)
    vectors.clear_cache()
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(vectors.bot_vectors("bot", "model", 4))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    vectors.clear_cache()
    assert loads == ["bot"] and len(got) == 8 and all(item is got[0] for item in got)


def test_the_question_is_embedded_while_the_keyword_query_runs(bot, fake_embedder, monkeypatch):
    """Hybrid search sends the full-text query while the question's embedding runs in
    another thread: the embedder here waits for the keyword query to start."""
    import threading

    from bots.knowledge import search as search_module

    make_indexed_document(bot=bot, text="Refunds are paid within thirty days.", embed=True)
    keyword_started = threading.Event()
    overlapped = []
    backend = search_module._backend()
    original_search_chunks = backend.search_chunks
    original_embed = fake_embedder.embed_queries

    def search_chunks(**kwargs):
        keyword_started.set()
        return original_search_chunks(**kwargs)

    def embed_queries(texts):
        overlapped.append(keyword_started.wait(5))
        return original_embed(texts)

    monkeypatch.setattr(backend, "search_chunks", search_chunks)
    monkeypatch.setattr(fake_embedder, "embed_queries", embed_queries)
    hits = search(bot, "refunds thirty days", 5)
    assert overlapped == [True]
    assert [hit.retriever for hit in hits] == ["both"]


def test_the_vectors_tell_whether_the_filtered_documents_have_rows(bot):
    embedded = make_indexed_document(bot=bot, text="Refunds take ten days.", name="e.txt", embed=True)
    plain = make_indexed_document(bot=bot, text="Refunds are handled.", name="p.txt")
    embedder = get_embedder()
    loaded = vectors.bot_vectors(bot.pk, embedder.key, embedder.dimensions)
    assert vectors.has_rows(loaded) and vectors.has_rows(loaded, {embedded.pk})
    assert not vectors.has_rows(loaded, {plain.pk}) and not vectors.has_rows(loaded, set())
    # Only the document without vectors: its keywords match loosely, as in keyword mode.
    hits = search(bot, "refunds nothing", 5, documents=Document.objects.filter(pk=plain.pk))
    assert [(hit.document_name, hit.retriever) for hit in hits] == [("p.txt", "keyword")]


def test_with_no_chunk_close_enough_in_meaning_any_word_will_do(bot):
    make_indexed_document(bot=bot, text="Las facturas se emiten cada mes.", name="a.txt", embed=True)
    bot.min_similarity = 0.99
    bot.save()
    hits = search(bot, "facturas pagos", 5)
    assert [(hit.document_name, hit.retriever) for hit in hits] == [("a.txt", "keyword")]
