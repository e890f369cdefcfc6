/* Bytchat panel: shared helpers (texts, CSRF, JSON calls) and the layout's behaviour. */
(function () {
  "use strict";

  const textsNode = document.getElementById("panel-texts");
  const texts = textsNode ? JSON.parse(textsNode.textContent) : { errors: {}, status: {} };

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /* "%(name)s" placeholders, as Django's gettext strings write them. */
  function format(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, (_, key) => (key in values ? String(values[key]) : ""));
  }

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || "HTTP " + status);
      this.status = status;
      this.code = error.code || "";
      this.fields = error.fields || {};
      this.body = error;
    }
  }

  /* What to tell the user about a failed call: the error code's text in their language. */
  function describeError(error) {
    if (error instanceof ApiError) {
      const known = texts.errors[error.code];
      const fieldMessages = Object.values(error.fields || {}).flat().join(" ");
      if (error.code === "VALIDATION_ERROR" && fieldMessages) return fieldMessages;
      // A refusal outside the API's envelope (a CSRF failure page) has no code.
      return known || (error.code ? error.message : texts.generic_error);
    }
    return texts.network_error;
  }

  async function request(method, url, body) {
    const options = {
      method: method,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    if (response.status === 204) return null;
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("application/json")) data = await response.json();
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children || []) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  function showError(node, message) {
    if (!node) return;
    node.textContent = message || "";
    node.hidden = !message;
  }

  window.Panel = { texts, format, request, describeError, element, showError, csrfToken, ApiError };

  document.addEventListener("DOMContentLoaded", () => {
    const toggle = document.querySelector("[data-menu-toggle]");
    const sidebar = document.getElementById("sidebar");
    if (toggle && sidebar) {
      toggle.addEventListener("click", () => {
        const open = sidebar.classList.toggle("open");
        toggle.setAttribute("aria-expanded", String(open));
      });
      // Escape closes the open menu and gives the focus back to its button.
      document.addEventListener("keydown", (event) => {
        if (event.key !== "Escape" || !sidebar.classList.contains("open") || getComputedStyle(toggle).display === "none") return;
        sidebar.classList.remove("open");
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      });
    }
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(texts[form.dataset.confirm] || "?")) event.preventDefault();
      });
    }
  });
})();
