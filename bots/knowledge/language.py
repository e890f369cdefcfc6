"""Which of the product's languages a text is written in, from its function words.

Good enough for what it serves: choosing the language mean that the local embedder
removes (`bots.knowledge.embeddings`). A text with no telling words (a name, a number)
has no language: None.
"""

from __future__ import annotations

import re

from bots.knowledge.query import STOP_WORDS, fold

_WORD = re.compile(r"\w+")
# Words both lists share ("a", "no") say nothing.
_TELLING = {
    language: words - frozenset().union(*(other for name, other in STOP_WORDS.items() if name != language))
    for language, words in STOP_WORDS.items()
}
# Marks only Spanish uses; each counts as one telling word. Not accented vowels: English
# borrows them ("café", "crème brûlée").
_SPANISH_MARKS = re.compile(r"[ñ¿¡]", re.IGNORECASE)


def detect_language(text: str) -> str | None:
    """'es', 'en' or None when the text does not tell."""
    words = _WORD.findall(fold(text[:2000]))
    scores = {language: sum(1 for word in words if word in telling) for language, telling in _TELLING.items()}
    scores["es"] += min(3, len(_SPANISH_MARKS.findall(text[:2000])))
    best = max(scores, key=scores.get)
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return None
    return best


def document_language(texts: list[str], default: str) -> str:
    """The language a document's full text is indexed in: what its first passages are
    written in, else `default` (the bot's)."""
    return detect_language(" ".join(texts[:20])) or default
