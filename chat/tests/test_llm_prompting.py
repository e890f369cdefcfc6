from __future__ import annotations

from chat.llm import ChatMessage, ChatRequest, Source
from chat.llm.prompting import MAX_HISTORY_MESSAGES, build_system_instruction, conversation_messages


def request_with(**changes) -> ChatRequest:
    values = {
        "system_prompt": "You are a pirate.",
        "messages": [ChatMessage("user", "Ahoy?")],
        "sources": [
            Source(index=1, text="Gold is buried.", source_name="map.pdf", page_numbers=[4]),
            Source(index=2, text="Rum is stored.", source_name="log.pdf", page_numbers=[1, 2]),
            Source(index=3, text="Ships sail.", source_name="notes.txt"),
        ],
        "language": "en",
    }
    return ChatRequest(**{**values, **changes})


def test_the_instruction_numbers_the_sources_and_asks_for_citations():
    instruction = build_system_instruction(request_with())

    assert instruction.startswith("You are a pirate.")
    assert "[1] map.pdf (p. 4): Gold is buried." in instruction
    assert "[2] log.pdf (pp. 1, 2): Rum is stored." in instruction
    assert "[3] notes.txt: Ships sail." in instruction
    assert "cite it as [n]" in instruction
    assert instruction.endswith("Answer in English, the user's language.")


def test_the_instruction_asks_for_the_users_language():
    assert "Answer in Spanish" in build_system_instruction(request_with(language="es"))


def test_a_model_is_asked_to_answer_in_the_users_language_over_the_bots():
    instruction = build_system_instruction(request_with(language="en", user_language="es"))
    assert instruction.endswith("Answer in Spanish, the user's language.")


def test_without_sources_it_asks_the_model_not_to_guess():
    instruction = build_system_instruction(request_with(sources=[], system_prompt=""))

    assert instruction.startswith("No passage of this bot's documents matched")
    assert "[1]" not in instruction


def test_only_the_last_twenty_messages_are_sent():
    messages = [ChatMessage("user" if n % 2 == 0 else "assistant", f"message {n}") for n in range(25)]

    sent = conversation_messages(request_with(messages=messages))

    assert len(sent) == MAX_HISTORY_MESSAGES == 20
    assert sent[-1].content == "message 24"
