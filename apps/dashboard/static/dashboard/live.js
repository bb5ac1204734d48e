// Live updates for the queue, brief, calendar and settings pages, from the workspace's
// websocket. A page that follows only some events names their prefixes in its root's
// data-live-events ("publication.", "settings.").
//
// The server sends {"type": "snapshot", ...} on connect, then events shaped
// {"type": "brief.queued", "subject": {...}, "data": {"brief_id", "job_id", "state", ...}, "at"}.
// The database is the source of truth: after a reconnect the page reloads its
// live parts over HTTP, then follows events again.
//
// Fresh server-rendered HTML is merged in by DOM morphing (vendor/idiomorph.js), never
// swapped in, so focus, caret, scroll, open panels and every field the user has changed
// stay as they are. A brief-page section holding unsent input is not touched at all: a
// quiet notice says what changed there ("new comment from eddie"), with a button to show it.
window.onLivePanel("[data-live-root]", function (root, workspaceId) {
  "use strict";

  if (!("WebSocket" in window) || !window.Idiomorph) return;

  const page = root.dataset.page;
  const briefFilter = page === "brief" ? root.dataset.briefId : null;
  // A brief page drawn after a refused POST sits at the form's URL: read the brief's own.
  const refreshUrl = root.dataset.refreshUrl || window.location.href;
  const followed = root.dataset.liveEvents ? root.dataset.liveEvents.split(" ") : null;
  const ACTIVE_JOB_STATES = new Set(["queued", "running", "evaluating"]);
  const FIELDS = "input, textarea, select";
  const TAB_STATE = new Set(["hidden", "aria-selected", "tabindex"]);
  let refreshTimer = null;

  // --- what must survive a merge --------------------------------------------

  // A field whose value the user changed and has not sent.
  function changed(field) {
    if (field.type === "hidden" || field.readOnly) return false;
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    if (field.tagName === "SELECT") {
      const options = Array.prototype.slice.call(field.options);
      if (field.multiple) return options.some(function (o) { return o.selected !== o.defaultSelected; });
      const preset = options.findIndex(function (o) { return o.defaultSelected; });
      return field.options.length > 0 && field.selectedIndex !== Math.max(0, preset);
    }
    return field.value !== field.defaultValue;
  }

  // Unsent input anywhere inside `node`.
  function holdsInput(node) {
    if (node.nodeType !== Node.ELEMENT_NODE) return false;
    if (node.matches(FIELDS)) return changed(node);
    return Array.prototype.some.call(node.querySelectorAll(FIELDS), changed);
  }

  // What the server said once and will not say again: a refusal, a form sent back refused
  // with the user's input in it, a guest link shown once.
  function kept(node) {
    return node.nodeType === Node.ELEMENT_NODE &&
      (node.matches("[data-live-keep]") || node.querySelector("[data-live-keep]") !== null);
  }

  // Morph `current` into `fresh` ("innerHTML": its children only). Nodes in `held` are left
  // alone, and so is a changed form as a whole: its hidden fields (the revision an edit
  // started from) must stay those of the text being typed. Details keep the user's open state.
  function merge(current, fresh, style, held) {
    window.Idiomorph.morph(current, fresh, {
      morphStyle: style,
      restoreFocus: true,
      callbacks: {
        beforeNodeMorphed: function (old) {
          if (held && held.has(old)) return false;
          if (old.nodeType !== Node.ELEMENT_NODE) return true;
          if (old.matches("[data-live-keep]")) return false;
          return !(old.matches("form") || old.matches(FIELDS)) || !holdsInput(old);
        },
        beforeNodeRemoved: function (node) {
          return !(held && held.has(node)) && !holdsInput(node) && !kept(node);
        },
        beforeAttributeUpdated: function (name, element) {
          if (name === "open" && element.tagName === "DETAILS") return false;
          // A tab list keeps the tab the user chose (review_screen.js).
          if (TAB_STATE.has(name) && element.closest("[data-tabs]")) return false;
          // Any of the server's CSRF tokens is as good as another: no needless change.
          return !(name === "value" && element.name === "csrfmiddlewaretoken");
        },
      },
    });
  }

  // The server's HTML as compared between two reads: tokens and "5 min ago" texts differ
  // between renders of the same state.
  function normalized(html) {
    return html.replace(/name="csrfmiddlewaretoken" value="[^"]*"/g, "")
      .replace(/(<time [^>]*>)[^<]*/g, "$1");
  }

  // Tests and anything else that waits for the page to be current listen for this.
  function announce(merged) {
    document.dispatchEvent(new CustomEvent("dashboard:refreshed", { detail: { merged: merged } }));
  }

  function handle(type, data) {
    if (followed && !followed.some(function (prefix) { return type.startsWith(prefix); })) return;
    const briefId = data.brief_id != null ? String(data.brief_id) : null;
    if (briefFilter !== null && briefId !== briefFilter) return;
    if (type === "job.progress") {
      showProgress(data);
    } else if (page === "queue") {
      onQueueEvent(type, data, briefId);
    } else {
      scheduleRefresh();
    }
  }

  // --- queue page -----------------------------------------------------------

  function card(briefId) {
    return root.querySelector('.card[data-brief-id="' + briefId + '"]');
  }

  function onQueueEvent(type, data, briefId) {
    if (briefId === null) return;
    const existing = card(briefId);
    if (type.startsWith("brief.")) {
      if (existing && data.state) placeCard(existing, existing.dataset.state, data.state);
      // The server's card is the truth (job state, score, reviewer): read it again, so a
      // card never keeps "scoring…" or a progress bar after its brief moved on.
      insertCard(briefId);
    } else if (type.startsWith("job.") && existing && data.state) {
      setJobState(existing, data.state);
    }
  }

  function insertCard(briefId) {
    const url = root.dataset.cardUrl.replace(/0\/card\/$/, briefId + "/card/");
    fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        const template = document.createElement("template");
        template.innerHTML = html.trim();
        const fresh = template.content.firstElementChild;
        if (!fresh) return;
        // Events that came while this was in flight found no card; the server's copy is
        // newer. Merged, not replaced: a ticked box for a bulk action stays ticked.
        const current = card(briefId);
        if (!current) {
          placeCard(fresh, null, fresh.dataset.state);
          return;
        }
        const from = current.dataset.state;
        merge(current, fresh, "outerHTML", null);
        placeCard(current, from, current.dataset.state);
      });
  }

  // Move a card into the column of `to`, counting it out of `from` (null: a new card).
  function placeCard(el, from, to) {
    const list = root.querySelector('[data-column="' + to + '"] [data-cards]');
    if (!list) return;
    el.dataset.state = to;
    // Keep each column ordered by priority, highest first, as the server renders it.
    const priority = Number(el.dataset.priority || 0);
    const before = Array.prototype.find.call(list.children, function (other) {
      return other !== el && Number(other.dataset.priority || 0) < priority;
    });
    if (el.parentNode !== list || (before && el.nextElementSibling !== before)) {
      list.insertBefore(el, before || null);
    }
    // A column shows only its first cards, so counts move by one rather than being recounted.
    if (from !== to) {
      if (from) bump(from, -1);
      bump(to, 1);
    }
  }

  function bump(state, delta) {
    const badge = root.querySelector('[data-column="' + state + '"] [data-count]');
    if (!badge) return;
    const capped = badge.textContent.trim().endsWith("+");
    const count = Math.max(0, parseInt(badge.textContent, 10) + delta);
    badge.textContent = count + (capped ? "+" : "");
    badge.setAttribute("aria-label", count + (capped ? " or more" : "") + " briefs");
  }

  function setJobState(el, state) {
    const label = el.querySelector("[data-job-state]");
    if (label) label.textContent = state;
    const progress = el.querySelector("[data-progress]");
    if (!progress) return;
    progress.hidden = !ACTIVE_JOB_STATES.has(state);
    if (state === "evaluating") setBar(progress, 1, "scoring…");
    else if (progress.hidden) setBar(progress, 0, "");
  }

  // --- progress (both pages) ------------------------------------------------

  // The fraction done: `progress` (0..1) when the worker sends it, else tokens so far
  // over the token budget; null when unknown (the bar stays indeterminate).
  function fraction(data) {
    if (typeof data.progress === "number") return data.progress;
    const done = data.tokens != null ? data.tokens : data.completion_tokens;
    const budget = data.max_tokens != null ? data.max_tokens : data.max_new_tokens;
    return done != null && budget ? Math.min(1, done / budget) : null;
  }

  function setBar(container, value, text) {
    const bar = container.querySelector("[data-progress-bar]");
    const label = container.querySelector("[data-progress-text]");
    if (bar && value !== null) bar.value = Math.round(value * 100);
    if (label) label.textContent = text;
  }

  // "12 of 30 tokens · 40%": tokens generated out of the job's max new tokens.
  function progressText(data, value) {
    if (value === null) return "";
    const percent = Math.round(value * 100) + "%";
    const done = data.tokens != null ? data.tokens : data.completion_tokens;
    return done != null && data.max_new_tokens ?
      done + " of " + data.max_new_tokens + " tokens · " + percent : percent;
  }

  function showProgress(data) {
    const value = fraction(data);
    const text = progressText(data, value);
    const scope = page === "queue" ? card(String(data.brief_id)) :
      root.querySelector('.job[data-job-id="' + data.job_id + '"]');
    if (!scope) return;
    const container = scope.querySelector("[data-progress]");
    if (container) {
      container.hidden = false;
      setBar(container, value, text);
    }
    const stream = scope.querySelector("[data-stream]");
    if (stream && typeof data.text === "string") streamText(stream, data);
  }

  // `text` is the variant's text so far; one block per variant.
  function streamText(stream, data) {
    const variant = data.variant != null ? String(data.variant) : "0";
    let block = stream.querySelector('[data-variant="' + variant + '"]');
    if (!block) {
      block = document.createElement("pre");
      block.dataset.variant = variant;
      block.setAttribute("aria-label", "Variant " + variant + " as it is written");
      stream.appendChild(block);
    }
    block.textContent = data.text;
  }

  // --- re-reading the page --------------------------------------------------

  // The server's copy of the page as last merged in: a read that brings nothing new (the
  // one after connecting, usually) changes nothing on the page.
  let rootSeen = normalized(root.innerHTML);

  function scheduleRefresh() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refresh, 300); // one read for a burst of events
  }

  function refresh() {
    // Marked as a live read: the server then leaves messages, the undo toast and a secret
    // shown once to the page the user opens next (this read can run while a form's redirect is being followed).
    fetch(refreshUrl, { credentials: "same-origin", headers: { "X-Live-Read": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.querySelector("[data-live-root]");
        if (!fresh) return;
        const seen = normalized(fresh.innerHTML);
        if (seen === rootSeen && Object.keys(pending).length === 0) {
          announce(false);
          return;
        }
        rootSeen = seen;
        if (page === "brief") mergeSections(doc);
        else merge(root, fresh, "innerHTML", null); // the queue's board or table, as a whole
        announce(true);
      });
  }

  // --- brief page: sections being edited --------------------------------------

  // Per section id: its server HTML and the brief's state when it was last merged in, and
  // the fresh copy held back while the user edits it (null: the section is gone).
  const sectionSeen = {};
  const pending = {};

  function briefState(scope) {
    const el = scope.querySelector("[data-brief-state]");
    return el ? { value: el.dataset.briefState, label: el.textContent.trim() } : { value: "", label: "" };
  }

  function remember(section, state) {
    sectionSeen[section.id] = { html: normalized(section.outerHTML), state: state };
  }

  if (page === "brief") {
    const state = briefState(root).value;
    root.querySelectorAll("[data-live-section]").forEach(function (section) { remember(section, state); });
  }

  // Items marked data-news (a comment, an approval, a lock) that the fresh copy has and the
  // page does not, in words; the brief's state first when it moved.
  function whatChanged(section, copy, state) {
    const items = [];
    if (state.value !== sectionSeen[section.id].state) items.push("the brief is now " + state.label);
    const shown = new Set(Array.prototype.map.call(section.querySelectorAll("[data-news-key]"),
      function (el) { return el.dataset.newsKey; }));
    if (copy) {
      copy.querySelectorAll("[data-news-key]").forEach(function (el) {
        if (!shown.has(el.dataset.newsKey) && items.indexOf(el.dataset.news) < 0) items.push(el.dataset.news);
      });
    }
    if (!copy) items.push("this part no longer applies, your input is kept here");
    if (items.length === 0) items.push("this part was updated");
    return items;
  }

  function notice(section, items, canShow) {
    let box = section.querySelector(":scope > [data-live-notice]");
    if (!box) {
      box = document.createElement("div");
      box.className = "live-notice";
      box.dataset.liveNotice = "";
      box.setAttribute("role", "status");
      const text = document.createElement("span");
      const show = document.createElement("button");
      show.type = "button";
      show.textContent = "Show";
      show.addEventListener("click", function () { showPending(section); });
      box.append(text, " ", show);
      const heading = section.querySelector(":scope > h2");
      if (heading) heading.after(box);
      else section.prepend(box);
    }
    const words = items.join("; ");
    box.firstChild.textContent = words.charAt(0).toUpperCase() + words.slice(1) + ".";
    box.querySelector("button").hidden = !canShow;
  }

  function clearNotice(section) {
    const box = section.querySelector(":scope > [data-live-notice]");
    if (box) box.remove();
  }

  function showPending(section) {
    const copy = pending[section.id];
    delete pending[section.id];
    clearNotice(section);
    if (!copy) return;
    merge(section, copy, "outerHTML", null);
    remember(section, briefState(root).value);
    announce(true);
  }

  function mergeSections(doc) {
    const fresh = doc.querySelector("[data-live-root]");
    const state = briefState(doc);
    // A flash message ("queued for generation") told of the state the page was drawn in.
    const flash = document.querySelector("main > .messages");
    if (flash && state.value !== briefState(root).value) flash.remove();
    const held = new Set();
    root.querySelectorAll("[data-live-section]").forEach(function (section) {
      if (!holdsInput(section)) {
        delete pending[section.id];
        clearNotice(section);
        return;
      }
      held.add(section);
      const copy = doc.getElementById(section.id);
      if (copy && normalized(copy.outerHTML) === sectionSeen[section.id].html) {
        delete pending[section.id];
        clearNotice(section);
        return;
      }
      pending[section.id] = copy;
      notice(section, whatChanged(section, copy, state), copy !== null);
    });
    merge(root, fresh, "innerHTML", held);
    root.querySelectorAll("[data-live-section]").forEach(function (section) {
      if (!held.has(section)) remember(section, state.value);
    });
  }

  // On a snapshot events may have been missed: on a reconnect, and also between rendering
  // this page and joining the group (a worker finishing in that gap was seen in tests).
  window.followWorkspace(workspaceId, handle, scheduleRefresh);
});
