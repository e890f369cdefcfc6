"""The context a remote model sees: one place, shared by the OpenAI and Gemini providers."""

from __future__ import annotations

from collections.abc import Sequence

from .base import ChatMessage, ChatRequest, Source

# The engine already sends the last 20 messages; trimming again keeps a provider honest
# when it is called from somewhere else.
MAX_HISTORY_MESSAGES = 20

LANGUAGE_NAMES = {"es": "Spanish", "en": "English"}


def format_source(source: Source) -> str:
    pages = list(source.page_numbers)
    if len(pages) == 1:
        where = f" (p. {pages[0]})"
    elif pages:
        where = f" (pp. {', '.join(str(page) for page in pages)})"
    else:
        where = ""
    return f"[{source.index}] {source.source_name}{where}: {source.text.strip()}"


def build_system_instruction(request: ChatRequest) -> str:
    """The bot's system prompt, the numbered sources, how to cite them, which language."""
    parts = [request.system_prompt.strip()] if request.system_prompt.strip() else []
    if request.sources:
        numbered = "\n\n".join(format_source(source) for source in request.sources)
        parts.append(
            "Answer using the numbered sources below from this bot's documents. After each "
            "statement taken from a source, cite it as [n] with the source's number, for "
            "example [1] or [2][3]. Cite only numbers that appear below. If the sources do "
            "not contain the answer, say so plainly instead of guessing.\n\n"
            f"Sources:\n{numbered}"
        )
    else:
        parts.append(
            "No passage of this bot's documents matched this question. If answering needs "
            "them, say plainly that the documents do not cover it instead of guessing."
        )
    language = LANGUAGE_NAMES.get(request.user_language or request.language, "English")
    parts.append(f"Answer in {language}, the user's language.")
    return "\n\n".join(parts)


def conversation_messages(request: ChatRequest) -> Sequence[ChatMessage]:
    return request.messages[-MAX_HISTORY_MESSAGES:]
