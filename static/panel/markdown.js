/* A tiny Markdown renderer for model output. Safety first: the text is HTML-escaped
   before anything else, and the renderer only ever adds its own whitelisted tags
   (p, h3-h5, ul, ol, li, pre, code, strong, em, a with an http(s) href, sup), so no
   markup from the model reaches the page. A code block takes the keyboard focus
   (tabindex), so a keyboard user can scroll it sideways. */
(function () {
  "use strict";

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  /* `escaped` is already HTML-escaped. `cite(n)` returns the href of citation n, or null. */
  function inline(escaped, cite) {
    const codes = [];
    let html = escaped.replace(/`([^`\n]+)`/g, (_, code) => {
      codes.push("<code>" + code + "</code>");
      return "\u0000" + (codes.length - 1) + "\u0000";
    });
    html = html.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, (_, label, url) =>
      '<a href="' + url + '" rel="noopener noreferrer nofollow" target="_blank">' + label + "</a>"
    );
    html = html.replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>");
    html = html.replace(/(^|[^*\w])\*([^*\n]+)\*(?!\w)/g, "$1<em>$2</em>");
    html = html.replace(/(^|[^\w])_([^_\n]+)_(?!\w)/g, "$1<em>$2</em>");
    html = html.replace(/\[(\d{1,3})\]/g, (match, number) => {
      const href = cite ? cite(Number(number)) : null;
      if (!href) return match;
      return '<sup><a class="cite-ref" href="' + escapeHtml(href) + '">[' + number + "]</a></sup>";
    });
    return html.replace(/\u0000(\d+)\u0000/g, (_, index) => codes[Number(index)]);
  }

  function render(text, cite) {
    const lines = escapeHtml(String(text || "").replace(/\u0000/g, "")).split("\n");
    const out = [];
    let paragraph = [];
    let list = null; // {tag, items}
    let code = null;

    const flushParagraph = () => {
      if (paragraph.length) out.push("<p>" + paragraph.map((line) => inline(line, cite)).join("<br>") + "</p>");
      paragraph = [];
    };
    const flushList = () => {
      if (list) out.push("<" + list.tag + ">" + list.items.map((item) => "<li>" + inline(item, cite) + "</li>").join("") + "</" + list.tag + ">");
      list = null;
    };

    for (const line of lines) {
      if (code !== null) {
        if (/^\s*```/.test(line)) {
          out.push('<pre tabindex="0"><code>' + code.join("\n") + "</code></pre>");
          code = null;
        } else {
          code.push(line);
        }
        continue;
      }
      if (/^\s*```/.test(line)) {
        flushParagraph();
        flushList();
        code = [];
        continue;
      }
      const heading = /^(#{1,3})\s+(.*)$/.exec(line);
      const bullet = /^\s*[-*+]\s+(.*)$/.exec(line);
      const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      if (heading) {
        flushParagraph();
        flushList();
        const level = heading[1].length + 2;
        out.push("<h" + level + ">" + inline(heading[2], cite) + "</h" + level + ">");
      } else if (bullet || numbered) {
        flushParagraph();
        const tag = bullet ? "ul" : "ol";
        if (list && list.tag !== tag) flushList();
        if (!list) list = { tag: tag, items: [] };
        list.items.push((bullet || numbered)[1]);
      } else if (!line.trim()) {
        flushParagraph();
        flushList();
      } else {
        flushList();
        paragraph.push(line);
      }
    }
    if (code !== null) out.push('<pre tabindex="0"><code>' + code.join("\n") + "</code></pre>");
    flushParagraph();
    flushList();
    return out.join("");
  }

  window.PanelMarkdown = { render: render, escapeHtml: escapeHtml };
})();
