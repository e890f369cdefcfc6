"""The chat engine: one code path for every API surface.

limits and throttles → store the user message → search the bot's knowledge → build the
context → pick models by task type → stream, failing over → emit events → store the
answer, its citations and the run. Streaming views iterate `chat_events`; non-streaming
endpoints consume the same events with `chat_complete`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DataError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.selectors import default_plan_read, user_plan
from bytchat import cached
from bytchat.crypto import DecryptionFailed
from bytchat.db import async_db_step, execute_together, insert_statement
from bytchat.errors import InvalidInput
from chat.errors import ChatFailed
from chat.llm.base import ChatMessage, ChatRequest, ModelSpec, Source, TextDelta, Usage, estimate_tokens
from chat.llm.failover import AllProvidersFailed, ModelChosen, stream_with_failover
from chat.models import (
    Citation,
    Conversation,
    Message,
    MessageRole,
    MessageStatus,
    Run,
    RunStatus,
    UsageSource,
)
from chat.services import branches, conversations, limits
from chat.services.citations import inline_citations
from chat.services.routing import order_specs, task_type_resolve

logger = logging.getLogger(__name__)

HISTORY_MESSAGES = 20


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling settings a client passes through to the model (the OpenAI-compatible API);
    each unset one keeps the bot's model config."""

    temperature: float | None = None
    max_output_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()

    def apply(self, spec: ModelSpec) -> ModelSpec:
        return replace(
            spec,
            temperature=spec.temperature if self.temperature is None else self.temperature,
            max_output_tokens=(
                spec.max_output_tokens if self.max_output_tokens is None else self.max_output_tokens
            ),
            top_p=spec.top_p if self.top_p is None else self.top_p,
            stop=self.stop or spec.stop,
        )


@dataclass
class Turn:
    """Everything the streaming part needs, loaded before the first byte is sent."""

    user_id: Any
    bot_id: Any
    conversation_id: Any
    user_message_id: Any
    assistant_message_id: uuid.UUID
    question: str
    task_type: str
    language: str
    user_language: str
    system_prompt: str
    specs: list[ModelSpec]
    history: list[ChatMessage]
    bot: Any = field(repr=False)
    # The metadata filter the knowledge search applies (bots.knowledge.filters): the
    # turn's, else its conversation's, else the bot's default. None: every document.
    knowledge_filter: dict | None = None
    token_hold: limits.TokenHold | None = None
    # False when the bot has nothing to search (no chunk; `bots.selectors.bot_get_for_chat`
    # reads it with the cached bot): the turn skips the search and its thread hop.
    search_knowledge: bool = True
    started: float = field(default_factory=time.perf_counter)
    # Set once the answer is stored: what the non-streaming read-back falls back to when
    # the conversation was deleted while the answer ran.
    outcome: _Outcome | None = field(default=None, repr=False)
    conversation_gone: bool = False
    # A regeneration (`chat.services.versions`): the answer is a new version of the turn
    # whose first answer is `version_of_id`, and once stored it replaces `replaces`.
    version_of_id: Any = None
    replaces: Message | None = field(default=None, repr=False)
    # The surface the turn came in through (chat.models.Channel), and the API key if any.
    channel: str = ""
    api_key_id: Any = None
    # The question's writes, while they are not yet sent: a turn prepared with
    # `write_later` (`chat_prepare`), its limits checked by a read. `chat_events` sends them
    # while the model is asked, and `written` (set by whoever starts the answer:
    # `turn_writes_expected`) says how they went. None once they are written.
    pending: _PendingWrites | None = field(default=None, repr=False)
    written: asyncio.Future | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _PendingWrites:
    """A follow-up's writes: `_follow_up_writes`, built when they are sent (off the way to
    the first token), and the long way (`_start_turn`, the same question id) for when they
    no longer fit."""

    build: Callable[..., tuple[list, Message, Any]]
    long_way: Callable[[], limits.TokenHold | None]


def _clean_question(message: str) -> str:
    question = (message or "").strip()
    if not question:
        raise InvalidInput("The message is empty.", fields={"message": ["This field may not be blank."]})
    limit = settings.MAX_MESSAGE_CHARS
    if len(question) > limit:
        raise InvalidInput(
            f"The message is longer than {limit} characters.",
            fields={"message": [f"Ensure this field has no more than {limit} characters."]},
        )
    return question


def _spec(config) -> ModelSpec:
    """A config's model, with its own URL and key or its platform endpoint's."""
    endpoint = config.endpoint if config.endpoint_id else None
    holder = endpoint or config
    try:
        api_key = holder.get_api_key() or None
    except DecryptionFailed:
        # Its server will refuse the request, and the turn fails over to the next model.
        logger.error("The API key of %s cannot be decrypted with the configured keys.", holder)
        api_key = None
    return ModelSpec(
        provider=config.provider,
        model_id=config.model_id,
        base_url=(endpoint.base_url if endpoint else config.base_url) or None,
        temperature=config.temperature,
        max_output_tokens=config.max_output_tokens,
        config_id=str(config.pk),
        api_key=api_key,
        trusted_url=endpoint is not None,
    )


def turn_reads_ahead(bot_id: Any) -> contextlib.AbstractContextManager:
    """Around authentication and `chat_prepare`: the caller's user, the bot and the default
    plan come from the cache in one round trip, that of the first of them."""
    from bots.selectors import chat_bot_read

    return cached.read_ahead(chat_bot_read(bot_id), default_plan_read())


def chat_prepare(
    *,
    user: User,
    bot_id: Any,
    message: str,
    at_limit: conversations.AtLimit,
    conversation_id: Any = None,
    task_type: str | None = None,
    confirm_delete: bool = False,
    metadata_filter: Any = None,
    filter_field: str = "metadata_filter",
    channel: str = "",
    api_key_id: Any = None,
    store: bool = True,
    history: Sequence[ChatMessage] | None = None,
    system_extra: str = "",
    options: GenerationOptions | None = None,
    write_later: bool = False,
) -> Turn:
    """Check every limit and store the user message, before any provider is called.
    `at_limit` is the surface's policy when the turn starts a conversation at the
    plan's per-bot limit (`conversations.conversation_create`).

    `metadata_filter` (None: not sent) restricts the knowledge search to the documents
    whose metadata match; the conversation keeps it for follow-ups that send none, and
    `{}` lifts it. A key none of the bot's documents has, or a malformed value, is
    `InvalidInput` on `filter_field`, before anything is stored.

    `history` is the earlier turns sent by a client that keeps its own (the
    OpenAI-compatible API) instead of the stored conversation's; `store=False` keeps no
    conversation at all (only the run is recorded). `system_extra` is added to the bot's
    prompt, never in place of it; `options` override the model configs' sampling.

    `write_later` (PostgreSQL, a follow-up question): the limits are checked by one read
    (`_follow_up`), and the question's writes wait in `turn.pending`, to be sent
    while the model is asked (`chat_events`), so that they are not on the way to the first
    token. The writes are the same conditional statements as without it: they still
    decide, and a turn they no longer fit (a parallel turn took the last place) fails with
    nothing stored and the model's call cancelled. Its caller starts the answer with
    `answers.answer_stream`, whose first event waits for the writes (and raises the limit
    they hit)."""
    from bots import selectors as bot_selectors
    from bots.knowledge.filters import filter_validate

    question = _clean_question(message)
    given_history = list(history) if history is not None else None
    chosen_task = task_type_resolve(task_type, message=question)
    bot, configs = bot_selectors.bot_get_for_chat(user=user, bot_id=bot_id)
    sent_filter = filter_validate(metadata_filter, bot=bot, field=filter_field)
    plan = user_plan(user)
    limits.message_rate_check(user=user, plan=plan)
    system_prompt = "\n\n".join(part for part in (bot.system_prompt.strip(), system_extra.strip()) if part)
    # Held on the quota until the answer is stored: the prompt's estimate and the answer's.
    hold_tokens = (
        estimate_tokens([system_prompt, question, *(m.content for m in given_history or [])])
        + settings.TOKEN_RESERVATION_ANSWER_TOKENS
    )
    together = pending = None
    if store and conversation_id and connection.vendor == "postgresql":
        together = _follow_up(
            write_later=write_later,
            user=user,
            plan=plan,
            conversation_id=conversation_id,
            bot=bot,
            sent_filter=sent_filter,
            question=question,
            tokens=hold_tokens,
            confirm_delete=confirm_delete,
            at_limit=at_limit,
        )
    if together is not None:
        knowledge_filter, earlier, user_message_id, token_hold = together
        history = _history(earlier, question)
        if isinstance(token_hold, _PendingWrites):
            pending, token_hold = token_hold, None
    else:
        knowledge_filter, history, user_message_id, token_hold, conversation_id = _start_turn(
            user=user,
            plan=plan,
            bot=bot,
            store=store,
            conversation_id=conversation_id,
            sent_filter=sent_filter,
            question=question,
            tokens=hold_tokens,
            confirm_delete=confirm_delete,
            at_limit=at_limit,
        )
    if given_history is not None or history is None:  # a stateless turn: what its client sent
        history = [*(given_history or []), ChatMessage(role=MessageRole.USER, content=question)]
    return Turn(
        user_id=user.pk,
        bot_id=bot.pk,
        conversation_id=conversation_id,
        user_message_id=user_message_id,
        assistant_message_id=uuid.uuid4(),
        question=question,
        task_type=chosen_task,
        language=bot.language,
        user_language=user.language,
        system_prompt=system_prompt,
        specs=[
            options.apply(spec) if options else spec
            for spec in (_spec(config) for config in order_specs(configs, chosen_task))
        ],
        history=history,
        bot=bot,
        knowledge_filter=bot.default_filter if knowledge_filter is None else knowledge_filter,
        token_hold=token_hold,
        search_knowledge=bot.has_knowledge,
        channel=channel,
        api_key_id=api_key_id,
        pending=pending,
    )


def _start_turn(
    *,
    user: User,
    plan,
    bot,
    store: bool,
    conversation_id: Any,
    sent_filter: dict | None,
    question: str,
    tokens: int,
    confirm_delete: bool,
    at_limit: conversations.AtLimit,
    user_message_id: uuid.UUID | None = None,
) -> tuple[dict | None, list[ChatMessage] | None, Any, limits.TokenHold | None, Any]:
    """The limits and the question's writes, in one transaction: the knowledge filter, the
    history (None: a stateless turn's, from its client), the question's id (given, or a
    new one), the token hold and the conversation's id (a new one's)."""
    history = None
    with transaction.atomic():
        if not store:
            conversation_id = None
            knowledge_filter = sent_filter
        elif conversation_id:
            knowledge_filter, earlier = conversations.conversation_turn_start(
                user=user,
                plan=plan,
                conversation_id=conversation_id,
                bot=bot,
                sent_filter=sent_filter,
                recent=HISTORY_MESSAGES - 1,
            )
            history = _history(earlier, question)
        else:
            knowledge_filter = sent_filter
            conversation_id = conversations.conversation_create_in_transaction(
                user=user,
                plan=plan,
                bot=bot,
                title=conversations.title_from_message(question),
                confirm_delete=confirm_delete,
                at_limit=at_limit,
                first_turn=True,
                metadata_filter=sent_filter,
            ).pk
            # A new conversation's history is this question: no need to read it back.
            history = [ChatMessage(role=MessageRole.USER, content=question)]
        if conversation_id is not None:
            user_message_id = Message.objects.create(
                id=user_message_id or uuid.uuid4(),
                conversation_id=conversation_id,
                role=MessageRole.USER,
                content=question,
            ).pk
        # Last: locks are taken conversations first, then the month's usage row, here as
        # in `_store_answer`; and a turn refused above holds nothing.
        token_hold = limits.token_quota_reserve(user=user, plan=plan, tokens=tokens)
    return knowledge_filter, history, user_message_id, token_hold, conversation_id


def _history(earlier: list[tuple[str, str]], question: str) -> list[ChatMessage]:
    """The model's context: the conversation's recent messages (role, content), then the question."""
    return [
        *(ChatMessage(role=role, content=content) for role, content in earlier),
        ChatMessage(role=MessageRole.USER, content=question),
    ]


def _follow_up_writes(
    *,
    user: User,
    plan,
    conversation: uuid.UUID,
    bot,
    sent_filter: dict | None,
    question: str,
    tokens: int,
    question_id: uuid.UUID | None = None,
    recent: int = HISTORY_MESSAGES - 1,
) -> tuple[list, Message, Any]:
    """A follow-up question's writes on PostgreSQL, as statements to send together: the
    conversation's reservation with its filter and `recent` messages, the question's INSERT
    and the token hold, in that order (the locks' order of `_start_turn`). Each fails
    (division by zero) rather than half-apply when the turn does not fit, or the month has
    no usage row yet. Also the question, and the quota's reservation (None: no quota)."""
    asked = Message(
        id=question_id or uuid.uuid4(), conversation_id=conversation, role=MessageRole.USER, content=question
    )
    statements = [
        conversations.conversation_turn_start_statement(
            user=user,
            plan=plan,
            conversation_id=conversation,
            bot=bot,
            sent_filter=sent_filter,
            recent=recent,
        ),
        insert_statement([asked]),
    ]
    quota = limits.token_quota_reserve_statement(user=user, plan=plan, tokens=tokens)
    if quota is not None:
        statements.append(quota[0])
    return statements, asked, quota


def _follow_up(
    *,
    write_later: bool,
    user: User,
    plan,
    conversation_id: Any,
    bot,
    sent_filter: dict | None,
    question: str,
    tokens: int,
    confirm_delete: bool,
    at_limit: conversations.AtLimit,
) -> tuple[dict | None, list[tuple[str, str]], Any, limits.TokenHold | _PendingWrites | None] | None:
    """`_start_turn` for a follow-up question on PostgreSQL: the knowledge filter, the
    recent messages, the question's id and the token hold. None: take the long way, which
    says why the turn does not fit, or does what the short way cannot (the month's first
    turn creates its usage row).

    Without `write_later`, `_follow_up_writes` in one round trip (it was BEGIN, five
    statements, COMMIT before the first token); each fails rather than half-apply when the
    turn does not fit, and nothing is applied.

    With it, one read says whether they would fit now (the conversation's room and the
    quota, as their conditions do) and gives the filter and recent messages; the writes
    wait, in place of the hold, for `turn_write`."""
    try:
        conversation = uuid.UUID(str(conversation_id))
    except ValueError:
        return None
    question_id = uuid.uuid4()
    build = functools.partial(
        _follow_up_writes,
        user=user,
        plan=plan,
        conversation=conversation,
        bot=bot,
        sent_filter=sent_filter,
        question=question,
        tokens=tokens,
        question_id=question_id,
    )
    if not write_later:
        statements, _, quota = build()
        try:
            results = execute_together(statements)
        except DataError:
            return None
        conversations.conversation_lists_forget(user_id=user.pk)
        knowledge_filter, earlier = conversations.conversation_turn_started(results[0])
        return knowledge_filter, earlier, question_id, quota[1].hold(results[2][0][0]) if quota else None
    checks = [
        conversations.conversation_turn_check_statement(
            user=user, plan=plan, conversation_id=conversation, bot=bot, recent=HISTORY_MESSAGES - 1
        )
    ]
    quota_check = limits.token_quota_check_statement(user=user, plan=plan, tokens=tokens)
    if quota_check is not None:
        checks.append(quota_check)
    results = execute_together(checks)
    if not results[0] or (quota_check is not None and not results[1]):
        return None
    stored_filter, earlier = conversations.conversation_turn_started(results[0])
    long_way = functools.partial(
        _start_turn,
        user=user,
        plan=plan,
        bot=bot,
        store=True,
        conversation_id=conversation,
        sent_filter=sent_filter,
        question=question,
        tokens=tokens,
        confirm_delete=confirm_delete,
        at_limit=at_limit,
        user_message_id=question_id,
    )
    pending = _PendingWrites(build=build, long_way=lambda: long_way()[3])
    return (sent_filter if sent_filter is not None else stored_filter), earlier, question_id, pending


def turn_write(turn: Turn) -> None:
    """Send the writes of a turn prepared with `write_later`, in one round trip. If they
    no longer fit (a parallel turn took the conversation's last place or the quota since
    the check), the long way (`_start_turn`, the same question id) raises the limit, with
    nothing stored, or stores the question if it fits after all (reservations of answers
    that died given back). The model's call already went out with the history read by the
    check, a moment earlier: as if this turn had come first."""
    pending = turn.pending
    if pending is None:
        return
    # The history went to the model with the check's read: the writes need none of it.
    statements, _, quota = pending.build(recent=0)
    try:
        results = execute_together(statements)
    except DataError:
        turn.token_hold = pending.long_way()
    else:
        conversations.conversation_lists_forget(user_id=turn.user_id)
        turn.token_hold = quota[1].hold(results[2][0][0]) if quota is not None else None
    turn.pending = None


def _search_sources(turn: Turn) -> tuple[list[Source], str]:
    """The numbered sources, and why search fell back to keywords ("" if it did not)."""
    from bots.knowledge.filters import filter_documents
    from bots.knowledge.search import search

    # Checked when it was sent: a key whose documents are gone since matches nothing.
    documents = filter_documents(turn.knowledge_filter, bot=turn.bot, check_keys=False)
    hits = search(
        turn.bot, turn.question, turn.bot.top_k or settings.CHAT_KNOWLEDGE_CHUNKS, documents=documents
    )
    sources = [
        Source(
            index=number,
            text=hit.text,
            source_name=hit.document_name,
            page_numbers=list(hit.page_numbers or []),
            document_id=str(hit.document_id),
            score=float(hit.score),
            retriever=hit.retriever,
            metadata=dict(hit.metadata),
        )
        for number, hit in enumerate(hits, start=1)
    ]
    return sources, hits.fallback


def citation_payload(source: Source) -> dict[str, Any]:
    return {
        "index": source.index,
        "document_id": source.document_id,
        "source_name": source.source_name,
        "page_number": source.page_numbers[0] if source.page_numbers else None,
        "page_numbers": source.page_numbers,
        "snippet": _snippet(source.text),
        "score": round(source.score, 4),
        "retriever": source.retriever,
        "metadata": dict(source.metadata),
    }


def _snippet(text: str, size: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1].rsplit(" ", 1)[0] + "…"


@dataclass
class _Outcome:
    content: str = ""
    status: str = RunStatus.INCOMPLETE
    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    usage_source: str = ""
    prompt_sent: bool = False
    ttft_ms: int | None = None
    error_code: str = ""
    failed_attempts: list[dict] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    search_fallback: str = ""
    inline: list[dict] = field(default_factory=list)


# The conversation's UPDATE of `_store_answer`, which fails (division by zero) when the
# conversation is gone, so that the statements sent with it are not applied either. (Its
# foreign keys would not say so: they are checked at COMMIT, not at a savepoint.)
_TOUCH_CONVERSATION_OR_FAIL = """
    WITH touched AS (
        UPDATE chat_conversation SET last_message_at = %s WHERE id = %s RETURNING id
    )
    SELECT 1 / (SELECT count(*) FROM touched)::integer
"""


def _store_answer(turn: Turn, outcome: _Outcome) -> None:
    """One write for the whole answer: message, citations, counters, the run and the
    month's token usage.

    The conversation's row is updated first, which locks it: a parallel turn evicting it
    (`conversations._make_room` locks it too) either waits for this answer and deletes it
    with the conversation, or has deleted it already. Then the answer cannot be stored, but
    its run is, with no conversation.

    On PostgreSQL an answer to keep, on a conversation, is sent as one round trip (it was
    seven: BEGIN, five statements, COMMIT); if its conversation was deleted meanwhile, the
    first statement fails, nothing of it stays, and the long way below stores the run."""
    latency_ms = int((time.perf_counter() - turn.started) * 1000)
    keep_answer = bool(outcome.content) or outcome.status != RunStatus.ERROR
    if (
        connection.vendor == "postgresql"
        and turn.conversation_id is not None
        and keep_answer
        and turn.replaces is None
    ):
        message, citations, run = _answer_rows(turn, outcome, latency_ms=latency_ms, found=True, keep=True)
        statements = [
            (_TOUCH_CONVERSATION_OR_FAIL, [timezone.now(), turn.conversation_id]),
            insert_statement([message]),
            *([insert_statement(citations)] if citations else []),
            insert_statement([run]),
        ]
        settle = limits.token_usage_settle_statement(
            user_id=turn.user_id, hold=turn.token_hold, tokens=outcome.input_tokens + outcome.output_tokens
        )
        try:
            execute_together([*statements, *([settle] if settle else [])])
        except DataError:
            pass  # the conversation is gone: the long way stores the run alone
        else:
            conversations.conversation_lists_forget(user_id=turn.user_id)
            turn.outcome, turn.conversation_gone = outcome, False
            return
    with transaction.atomic():
        conversation = Conversation.objects.filter(pk=turn.conversation_id)
        if turn.conversation_id is None:  # a stateless turn: only its run is kept
            found = 0
        elif keep_answer:
            found = conversation.update(last_message_at=timezone.now())
        else:  # the answer's place, reserved with the question, is given back
            found = conversation.update(message_count=F("message_count") - 1)
        message, citations, run = _answer_rows(
            turn, outcome, latency_ms=latency_ms, found=bool(found), keep=keep_answer
        )
        if message is not None:
            message.save(force_insert=True)
            if turn.replaces is not None:
                branches.branch_replace(start=turn.replaces, replacement=message)
            Citation.objects.bulk_create(citations)
        run.save(force_insert=True)
        limits.token_usage_settle(
            user_id=turn.user_id, hold=turn.token_hold, tokens=outcome.input_tokens + outcome.output_tokens
        )
        if found:
            conversations.conversation_lists_forget(user_id=turn.user_id)
    turn.outcome = outcome
    turn.conversation_gone = not found


def _answer_rows(
    turn: Turn, outcome: _Outcome, *, latency_ms: int, found: bool, keep: bool
) -> tuple[Message | None, list[Citation], Run]:
    """The rows of an answer, not yet saved: its message and citations, if it is kept
    (`keep`) and its conversation was `found`, and its run (of that conversation if found)."""
    message = None
    citations: list[Citation] = []
    if found and keep:
        message = Message(
            id=turn.assistant_message_id,
            conversation_id=turn.conversation_id,
            role=MessageRole.ASSISTANT,
            content=outcome.content,
            status={
                RunStatus.SUCCESS: MessageStatus.COMPLETE,
                RunStatus.INCOMPLETE: MessageStatus.INCOMPLETE,
                RunStatus.ERROR: MessageStatus.ERROR,
            }[outcome.status],
            model=outcome.model,
            provider=outcome.provider,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            inline_citations=outcome.inline or None,
            version_of_id=turn.version_of_id,
        )
        citations = [
            Citation(
                message=message,
                index=source.index,
                document_id=source.document_id,
                source_name=source.source_name[:255],
                page_numbers=source.page_numbers,
                snippet=_snippet(source.text),
                score=source.score,
                retriever=source.retriever,
                metadata=dict(source.metadata),
            )
            for source in outcome.sources
        ]
    run = Run(
        user_id=turn.user_id,
        bot_id=turn.bot_id,
        conversation_id=turn.conversation_id if found else None,
        message=message,
        input_text=turn.question,
        task_type=turn.task_type,
        provider=outcome.provider,
        model=outcome.model,
        input_tokens=outcome.input_tokens,
        output_tokens=outcome.output_tokens,
        usage_source=outcome.usage_source,
        ttft_ms=outcome.ttft_ms,
        latency_ms=latency_ms,
        status=outcome.status,
        error_code=outcome.error_code,
        failed_attempts=outcome.failed_attempts,
        search_fallback=outcome.search_fallback,
        channel=turn.channel,
        api_key_id=turn.api_key_id,
    )
    return message, citations, run


def _estimate_missing_usage(outcome: _Outcome, request: ChatRequest | None, parts: list[str]) -> None:
    """Tokens for an answer whose provider never reported its usage: the client went away
    before it arrived, or the stream broke. The prompt was sent, so it always counts."""
    if outcome.usage_source or request is None or not outcome.prompt_sent:
        return  # reported, or no model took the prompt
    prompt = [request.system_prompt]
    prompt += [source.text for source in request.sources]
    prompt += [message.content for message in request.messages]
    outcome.input_tokens = estimate_tokens(prompt)
    outcome.output_tokens = estimate_tokens(parts)
    outcome.usage_source = UsageSource.ESTIMATED


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


async def chat_events(turn: Turn) -> AsyncIterator[dict[str, Any]]:
    """The event stream of one answer. Closing it early (a client that went away) still
    stores the partial answer, marked incomplete. A complete answer and its run are
    committed before its `done` event: a client that reads the conversation on `done`
    finds them."""
    outcome = _Outcome()
    parts: list[str] = []
    request: ChatRequest | None = None
    stored: asyncio.Future | None = None
    writing: asyncio.Future | None = None  # the question's writes, sent while the model is asked

    async def written() -> bool:
        """Whether the question is stored: its writes, if pending, sent and fitting."""
        if writing is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(writing)
        return turn.pending is None

    async def store_answer() -> None:
        if await written():  # else no question: nothing to store
            await async_db_step(_store_answer)(turn, outcome)

    def store() -> asyncio.Future:
        """The one write of the answer, started once, whichever way the stream ends."""
        nonlocal stored
        if stored is None:
            if outcome.status == RunStatus.INCOMPLETE:
                outcome.content = "".join(parts)
            _estimate_missing_usage(outcome, request, parts)
            stored = asyncio.ensure_future(store_answer())
        return stored

    try:
        if turn.pending is not None and turn.written is None:
            # Nobody waits for the writes apart (`turn_writes_expected`): they go first.
            await async_db_step(turn_write)(turn)
        yield {
            "type": "session_init",
            "conversation_id": _text_or_none(turn.conversation_id),
            "message_id": str(turn.assistant_message_id),
            "user_message_id": _text_or_none(turn.user_message_id),
        }
        yield {"type": "tool_use", "tool": "knowledge_search", "status": "start"}
        if turn.search_knowledge:  # a bot with nothing to search: no search, and no thread hop
            outcome.sources, outcome.search_fallback = await async_db_step(_search_sources)(turn)
        yield {"type": "tool_use", "tool": "knowledge_search", "status": "complete"}

        request = ChatRequest(
            system_prompt=turn.system_prompt,
            messages=turn.history,
            sources=outcome.sources,
            language=turn.language,
            user_language=turn.user_language,
        )
        if turn.pending is not None:
            # Sent in a thread while the model is asked (the stream's first step, below);
            # if they no longer fit, this stream is cancelled with nothing stored.
            writing = asyncio.ensure_future(async_db_step(turn_write)(turn))
            writing.add_done_callback(functools.partial(_writes_done, turn, asyncio.current_task()))
        outcome.prompt_sent = True
        stream = stream_with_failover(turn.specs, request)
        try:
            async for item in stream:
                if writing is not None:  # no text goes out before the question is stored
                    if not await written():
                        await stream.aclose()
                        return
                    writing = None
                if isinstance(item, TextDelta):
                    if outcome.ttft_ms is None:
                        outcome.ttft_ms = int((time.perf_counter() - turn.started) * 1000)
                    parts.append(item.text)
                    yield {"type": "delta", "content": item.text}
                elif isinstance(item, Usage):
                    outcome.input_tokens = item.input_tokens
                    outcome.output_tokens = item.output_tokens
                    outcome.usage_source = UsageSource.PROVIDER
                elif isinstance(item, ModelChosen):
                    outcome.provider = item.spec.provider
                    outcome.model = item.spec.model_id
                    outcome.failed_attempts = [attempt.as_dict() for attempt in item.failed_attempts]
        except AllProvidersFailed as failure:
            if not await written():
                return
            outcome.prompt_sent = False  # every model refused it or could not be reached
            outcome.status = RunStatus.ERROR
            outcome.error_code = ChatFailed.code
            outcome.failed_attempts = [attempt.as_dict() for attempt in failure.failed_attempts]
            yield {"type": "error", "code": ChatFailed.code, "error": ChatFailed.default_message}
            return
        except Exception as exc:  # a provider broke mid-answer: keep what arrived
            if not await written():
                return
            logger.warning("Answer interrupted: %s", exc)
            outcome.status = RunStatus.ERROR
            outcome.error_code = getattr(exc, "code", "") or ChatFailed.code
            outcome.content = "".join(parts)
            yield {"type": "error", "code": ChatFailed.code, "error": ChatFailed.default_message}
            return

        outcome.content = "".join(parts)
        by_number = {source.index: source for source in outcome.sources}
        outcome.inline = inline_citations(outcome.content, by_number)
        outcome.status = RunStatus.SUCCESS
        await asyncio.shield(store())
        yield {
            "type": "citations",
            "citations": [citation_payload(source) for source in outcome.sources],
            "inline_citations": outcome.inline,
        }
        yield {
            "type": "done",
            "message_id": str(turn.assistant_message_id),
            "tokens_used": outcome.input_tokens + outcome.output_tokens,
            "model": outcome.model,
            "provider": outcome.provider,
            "latency_ms": int((time.perf_counter() - turn.started) * 1000),
        }
    finally:
        # Shielded: a cancelled stream (client gone) must still record its answer.
        await asyncio.shield(store())


def turn_writes_expected(turn: Turn) -> asyncio.Future | None:
    """For whoever starts the answer of a turn prepared with `write_later`, before its
    `chat_events` begins: a future that is done once the question's writes are sent while
    the model is asked, or holds the limit they hit (the stream is then cancelled, with
    nothing stored). None: the turn has nothing pending. Without it, `chat_events` sends
    the writes before its first event."""
    if turn.pending is not None and turn.written is None:
        turn.written = asyncio.get_running_loop().create_future()
    return turn.written


def _writes_done(turn: Turn, stream: asyncio.Task | None, writing: asyncio.Future) -> None:
    failure = asyncio.CancelledError() if writing.cancelled() else writing.exception()
    if turn.written is not None and not turn.written.done():
        if failure is None:
            turn.written.set_result(None)
        else:
            turn.written.set_exception(failure)
            turn.written.exception()  # said to the caller that awaits it, if it still does
    if failure is not None and stream is not None:
        stream.cancel()  # the model's call: no text for a question that is not stored


@dataclass
class ChatResult:
    conversation: Conversation
    user_message: Message
    assistant_message: Message


async def chat_complete_async(turn: Turn) -> ChatResult:
    error = None
    async for event in chat_events(turn):
        if event["type"] == "error":
            error = event
    if error is not None:
        raise ChatFailed()
    return await async_db_step(_load_result)(turn)


def _load_result(turn: Turn) -> ChatResult:
    if turn.conversation_gone:
        return _unstored_result(turn)
    try:
        conversation = Conversation.objects.select_related("bot").get(pk=turn.conversation_id)
        user_message = Message.objects.get(pk=turn.user_message_id)
        assistant = Message.objects.prefetch_related("citations").get(pk=turn.assistant_message_id)
    except (Conversation.DoesNotExist, Message.DoesNotExist):
        # Deleted between storing the answer and reading it back (a parallel eviction).
        return _unstored_result(turn)
    return ChatResult(conversation, user_message, assistant)


def _unstored_result(turn: Turn) -> ChatResult:
    """The answer of a conversation deleted while it ran or right after (evicted by a
    parallel turn): what the client would have read in the stream. Nothing here is saved."""
    outcome = turn.outcome
    now = timezone.now()
    conversation = Conversation(
        pk=turn.conversation_id,
        user_id=turn.user_id,
        bot=turn.bot,
        title=conversations.title_from_message(turn.question),
        message_count=0,
        created_at=now,
        updated_at=now,
    )
    user_message = Message(
        pk=turn.user_message_id, conversation=conversation, role=MessageRole.USER, content=turn.question
    )
    assistant = Message(
        pk=turn.assistant_message_id,
        conversation=conversation,
        role=MessageRole.ASSISTANT,
        content=outcome.content,
        model=outcome.model,
        provider=outcome.provider,
        input_tokens=outcome.input_tokens,
        output_tokens=outcome.output_tokens,
        inline_citations=outcome.inline or None,
    )
    user_message.created_at = assistant.created_at = now
    # No citation rows: the serializers read them from this cache instead of the database.
    assistant._prefetched_objects_cache = {"citations": Citation.objects.none()}
    return ChatResult(conversation, user_message, assistant)


def chat_complete(
    *, at_limit: conversations.AtLimit = conversations.AtLimit.REFUSE, **kwargs: Any
) -> ChatResult:
    """Non-streaming chat from sync code (scripts, tests): the same engine, consumed to the
    end. Unless told otherwise it refuses at the conversation limit, the one policy that
    touches nothing the user did not ask for."""
    turn = chat_prepare(at_limit=at_limit, **kwargs)
    return async_to_sync(chat_complete_async)(turn)
