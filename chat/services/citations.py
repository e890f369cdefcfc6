"""Inline citations: the spans of an answer that its [n] markers vouch for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MARKER = re.compile(r"\[(\d{1,3})\]")
_SENTENCE_END = re.compile(r"[.!?\n]\s*")


def inline_citations(text: str, sources: Mapping[int, Any]) -> list[dict[str, Any]]:
    """One entry per marker that names a known source. The span runs from the start of the
    sentence holding the marker (or the end of the previous marker) to the marker itself.
    `sources` maps a citation number to an object with `source_name` and `page_numbers`."""
    citations: list[dict[str, Any]] = []
    previous_end = 0
    for match in MARKER.finditer(text):
        number = int(match.group(1))
        source = sources.get(number)
        if source is None:
            continue
        start = previous_end
        for boundary in _SENTENCE_END.finditer(text, previous_end, match.start()):
            # A sentence that ends before this marker is not what the marker cites.
            if boundary.end() < match.start():
                start = boundary.end()
        end = match.start()
        while end > start and text[end - 1].isspace():
            end -= 1
        pages = list(source.page_numbers or [])
        citations.append(
            {
                "citation_number": number,
                "start_index": start,
                "end_index": end,
                "source_name": source.source_name,
                "page_number": pages[0] if pages else None,
            }
        )
        previous_end = match.end()
    return citations
