/* The chat page: streamed answers (fetch + ReadableStream over server-sent events),
   citations, feedback, suggestions, the last turn's regenerate / edit and version
   switcher, export, and the conversation list. */
(function () {
  "use strict";
  const { texts, format, request, describeError, element, showError } = window.Panel;
  const render = window.PanelMarkdown.render;
  const API = "/app/api";

  const data = JSON.parse(document.getElementById("chat-data").textContent);
  const state = { conversation: data.conversation, sending: false, views: [] };

  const messagesNode = document.getElementById("messages");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const sendButton = document.getElementById("chat-send");
  const errorNode = document.getElementById("chat-error");
  const suggestionsNode = document.getElementById("suggestions");
  const jumpButton = document.getElementById("jump-to-answer");

  function conversationUrl(id) {
    return data.conversation_url.replace("00000000-0000-0000-0000-000000000000", id);
  }

  // --- Messages ---------------------------------------------------------------------------
  function citationHref(messageId, number) {
    return "#cite-" + messageId + "-" + number;
  }

  function pageLabel(citation) {
    const pages = citation.page_numbers && citation.page_numbers.length ? citation.page_numbers : citation.page_number ? [citation.page_number] : [];
    return pages.length ? ", " + texts.page + " " + pages.join(", ") : "";
  }

  function metadataLabel(citation) {
    // The document's tags, as a front end shows "DSCR matrix, page 2": values only.
    // By key: PostgreSQL's jsonb does not keep the order the keys were written in.
    const entries = Object.entries(citation.metadata || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const values = entries.map(([, value]) => (Array.isArray(value) ? value.join(", ") : String(value)));
    return values.length ? " · " + values.join(" · ") : "";
  }

  function renderSources(view) {
    view.sources.replaceChildren();
    if (!view.citations.length) {
      view.sources.hidden = true;
      return;
    }
    const list = element("ol", { class: "source-list" });
    for (const citation of view.citations) {
      const anchor = element("a", {
        href: citationHref(view.id, citation.index),
        class: "source-link",
        title: citation.snippet || "",
        text: "[" + citation.index + "] " + citation.source_name + pageLabel(citation) + metadataLabel(citation),
      });
      const item = element("li", { id: citationHref(view.id, citation.index).slice(1), value: citation.index }, [anchor]);
      if (citation.snippet) item.append(element("p", { class: "snippet", text: citation.snippet }));
      list.append(item);
    }
    view.sources.append(element("p", { class: "sources-title", text: texts.sources }), list);
    view.sources.hidden = false;
  }

  function renderBody(view) {
    const known = new Set(view.citations.map((citation) => citation.index));
    // Safe: render() escapes the text and only adds its own whitelisted tags.
    view.body.innerHTML = render(view.content, (number) => (known.has(number) ? citationHref(view.id, number) : null));
  }

  const THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

  function thumbIcon(down) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", THUMB);
    if (down) path.setAttribute("transform", "rotate(180 12 12)");
    svg.append(path);
    return svg;
  }

  function feedbackControls(view) {
    const box = element("div", { class: "feedback" });
    const comment = element("textarea", { rows: 2, maxlength: 2000, id: "comment-" + view.id });
    const commentLabel = element("label", { for: "comment-" + view.id, text: texts.feedback_comment });
    const status = element("span", { class: "muted", role: "status" });
    const commentBox = element("div", { class: "feedback-comment", hidden: true }, [commentLabel, comment]);
    let rating = view.rating || null;

    const buttons = {};
    async function send(withComment) {
      try {
        await request("POST", API + "/messages/" + view.id + "/feedback", { rating: rating, comment: withComment ? comment.value : "" });
        status.textContent = texts.feedback_thanks;
      } catch (error) {
        status.textContent = describeError(error);
      }
    }
    for (const [value, label] of [["thumbs_up", texts.thumbs_up], ["thumbs_down", texts.thumbs_down]]) {
      buttons[value] = element("button", {
        type: "button",
        class: "icon-button",
        "aria-pressed": String(rating === value),
        "aria-label": label,
        title: label,
        "data-rating": value,
        onclick: async () => {
          rating = value;
          for (const [other, button] of Object.entries(buttons)) button.setAttribute("aria-pressed", String(other === value));
          commentBox.hidden = false;
          await send(false);
        },
      });
      buttons[value].append(thumbIcon(value === "thumbs_down"));
    }
    const sendComment = element("button", { type: "button", class: "button small", text: texts.feedback_send, onclick: () => send(true) });
    commentBox.append(sendComment);
    box.append(buttons.thumbs_up, buttons.thumbs_down, status, commentBox);
    return box;
  }

  function setFeedback(view) {
    if (view.feedbackNode) view.feedbackNode.remove();
    view.feedbackNode = feedbackControls(view);
    view.footer.insertBefore(view.feedbackNode, view.controls);
  }

  function setInterrupted(view, interrupted) {
    if (view.noteNode) view.noteNode.remove();
    view.noteNode = interrupted ? element("p", { class: "muted", text: texts.incomplete }) : null;
    if (view.noteNode) view.footer.prepend(view.noteNode);
  }

  function addMessage(message) {
    const assistant = message.role === "assistant";
    const view = {
      role: message.role,
      id: message.id || "pending-" + Date.now(),
      // The shown version of the message, whichever version the switcher displays.
      currentId: message.id || null,
      versionCount: message.version_count || 1,
      content: message.content || "",
      citations: message.citations || [],
      rating: message.rating || null,
      body: element("div", { class: "message-body" }),
      sources: element("div", { class: "sources", hidden: true }),
      footer: element("div", { class: "message-footer" }),
      controls: element("div", { class: "turn-controls" }),
    };
    view.footer.append(view.controls);
    view.current = { id: view.currentId, content: view.content, citations: view.citations, rating: view.rating };
    const wrapper = element("article", { class: "message " + (assistant ? "assistant" : "user"), "data-message-id": message.id || "" }, [
      element("p", { class: "message-author", text: assistant ? texts.assistant : texts.you }),
      view.body,
      view.sources,
      view.footer,
    ]);
    view.node = wrapper;
    if (assistant) {
      renderBody(view);
      renderSources(view);
      setInterrupted(view, message.status === "incomplete" || message.status === "error");
      if (message.id) setFeedback(view);
    } else {
      view.body.textContent = view.content;
    }
    const intro = messagesNode.querySelector(".intro");
    if (intro) intro.remove();
    messagesNode.append(wrapper);
    wrapper.scrollIntoView({ block: "end" });
    if (assistant) jumpButton.hidden = false;
    state.views.push(view);
    return view;
  }

  // --- The last turn: regenerate, edit and resend, versions ----------------------------------
  function lastTurn() {
    let answer = null;
    for (let index = state.views.length - 1; index >= 0; index--) {
      const view = state.views[index];
      if (view.role === "user") return { question: view, answer: answer };
      if (!answer) answer = view;
    }
    return { question: null, answer: answer };
  }

  function controlButton(label, onClick) {
    return element("button", { type: "button", class: "button small", text: label, onclick: onClick });
  }

  function refreshTurnControls() {
    for (const view of state.views) view.controls.replaceChildren();
    if (state.sending || (state.conversation && state.conversation.archived)) return;
    const { question, answer } = lastTurn();
    if (question && question.currentId) {
      question.controls.append(controlButton(texts.edit, () => startEdit(question, answer)));
      if (question.versionCount > 1) question.controls.append(versionSwitcher(question, answer));
    }
    if (answer && answer.currentId) {
      answer.controls.append(controlButton(texts.regenerate, () => regenerate(answer)));
      if (answer.versionCount > 1) answer.controls.append(versionSwitcher(answer, null));
    }
  }

  function showAnswer(view, message) {
    view.id = message.id;
    view.node.dataset.messageId = message.id;
    view.content = message.content || "";
    view.citations = message.citations || [];
    view.rating = message.rating || null;
    renderBody(view);
    renderSources(view);
    setFeedback(view);
  }

  /* "‹ 2/3 ›": shows the earlier versions of a message (and, for a question, the answer
     each version had). Only the display changes: the newest version stays the current one. */
  function versionSwitcher(view, answerView) {
    const label = element("span", { class: "version-label" });
    const previous = element("button", { type: "button", class: "icon-button", "aria-label": texts.previous_version, title: texts.previous_version, text: "‹" });
    const next = element("button", { type: "button", class: "icon-button", "aria-label": texts.next_version, title: texts.next_version, text: "›" });
    const box = element("div", { class: "version-switcher", role: "group", "aria-label": texts.versions }, [previous, label, next]);
    let versions = null;
    let shown = view.versionCount;
    function update() {
      label.textContent = format(texts.version_of, { current: shown, count: view.versionCount });
      previous.disabled = shown <= (versions ? versions[0].version : 1) || state.sending;
      next.disabled = shown >= view.versionCount || state.sending;
    }
    function show(version) {
      if (view.role === "assistant") {
        showAnswer(view, version);
      } else {
        view.body.textContent = version.content;
        if (answerView) {
          const earlier = (version.following || []).find((message) => message.role === "assistant");
          showAnswer(answerView, version.current ? answerView.current : earlier || { id: "", content: "" });
          if (!version.current && !earlier) answerView.feedbackNode.remove();
        }
      }
    }
    async function go(step) {
      showError(errorNode, "");
      try {
        if (!versions) versions = (await request("GET", API + "/messages/" + view.currentId + "/versions")).versions;
      } catch (error) {
        showError(errorNode, describeError(error));
        return;
      }
      const target = versions.find((version) => version.version === shown + step);
      if (!target) return;
      shown = target.version;
      show(target);
      update();
    }
    previous.addEventListener("click", () => go(-1));
    next.addEventListener("click", () => go(1));
    update();
    return box;
  }

  function setSending(sending) {
    state.sending = sending;
    sendButton.disabled = sending;
    refreshTurnControls();
  }

  async function regenerate(answer) {
    if (state.sending) return;
    showError(errorNode, "");
    setSending(true);
    let response;
    try {
      response = await postStream(API + "/chat/" + answer.currentId + "/regenerate", {});
    } catch (error) {
      showError(errorNode, describeError(error));
      setSending(false);
      return;
    }
    const before = answer.current;
    answer.citations = [];
    answer.content = "";
    if (answer.feedbackNode) answer.feedbackNode.remove();
    setInterrupted(answer, false);
    await streamAnswer(response, answer, null);
    if (answer.content) {
      answer.versionCount += 1;
    } else {
      // Nothing came back: the earlier answer is still the current one.
      showAnswer(answer, before);
      answer.currentId = before.id;
      answer.current = before;
    }
    setSending(false);
  }

  function startEdit(question, answer) {
    if (state.sending || question.editing) return;
    const box = element("textarea", { rows: 3, class: "edit-input", "aria-label": texts.edit_question });
    box.value = question.current.content;
    const form = element("div", { class: "edit-form" });
    function close() {
      form.remove();
      question.body.hidden = false;
      question.editing = false;
      refreshTurnControls();
    }
    const save = controlButton(texts.edit_send, () => submitEdit(question, answer, box.value, close));
    save.classList.add("primary");
    form.append(box, element("div", { class: "edit-actions" }, [save, controlButton(texts.cancel, close)]));
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
    });
    question.editing = true;
    question.body.hidden = true;
    question.controls.replaceChildren();
    question.node.insertBefore(form, question.footer);
    box.focus();
  }

  async function submitEdit(question, answer, text, close) {
    if (state.sending || !text.trim()) return;
    showError(errorNode, "");
    setSending(true);
    let response;
    try {
      response = await postStream(API + "/chat/" + question.currentId + "/edit", { message: text });
    } catch (error) {
      // The edit box stays open with the text, so the user can send it again.
      showError(errorNode, describeError(error));
      setSending(false);
      question.controls.replaceChildren();
      return;
    }
    close();
    question.content = text;
    question.body.textContent = text;
    question.current = { id: question.currentId, content: text };
    question.versionCount += 1;
    if (!answer) answer = addMessage({ role: "assistant", content: "" });
    answer.content = "";
    answer.citations = [];
    answer.versionCount = 1;
    if (answer.feedbackNode) answer.feedbackNode.remove();
    setInterrupted(answer, false);
    await streamAnswer(response, answer, question);
    setSending(false);
  }

  // --- Sending and streaming ------------------------------------------------------------------
  function parseEvents(buffer, onEvent) {
    // Events are separated by a blank line; each has one `data:` line of JSON, after the
    // `id:` line that a dropped stream resumes from.
    let boundary;
    while ((boundary = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let id = null;
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = Number(line.slice(4));
        else if (line.startsWith("data: ")) onEvent(JSON.parse(line.slice(6)), id);
      }
    }
    return buffer;
  }

  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer = parseEvents(buffer + decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n"), onEvent);
    }
    parseEvents(buffer + "\n\n", onEvent);
  }

  // --- Stop, and resume after a dropped connection ------------------------------------------
  // The answer goes on on the server when the connection drops: the page reads the rest
  // from the last event it has, waiting a little longer after each failed try.
  const RESUME_DELAYS_MS = [300, 1000, 2000, 4000, 8000, 8000];
  const stopButton = document.getElementById("chat-stop");

  function setReconnecting(view, on) {
    if (on && !view.reconnecting) {
      view.reconnecting = element("p", { class: "muted reconnecting", role: "status", text: texts.reconnecting });
      view.footer.append(view.reconnecting);
    } else if (!on && view.reconnecting) {
      view.reconnecting.remove();
      view.reconnecting = null;
    }
  }

  async function resume(view, progress, onEvent) {
    for (const delay of RESUME_DELAYS_MS) {
      if (progress.ended) break;
      setReconnecting(view, true);
      await new Promise((resolve) => setTimeout(resolve, delay));
      let response;
      try {
        response = await fetch(API + "/chat/" + view.id + "/events", {
          credentials: "same-origin",
          headers: { Accept: "text/event-stream", "Last-Event-ID": String(progress.lastEventId) },
        });
      } catch (error) {
        continue; // still offline
      }
      if (!response.ok) break; // nothing left to resume (expired, or gone)
      setReconnecting(view, false);
      try {
        await readEvents(response, onEvent);
      } catch (error) {
        // dropped again: the next try starts from the last event read
      }
    }
    setReconnecting(view, false);
    return progress.ended;
  }

  async function stopAnswer(view) {
    if (!view.id) return;
    stopButton.disabled = true;
    try {
      await request("POST", API + "/chat/" + view.id + "/stop");
    } catch (error) {
      if (error.code !== "ANSWER_ENDED") showError(errorNode, describeError(error));
    }
  }

  async function postStream(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": window.Panel.csrfToken(), Accept: "text/event-stream" },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      let payload = null;
      if ((response.headers.get("Content-Type") || "").includes("application/json")) payload = await response.json();
      throw new window.Panel.ApiError(response.status, payload);
    }
    return response;
  }

  async function startStream(question, confirmDelete) {
    const body = { bot: data.bot_id, message: question, confirm_delete: confirmDelete };
    if (state.conversation) body.conversation = state.conversation.id;
    return postStream(API + "/chat", body);
  }

  /* Read an answer's events into `view` (and the ids of its question into `questionView`);
     true if it failed. */
  async function streamAnswer(response, view, questionView) {
    // The live region waits for the whole answer: a screen reader reads it once, politely,
    // not token by token.
    messagesNode.setAttribute("aria-busy", "true");
    view.node.classList.add("streaming");
    view.body.textContent = texts.thinking;
    let failed = false;
    const progress = { lastEventId: 0, ended: false };

    const onEvent = (event, id) => {
      if (id) progress.lastEventId = id;
      if (event.type === "done" || event.type === "error") progress.ended = true;
      if (event.type === "session_init") {
        view.id = view.currentId = event.message_id;
        view.node.dataset.messageId = event.message_id;
        if (questionView) {
          questionView.id = questionView.currentId = event.user_message_id;
          questionView.node.dataset.messageId = event.user_message_id;
          questionView.current = { id: event.user_message_id, content: questionView.content };
        }
        if (!state.conversation || state.conversation.id !== event.conversation_id) {
          conversationStarted(event.conversation_id);
        }
      } else if (event.type === "delta") {
        view.content += event.content;
        renderBody(view);
      } else if (event.type === "citations") {
        view.citations = event.citations || [];
        renderBody(view);
        renderSources(view);
      } else if (event.type === "done") {
        view.id = view.currentId = event.message_id;
        if (event.stopped) view.footer.append(element("p", { class: "muted", text: texts.stopped }));
        if (event.incomplete) failed = true;
        setFeedback(view);
      } else if (event.type === "error") {
        failed = true;
        showError(errorNode, texts.errors[event.code] || event.error || texts.generic_error);
      }
    };

    stopButton.hidden = false;
    stopButton.disabled = false;
    stopButton.onclick = () => stopAnswer(view);
    try {
      await readEvents(response, onEvent);
    } catch (error) {
      // the connection dropped: resumed below
    }
    if (!progress.ended && !(view.id && (await resume(view, progress, onEvent)))) {
      failed = true;
      showError(errorNode, texts.network_error);
    }
    stopButton.hidden = true;
    stopButton.onclick = null;
    view.node.classList.remove("streaming");
    messagesNode.setAttribute("aria-busy", "false");
    if (!view.content) view.body.textContent = "";
    setInterrupted(view, failed);
    view.current = { id: view.currentId, content: view.content, citations: view.citations, rating: null };
    return failed;
  }

  async function ask(question) {
    if (state.sending || !question.trim()) return;
    showError(errorNode, "");
    setSending(true);
    let response;
    try {
      try {
        response = await startStream(question, false);
      } catch (error) {
        const details = error.body || {};
        if (error.code === "CONVERSATION_LIMIT_PER_BOT" && details.requires_confirmation) {
          const title = (details.oldest_conversation || {}).title || "";
          if (!window.confirm(format(texts.confirm_evict, { title: title }))) throw null;
          response = await startStream(question, true);
        } else {
          throw error;
        }
      }
    } catch (error) {
      // The question stays in the box, so the user can send it again.
      if (error) showError(errorNode, describeError(error));
      setSending(false);
      return;
    }

    input.value = "";
    suggestionsNode.replaceChildren();
    const questionView = addMessage({ role: "user", content: question });
    const view = addMessage({ role: "assistant", content: "" });
    const failed = await streamAnswer(response, view, questionView);
    if (failed && !input.value) input.value = question;
    setSending(false);
    input.focus();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask(input.value);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask(input.value);
    }
  });

  // --- Suggestions ------------------------------------------------------------------------
  async function loadSuggestions() {
    if (data.messages.length) return;
    try {
      const result = await request("GET", API + "/suggestions?bot=" + encodeURIComponent(data.bot_id));
      for (const suggestion of result.suggestions) {
        suggestionsNode.append(
          element("button", { type: "button", class: "chip", text: suggestion.text, onclick: () => ask(suggestion.text) })
        );
      }
    } catch (error) {
      // Suggestions are a convenience: without them the page still works.
    }
  }

  // --- Conversation list ------------------------------------------------------------------
  const activeList = document.getElementById("active-conversations");
  const itemTemplate = document.getElementById("conversation-item-template");
  // Other tabs of the panel hear about new and renamed conversations too.
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("bytchat-conversations") : null;

  function fillItem(item, conversation) {
    item.dataset.id = conversation.id;
    const link = item.querySelector("a");
    link.textContent = conversation.title;
    link.title = conversation.title;
    link.href = conversationUrl(conversation.id);
    for (const button of item.querySelectorAll("button[data-label]")) {
      button.setAttribute("aria-label", button.dataset.label + ": " + conversation.title);
    }
  }

  function markCurrent(id) {
    for (const item of document.querySelectorAll(".conversation-item")) {
      const current = item.dataset.id === id;
      item.classList.toggle("current", current);
      const link = item.querySelector("a");
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /* Add a conversation of this bot to the list, or update its title: no reload needed. */
  function showConversation(conversation) {
    if (conversation.bot !== data.bot_id) return;
    let item = document.querySelector('.conversation-item[data-id="' + conversation.id + '"]');
    if (!item) {
      if (conversation.archived) return;
      item = itemTemplate.content.firstElementChild.cloneNode(true);
      const empty = activeList.querySelector(".empty");
      if (empty) empty.remove();
      activeList.prepend(item);
    }
    fillItem(item, conversation);
    if (state.conversation && state.conversation.id === conversation.id) {
      markCurrent(conversation.id);
      const heading = document.getElementById("conversation-title");
      heading.textContent = conversation.title + (conversation.archived ? " · " + texts.archived : "");
      heading.hidden = false;
    }
  }

  function announce(conversation) {
    if (channel) channel.postMessage(conversation);
  }
  if (channel) channel.addEventListener("message", (event) => showConversation(event.data));

  function setExportLinks(id) {
    const menu = document.getElementById("export-menu");
    for (const link of menu.querySelectorAll("a[data-format]")) {
      link.href = API + "/conversations/" + id + "/export?format=" + link.dataset.format;
    }
    menu.hidden = false;
  }

  /* The first answer of a new conversation: its URL, its place in the list, its export. */
  async function conversationStarted(id) {
    state.conversation = { id: id };
    window.history.replaceState(null, "", conversationUrl(id));
    setExportLinks(id);
    try {
      const conversation = await request("GET", API + "/conversations/" + id);
      state.conversation = conversation;
      showConversation(conversation);
      announce(conversation);
    } catch (error) {
      // The list catches up on the next page load; the answer goes on streaming.
    }
  }

  async function createConversation(confirmDelete) {
    return request("POST", API + "/conversations", { bot: data.bot_id, confirm_delete: confirmDelete });
  }

  document.getElementById("new-conversation").addEventListener("click", async () => {
    showError(errorNode, "");
    let conversation;
    try {
      try {
        conversation = await createConversation(false);
      } catch (error) {
        if (error.code === "CONVERSATION_LIMIT_PER_BOT" && (error.body || {}).requires_confirmation) {
          const title = (error.body.oldest_conversation || {}).title || "";
          if (!window.confirm(format(texts.confirm_evict, { title: title }))) return;
          conversation = await createConversation(true);
        } else {
          throw error;
        }
      }
    } catch (error) {
      showError(errorNode, describeError(error));
      return;
    }
    window.location.assign(conversationUrl(conversation.id));
  });

  document.querySelector(".conversations").addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const item = button.closest("[data-id]");
    const id = item.dataset.id;
    const url = API + "/conversations/" + id;
    const current = state.conversation && state.conversation.id === id;
    showError(errorNode, "");
    try {
      if (button.dataset.action === "rename") {
        const link = item.querySelector("a");
        const title = window.prompt(texts.rename_prompt, link.textContent.trim());
        if (!title || !title.trim()) return;
        const updated = await request("PATCH", url, { title: title.trim() });
        showConversation(updated);
        announce(updated);
      } else if (button.dataset.action === "archive" || button.dataset.action === "unarchive") {
        await request("POST", url + "/archive", { archived: button.dataset.action === "archive" });
        window.location.reload();
      } else if (button.dataset.action === "delete") {
        if (!window.confirm(texts.confirm_delete_conversation)) return;
        await request("DELETE", url);
        if (current) window.location.assign(data.new_chat_url);
        else item.remove();
      }
    } catch (error) {
      showError(errorNode, describeError(error));
    }
  });

  // --- The conversation drawer (narrow screens) ---------------------------------------------
  const drawer = document.getElementById("conversations");
  const drawerToggle = document.querySelector("[data-drawer-toggle]");
  function setDrawer(open) {
    drawer.classList.toggle("open", open);
    drawerToggle.setAttribute("aria-expanded", String(open));
    if (open) drawer.querySelector("[data-drawer-close]").focus();
    else drawerToggle.focus();
  }
  drawerToggle.addEventListener("click", () => setDrawer(!drawer.classList.contains("open")));
  drawer.querySelector("[data-drawer-close]").addEventListener("click", () => setDrawer(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && drawer.classList.contains("open")) setDrawer(false);
  });
  // On narrow screens the drawer covers the page with a shade: a tap on the shade closes
  // the drawer and does nothing else, and the focus leaving the drawer (Tab past its last
  // control) closes it too.
  const drawerShown = () => drawer.classList.contains("open") && getComputedStyle(drawerToggle).display !== "none";
  document.addEventListener(
    "click",
    (event) => {
      if (!drawerShown() || drawer.contains(event.target) || drawerToggle.contains(event.target)) return;
      event.preventDefault();
      event.stopPropagation();
      setDrawer(false);
    },
    true
  );
  drawer.addEventListener("focusout", (event) => {
    const next = event.relatedTarget;
    if (!drawerShown() || !next || drawer.contains(next)) return;
    drawer.classList.remove("open");
    drawerToggle.setAttribute("aria-expanded", "false");
  });

  // --- Focus to the start of the latest answer: the button beside Send, or Alt+Shift+J -------
  // After sending, the focus stays in the question box; the user moves it to the answer
  // when they want to read it (a screen reader then reads it from its first line).
  function focusLatestAnswer() {
    const answers = messagesNode.querySelectorAll(".message.assistant");
    const answer = answers[answers.length - 1];
    if (!answer) return;
    answer.tabIndex = -1;
    answer.focus({ preventScroll: true });
    answer.scrollIntoView({ block: "start" });
  }
  jumpButton.addEventListener("click", focusLatestAnswer);
  document.addEventListener("keydown", (event) => {
    // event.code, not event.key: with Alt (Option on a Mac) the key is another character.
    if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey && event.code === "KeyJ") {
      event.preventDefault();
      focusLatestAnswer();
    }
  });

  for (const message of data.messages) addMessage(message);
  refreshTurnControls();
  if (state.conversation) setExportLinks(state.conversation.id);
  loadSuggestions();
})();
