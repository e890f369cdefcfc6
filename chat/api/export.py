"""A conversation export as a Markdown file, from the JSON export's body (one shape, two
files)."""

from __future__ import annotations

import re
from typing import Any

from django.utils.dateparse import parse_datetime

RATINGS = {"thumbs_up": "👍 thumbs up", "thumbs_down": "👎 thumbs down"}


def _when(value: str | None) -> str:
    moment = parse_datetime(value) if value else None
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def _source(citation: dict[str, Any]) -> str:
    pages = citation.get("page_numbers") or []
    line = f"{citation['index']}. {_one_line(citation['source_name'])}"
    if pages:
        line += ", page " + ", ".join(str(page) for page in pages)
    if citation.get("snippet"):
        line += f" — “{_one_line(citation['snippet'])}”"
    return line


def conversation_markdown(body: dict[str, Any]) -> str:
    """`ConversationExportSerializer` data as Markdown: a heading per message, its text as
    written, then its sources and your feedback."""
    conversation, bot = body["conversation"], body["bot"]
    lines = [
        f"# {_one_line(conversation['title'])}",
        "",
        f"- Bot: {_one_line(bot['name'])}",
        f"- Conversation: {conversation['id']}",
        f"- Started: {_when(conversation['created_at'])}",
        f"- Exported: {_when(body['exported_at'])}",
    ]
    for message in body["messages"]:
        author = "You" if message["role"] == "user" else _one_line(bot["name"])
        heading = f"## {author} · {_when(message['created_at'])}"
        if message.get("version_count", 1) > 1:
            heading += f" · newest of {message['version_count']} versions"
        lines += ["", "---", "", heading, "", message["content"].rstrip() or "_(no text)_"]
        if message["status"] != "complete":
            lines += ["", f"_Answer {message['status']}._"]
        if message["citations"]:
            lines += ["", "**Sources**", ""] + [_source(citation) for citation in message["citations"]]
        feedback = message.get("feedback")
        if feedback:
            line = f"**Your feedback:** {RATINGS.get(feedback['rating'], feedback['rating'])}"
            if feedback["comment"]:
                line += f" — {_one_line(feedback['comment'])}"
            lines += ["", line]
    return "\n".join(lines) + "\n"


def file_name(conversation) -> str:
    """A safe file name from the title: letters, digits and dashes, with the date."""
    slug = (
        re.sub(r"[^\w]+", "-", conversation.title.lower(), flags=re.ASCII).strip("-")[:60] or "conversation"
    )
    return f"{slug}-{conversation.created_at:%Y-%m-%d}"
