"""A small deterministic embedder for tests about plumbing (not about meaning): each word
stem hashes to one of 256 dimensions, so texts that share words are similar and texts
that do not are orthogonal. Registered as `EMBEDDINGS_PROVIDER=fake`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from bots.knowledge.embeddings import normalize
from bots.knowledge.query import fold

DIMENSIONS = 256
_WORD = re.compile(r"\w+")


class FakeEmbedder:
    def __init__(self, model: str = "bag-of-words", dimensions: int | None = None) -> None:
        self.dimensions = dimensions or DIMENSIONS
        self.key = f"fake:{model or 'bag-of-words'}:{self.dimensions}"
        self.calls: list[list[str]] = []
        self.fail = False

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        from bots.knowledge.embeddings import EmbeddingError

        self.calls.append(list(texts))
        if self.fail:
            raise EmbeddingError("the fake embedder was told to fail")
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(fold(text)):
                if len(word) < 3:
                    continue
                digest = hashlib.blake2b(word[:5].encode(), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "big") % self.dimensions] += 1.0
        return normalize(vectors) if len(texts) else vectors

    embed_queries = _embed
    embed_passages = _embed
