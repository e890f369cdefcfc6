"""Split pages into overlapping chunks that respect paragraphs and sentences.

Pages become pieces: paragraphs, or the sentences of a paragraph too long to fit, or the
words of a sentence too long to fit, or plain slices of a "word" with no spaces at all (a
huge single-line file still chunks). Pieces are packed greedily up to `target_chars`, and a
chunk at least half full ends where a paragraph begins. Each new chunk starts with the
last whole sentences of the previous one, up to `overlap_chars`, so that a passage cut at
a boundary is found whole in one of the two; never with a fragment of a sentence, which
would compete with the chunk that holds the whole of it.

The sizes suit multilingual-e5-small (bench/retrieval_bench.py): about 125 tokens a
chunk, short enough that a chunk's vector says what its section is about.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bots.knowledge.extraction import DocumentTooLarge, Page

TARGET_CHARS = 500
OVERLAP_CHARS = 100
PARAGRAPH_BREAK_SHARE = 0.5

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? … (and closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+")


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    position: int
    text: str
    page_numbers: list[int]


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    page: int
    # True when the piece starts a paragraph: it is joined with a blank line, not a space.
    starts_paragraph: bool


def too_many_chunks(max_chunks: int) -> DocumentTooLarge:
    return DocumentTooLarge(
        f"The document makes more than {max_chunks:,} passages of text (MAX_DOCUMENT_CHUNKS). "
        "Split it into smaller files and upload them one by one."
    )


def chunk_pages(
    pages: Sequence[Page],
    *,
    target_chars: int = TARGET_CHARS,
    overlap_chars: int = OVERLAP_CHARS,
    max_chunks: int | None = None,
) -> list[ChunkDraft]:
    """The chunks of `pages`; `DocumentTooLarge` as soon as there would be more than
    `max_chunks`."""
    if overlap_chars >= target_chars:
        raise ValueError("overlap_chars must be smaller than target_chars")
    chunks: list[ChunkDraft] = []
    current: list[_Piece] = []
    size = 0

    def close() -> None:
        text = _join(current)
        if text:
            if max_chunks is not None and len(chunks) >= max_chunks:
                raise too_many_chunks(max_chunks)
            pages_in_chunk = sorted({piece.page for piece in current})
            chunks.append(ChunkDraft(len(chunks), text, pages_in_chunk))

    for piece in _pieces(pages, target_chars):
        added = len(piece.text) + (2 if current else 0)
        # A chunk ends where it must (full) or, once half full, where a paragraph begins:
        # a chunk about one section says what it is about more clearly.
        full = size + added > target_chars
        section = piece.starts_paragraph and size >= target_chars * PARAGRAPH_BREAK_SHARE
        if current and (full or section):
            close()
            current = _overlap(current, overlap_chars, room=target_chars - len(piece.text) - 2)
            size = len(_join(current))
            added = len(piece.text) + (2 if current else 0)
        current.append(piece)
        size += added
    if current:
        close()
    return chunks


def _join(pieces: Sequence[_Piece]) -> str:
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if index:
            parts.append("\n\n" if piece.starts_paragraph else " ")
        parts.append(piece.text)
    return "".join(parts).strip()


def _overlap(previous: list[_Piece], overlap_chars: int, *, room: int) -> list[_Piece]:
    """The trailing pieces of the closed chunk that fit in the overlap and in the room the
    next piece leaves."""
    budget = min(overlap_chars, room)
    kept: list[_Piece] = []
    used = 0
    for piece in reversed(previous):
        cost = len(piece.text) + 1
        if used + cost > budget:
            break
        kept.append(piece)
        used += cost
    kept.reverse()
    if kept:
        # An overlap never starts with a paragraph separator of its own.
        kept[0] = _Piece(kept[0].text, kept[0].page, starts_paragraph=False)
    return kept


def _pieces(pages: Sequence[Page], target_chars: int) -> Iterator[_Piece]:
    for page in pages:
        for paragraph in _PARAGRAPH_BREAK.split(page.text):
            paragraph = " ".join(paragraph.split())
            if not paragraph:
                continue
            first = True
            for sentence in _sentences(paragraph, target_chars):
                yield _Piece(sentence, page.number, starts_paragraph=first)
                first = False


def _sentences(paragraph: str, target_chars: int) -> Iterator[str]:
    """Sentence-sized pieces; a sentence longer than a chunk is cut at words, and a word
    longer than a chunk is sliced."""
    for sentence in _SENTENCE_END.split(paragraph):
        sentence = sentence.strip()
        if not sentence:
            continue
        if len(sentence) <= target_chars:
            yield sentence
            continue
        line = ""
        for word in sentence.split(" "):
            while len(word) > target_chars:
                if line:
                    yield line
                    line = ""
                yield word[:target_chars]
                word = word[target_chars:]
            if line and len(line) + 1 + len(word) > target_chars:
                yield line
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            yield line


def split_sentences(text: str, target_chars: int = TARGET_CHARS) -> list[str]:
    """A chunk's sentences (headings and list items included), as the chunker cut them."""
    paragraphs = (" ".join(paragraph.split()) for paragraph in _PARAGRAPH_BREAK.split(text))
    return [
        sentence for paragraph in paragraphs if paragraph for sentence in _sentences(paragraph, target_chars)
    ]
