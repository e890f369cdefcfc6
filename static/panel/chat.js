/* The chat page: streamed answers (fetch + ReadableStream over server-sent events),
   citations, feedback, suggestions and the conversation list. */
(function () {
  "use strict";
  const { texts, format, request, describeError, element, showError } = window.Panel;
  const render = window.PanelMarkdown.render;
  const API = "/app/api";

  const data = JSON.parse(document.getElementById("chat-data").textContent);
  const state = { conversation: data.conversation, sending: false };

  const messagesNode = document.getElementById("messages");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const sendButton = document.getElementById("chat-send");
  const errorNode = document.getElementById("chat-error");
  const suggestionsNode = document.getElementById("suggestions");

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
        text: "[" + citation.index + "] " + citation.source_name + pageLabel(citation),
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

  function addMessage(message) {
    const assistant = message.role === "assistant";
    const view = {
      id: message.id || "pending-" + Date.now(),
      content: message.content || "",
      citations: message.citations || [],
      rating: message.rating || null,
      body: element("div", { class: "message-body" }),
      sources: element("div", { class: "sources", hidden: true }),
      footer: element("div", { class: "message-footer" }),
    };
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
      if (message.status === "incomplete" || message.status === "error") {
        view.footer.append(element("p", { class: "muted", text: texts.incomplete }));
      }
      if (message.id) view.footer.append(feedbackControls(view));
    } else {
      view.body.textContent = view.content;
    }
    const intro = messagesNode.querySelector(".intro");
    if (intro) intro.remove();
    messagesNode.append(wrapper);
    wrapper.scrollIntoView({ block: "end" });
    return view;
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

  async function startStream(question, confirmDelete) {
    const body = { bot: data.bot_id, message: question, confirm_delete: confirmDelete };
    if (state.conversation) body.conversation = state.conversation.id;
    const response = await fetch(API + "/chat", {
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

  async function ask(question) {
    if (state.sending || !question.trim()) return;
    state.sending = true;
    sendButton.disabled = true;
    showError(errorNode, "");
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
      state.sending = false;
      sendButton.disabled = false;
      return;
    }

    input.value = "";
    suggestionsNode.replaceChildren();
    // The live region waits for the whole answer: a screen reader reads it once, politely,
    // not token by token.
    messagesNode.setAttribute("aria-busy", "true");
    addMessage({ role: "user", content: question });
    const view = addMessage({ role: "assistant", content: "" });
    view.node.classList.add("streaming");
    view.body.textContent = texts.thinking;
    let failed = false;
    const progress = { lastEventId: 0, ended: false };

    const onEvent = (event, id) => {
      if (id) progress.lastEventId = id;
      if (event.type === "done" || event.type === "error") progress.ended = true;
      if (event.type === "session_init") {
        view.id = event.message_id;
        view.node.dataset.messageId = event.message_id;
        if (!state.conversation || state.conversation.id !== event.conversation_id) {
          state.conversation = { id: event.conversation_id };
          window.history.replaceState(null, "", conversationUrl(event.conversation_id));
        }
      } else if (event.type === "delta") {
        view.content += event.content;
        renderBody(view);
      } else if (event.type === "citations") {
        view.citations = event.citations || [];
        renderBody(view);
        renderSources(view);
      } else if (event.type === "done") {
        view.id = event.message_id;
        if (event.stopped) view.footer.append(element("p", { class: "muted", text: texts.stopped }));
        if (event.incomplete) failed = true;
        view.footer.append(feedbackControls(view));
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
    if (failed) {
      view.footer.append(element("p", { class: "muted", text: texts.incomplete }));
      if (!input.value) input.value = question;
    }
    state.sending = false;
    sendButton.disabled = false;
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
        link.textContent = updated.title;
        if (current) {
          const heading = document.getElementById("conversation-title");
          if (heading) heading.textContent = updated.title;
        }
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

  for (const message of data.messages) addMessage(message);
  loadSuggestions();
})();
