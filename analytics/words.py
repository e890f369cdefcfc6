"""The most frequent words of feedback comments, Spanish and English stop words left out."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

# Function words, and the fillers of feedback ("answer", "bot") that say nothing about why.
_SPANISH = """
a al algo algun alguna algunas alguno algunos ante antes aqui asi aun aunque bajo bien
cada casi como con contra cual cuales cuando cuanto de del desde donde dos el ella ellas
ello ellos en entre era eran es esa esas ese eso esos esta estaba estaban estado estan
estar estas este esto estos fue fueron ha habia han hasta hay la las le les lo los mas me
mi mis mucho muchos muy nada ni no nos nosotros o otra otras otro otros para pero poco
por porque que quien se sea ser si sido sin sobre solo son su sus tambien tan tanto te
tengo tiene tienen todo todos tu tus un una unas uno unos usted ustedes y ya yo
respuesta respuestas bot pregunta
"""
_ENGLISH = """
a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from
further had has have having he her here hers him his how i if in into is it its itself
just me more most my no nor not now of off on once only or other our ours out over own
same she should so some such than that the their theirs them then there these they this
those through to too under until up very was we were what when where which while who
whom why will with would you your yours
answer answers bot question
"""
STOP_WORDS_ES = frozenset(_SPANISH.split())
STOP_WORDS_EN = frozenset(_ENGLISH.split())
STOP_WORDS = STOP_WORDS_ES | STOP_WORDS_EN
_WORD = re.compile(r"[^\W\d_]+")
MIN_LENGTH = 3


def _fold(text: str) -> str:
    """Lower case without accents, so "información" and "informacion" count together."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    return [word for word in _WORD.findall(_fold(text)) if len(word) >= MIN_LENGTH and word not in STOP_WORDS]


def top_words(comments: Iterable[str], *, limit: int = 10) -> list[tuple[str, int]]:
    """The most frequent words, most frequent first, ties alphabetically."""
    counts = Counter(word for comment in comments for word in words(comment))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
