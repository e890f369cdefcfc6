/* The bot editor: the model toolbox (add, reorder, remove) and knowledge documents
   (drag-and-drop upload, status polling until each is ready or failed). */
(function () {
  "use strict";
  const { texts, format, request, describeError, element, showError } = window.Panel;
  const data = JSON.parse(document.getElementById("editor-data").textContent);
  const base = "/app/api/bots/" + data.bot_id;

  // --- Model toolbox ------------------------------------------------------------------------
  let configs = data.configs.slice();
  const modelList = document.getElementById("model-list");
  const modelError = document.getElementById("model-error");
  const providerSelect = document.getElementById("model-provider");
  for (const provider of data.providers) {
    providerSelect.append(element("option", { value: provider.value, text: provider.label }));
  }

  function sortConfigs() {
    const order = data.task_types;
    configs.sort((a, b) => order.indexOf(a.task_type) - order.indexOf(b.task_type) || a.priority - b.priority || a.created_at.localeCompare(b.created_at));
  }

  function renderConfigs() {
    sortConfigs();
    modelList.replaceChildren();
    if (!configs.length) modelList.append(element("li", { class: "muted", text: texts.no_models }));
    configs.forEach((config) => {
      const group = configs.filter((other) => other.task_type === config.task_type);
      const position = group.indexOf(config);
      const label = config.provider + " / " + config.model_id;
      modelList.append(
        element("li", { class: "model-item", "data-config-id": config.id }, [
          element("span", { class: "badge", text: config.task_type }),
          element("span", { class: "model-name", text: " " + (position + 1) + ". " + label + (config.base_url ? " (" + config.base_url + ")" : "") + (config.api_key_hint ? " 🔑 " + config.api_key_hint : "") }),
          element("span", { class: "item-actions" }, [
            element("button", { type: "button", class: "icon-button", "aria-label": texts.move_up + ": " + label, title: texts.move_up, disabled: position === 0, text: "↑", onclick: () => move(config, -1) }),
            element("button", { type: "button", class: "icon-button", "aria-label": texts.move_down + ": " + label, title: texts.move_down, disabled: position === group.length - 1, text: "↓", onclick: () => move(config, 1) }),
            element("button", { type: "button", class: "icon-button", "aria-label": texts.remove + ": " + label, title: texts.remove, text: "✕", onclick: () => removeConfig(config) }),
          ]),
        ])
      );
    });
  }

  async function move(config, step) {
    showError(modelError, "");
    const group = configs.filter((other) => other.task_type === config.task_type);
    const index = group.indexOf(config);
    const target = index + step;
    if (target < 0 || target >= group.length) return;
    group.splice(index, 1);
    group.splice(target, 0, config);
    try {
      // Priorities become 1..n in the new order; only the ones that change are sent.
      for (const [position, item] of group.entries()) {
        if (item.priority !== position + 1) {
          const updated = await request("PATCH", base + "/models/" + item.id, { priority: position + 1 });
          Object.assign(item, updated);
        }
      }
    } catch (error) {
      showError(modelError, describeError(error));
    }
    renderConfigs();
  }

  async function removeConfig(config) {
    showError(modelError, "");
    try {
      await request("DELETE", base + "/models/" + config.id);
      configs = configs.filter((other) => other.id !== config.id);
      renderConfigs();
    } catch (error) {
      showError(modelError, describeError(error));
    }
  }

  document.getElementById("model-add").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(modelError, "");
    const form = event.target;
    const taskType = form.task_type.value;
    const last = configs.filter((config) => config.task_type === taskType).reduce((max, config) => Math.max(max, config.priority), 0);
    const body = { task_type: taskType, provider: form.provider.value, model_id: form.model_id.value.trim(), priority: Math.min(last + 1, 100) };
    if (form.base_url.value.trim()) body.base_url = form.base_url.value.trim();
    if (form.api_key.value.trim()) body.api_key = form.api_key.value.trim();
    try {
      configs.push(await request("POST", base + "/models", body));
      form.model_id.value = "";
      form.base_url.value = "";
      form.api_key.value = "";
      renderConfigs();
    } catch (error) {
      showError(modelError, describeError(error));
    }
  });

  // --- Documents ------------------------------------------------------------------------------
  const documents = new Map(data.documents.map((document) => [document.id, document]));
  const documentList = document.getElementById("document-list");
  const documentError = document.getElementById("document-error");
  const dropzone = document.getElementById("dropzone");
  const fileInput = document.getElementById("document-input");
  const uploadMetadata = document.getElementById("document-metadata");
  let pollTimer = null;

  function metadataText(metadata) {
    // By key: PostgreSQL's jsonb does not keep the order the keys were written in.
    const entries = Object.entries(metadata || {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (!entries.length) return texts.no_metadata;
    return entries.map(([key, value]) => key + ": " + (Array.isArray(value) ? value.join(", ") : value)).join(" · ");
  }

  // Editors open, with what is typed in them and their error: the list is drawn again while
  // documents are indexed (polling), and must not close an editor or lose its text.
  const drafts = new Map();

  function metadataEditor(document) {
    const draft = drafts.get(document.id);
    const input = element("textarea", { rows: "2", spellcheck: "false", "aria-label": texts.metadata + ": " + document.name });
    input.value = draft ? draft.text : Object.keys(document.metadata || {}).length ? JSON.stringify(document.metadata) : "";
    input.addEventListener("input", () => drafts.set(document.id, { text: input.value, error: "" }));
    const error = element("p", { class: "alert alert-error", role: "alert", hidden: true });
    if (draft && draft.error) showError(error, draft.error);
    const form = element("form", { class: "metadata-form", novalidate: true }, [
      input,
      element("button", { type: "submit", class: "button", text: texts.save_metadata }),
      error,
    ]);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      showError(error, "");
      let metadata = {};
      try {
        metadata = input.value.trim() ? JSON.parse(input.value) : {};
      } catch (_ignored) {
        drafts.set(document.id, { text: input.value, error: texts.invalid_json });
        showError(error, texts.invalid_json);
        return;
      }
      try {
        documents.set(document.id, await request("PATCH", base + "/documents/" + document.id, { metadata }));
        drafts.delete(document.id);
        renderDocuments();
      } catch (failure) {
        drafts.set(document.id, { text: input.value, error: describeError(failure) });
        renderDocuments();
      }
    });
    const details = element("details", { class: "document-metadata", open: Boolean(draft) }, [
      element("summary", { text: texts.edit_metadata + " — " + metadataText(document.metadata) }),
      form,
    ]);
    details.addEventListener("toggle", () => {
      if (details.open && !drafts.has(document.id)) drafts.set(document.id, { text: input.value, error: "" });
      if (!details.open) drafts.delete(document.id);
    });
    return details;
  }

  function statusText(document) {
    const label = texts.status[document.status] || document.status;
    if (document.status === "failed" && document.error_message) return label + ": " + document.error_message;
    if (document.status === "ready") return label + " · " + format(texts.chunks, { count: document.chunk_count });
    return label;
  }

  function renderDocuments() {
    documentList.replaceChildren();
    if (!documents.size) documentList.append(element("li", { class: "muted", text: texts.no_documents }));
    const sorted = [...documents.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    for (const document of sorted) {
      const actions = [element("button", { type: "button", class: "icon-button", "aria-label": texts.delete + ": " + document.name, title: texts.delete, text: "✕", onclick: () => deleteDocument(document) })];
      if (document.status === "ready" || document.status === "failed") {
        actions.unshift(element("button", { type: "button", class: "icon-button", "aria-label": texts.reindex + ": " + document.name, title: texts.reindex, text: "↻", onclick: () => reindex(document) }));
      }
      documentList.append(
        element("li", { class: "document-item", "data-document-id": document.id, "data-status": document.status }, [
          element("span", { class: "document-name", text: document.name }),
          element("span", { class: "status status-" + document.status, text: statusText(document) }),
          element("span", { class: "item-actions" }, actions),
          metadataEditor(document),
        ])
      );
    }
  }

  function schedulePoll() {
    const busy = [...documents.values()].some((document) => document.status === "pending" || document.status === "processing" || document.status === "embedding");
    if (busy && pollTimer === null) pollTimer = window.setTimeout(poll, 1000);
  }

  async function poll() {
    pollTimer = null;
    for (const document of [...documents.values()]) {
      if (document.status !== "pending" && document.status !== "processing" && document.status !== "embedding") continue;
      try {
        documents.set(document.id, await request("GET", base + "/documents/" + document.id));
      } catch (error) {
        if (error.status === 404) documents.delete(document.id);
      }
    }
    renderDocuments();
    schedulePoll();
  }

  async function upload(files) {
    showError(documentError, "");
    const problems = [];
    for (const file of files) {
      const body = new FormData();
      body.append("file", file);
      if (uploadMetadata.value.trim()) body.append("metadata", uploadMetadata.value.trim());
      showError(documentError, "");
      try {
        const created = await request("POST", base + "/documents", body);
        documents.set(created.id, created);
        renderDocuments();
      } catch (error) {
        problems.push(file.name + ": " + describeError(error));
      }
    }
    showError(documentError, problems.join(" "));
    schedulePoll();
  }

  async function deleteDocument(document) {
    if (!window.confirm(texts.confirm_delete_document)) return;
    try {
      await request("DELETE", base + "/documents/" + document.id);
      documents.delete(document.id);
      renderDocuments();
    } catch (error) {
      showError(documentError, describeError(error));
    }
  }

  async function reindex(document) {
    try {
      documents.set(document.id, await request("POST", base + "/documents/" + document.id + "/reindex"));
      renderDocuments();
      schedulePoll();
    } catch (error) {
      showError(documentError, describeError(error));
    }
  }

  fileInput.addEventListener("change", () => {
    upload([...fileInput.files]);
    fileInput.value = "";
  });
  for (const name of ["dragenter", "dragover"]) {
    dropzone.addEventListener(name, (event) => {
      event.preventDefault();
      dropzone.classList.add("dragging");
    });
  }
  for (const name of ["dragleave", "drop"]) {
    dropzone.addEventListener(name, () => dropzone.classList.remove("dragging"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) upload([...event.dataTransfer.files]);
  });

  renderConfigs();
  renderDocuments();
  schedulePoll();
})();
