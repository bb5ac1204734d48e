// The review screen's previews: a tab per target, and the live count and previews of the
// text being typed in a draft's editor (asked of the server, which counts in the brief's
// unit as the scorer does: characters for Chinese and Japanese, words elsewhere).
//
// Listeners sit on the document: live.js merges fresh sections into the page, and nodes
// come and go. live.js keeps a tab list's selection (hidden, aria-selected, tabindex)
// through a merge.
(function () {
  "use strict";

  const DEBOUNCE_MS = 250;
  const timers = new Map(); // preview URL -> timer
  const asked = new Map(); // preview URL -> the latest request's number

  function tabs(container) {
    return Array.prototype.slice.call(container.querySelectorAll('[role="tab"]'));
  }

  function select(tab) {
    const container = tab.closest("[data-tabs]");
    tabs(container).forEach(function (other) {
      const chosen = other === tab;
      other.setAttribute("aria-selected", chosen ? "true" : "false");
      if (chosen) other.removeAttribute("tabindex");
      else other.setAttribute("tabindex", "-1");
      const panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !chosen;
    });
  }

  document.addEventListener("click", function (event) {
    const tab = event.target.closest && event.target.closest('[data-tabs] [role="tab"]');
    if (tab) select(tab);
  });

  // Arrow keys move along the tab list, as in any tab widget.
  document.addEventListener("keydown", function (event) {
    const tab = event.target.closest && event.target.closest('[data-tabs] [role="tab"]');
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    const all = tabs(tab.closest("[data-tabs]"));
    const step = event.key === "ArrowRight" ? 1 : -1;
    const next = all[(all.indexOf(tab) + step + all.length) % all.length];
    select(next);
    next.focus();
    event.preventDefault();
  });

  // The fresh previews in place of the old, on the tab the user had chosen.
  function swapPreviews(card, fresh) {
    const current = card.querySelector("[data-previews]");
    if (!current || !fresh) return;
    const chosen = current.querySelector('[role="tab"][aria-selected="true"]');
    current.innerHTML = fresh.innerHTML;
    const again = chosen && document.getElementById(chosen.id);
    if (again) select(again);
  }

  function refreshPreview(editor) {
    const url = editor.dataset.previewUrl;
    const form = editor.querySelector("form");
    const number = (asked.get(url) || 0) + 1;
    asked.set(url, number);
    const body = new URLSearchParams();
    body.set("text", form.querySelector("textarea[name=text]").value);
    fetch(url, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value },
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      if (asked.get(url) !== number) return; // a later keystroke asked again
      const live = document.querySelector('[data-edit][data-preview-url="' + url + '"]');
      if (!live) return;
      const doc = new DOMParser().parseFromString(html, "text/html");
      const count = live.querySelector("[data-count-line]");
      const freshCount = doc.querySelector("[data-count-line]");
      if (count && freshCount) {
        count.innerHTML = freshCount.innerHTML;
        count.classList.toggle("field-error", freshCount.classList.contains("field-error"));
      }
      swapPreviews(live.closest("article"), doc.querySelector("[data-previews]"));
    });
  }

  document.addEventListener("input", function (event) {
    const editor = event.target.closest && event.target.closest("[data-edit][data-preview-url]");
    if (!editor || event.target.name !== "text") return;
    const url = editor.dataset.previewUrl;
    window.clearTimeout(timers.get(url));
    timers.set(url, window.setTimeout(function () { refreshPreview(editor); }, DEBOUNCE_MS));
  });
})();
