// Live updates for the queue and brief pages, from the workspace's websocket.
//
// The server sends {"type": "snapshot", ...} on connect, then events shaped
// {"type": "brief.queued", "subject": {...}, "data": {"brief_id", "job_id", "state", ...}, "at"}.
// The database is the source of truth: after a reconnect the page reloads its
// live parts over HTTP, then follows events again.
(function () {
  "use strict";

  const root = document.querySelector("[data-live-root]");
  const workspaceId = document.body.dataset.workspaceId;
  if (!root || !workspaceId || !("WebSocket" in window)) return;

  const page = root.dataset.page;
  const briefFilter = page === "brief" ? root.dataset.briefId : null;
  const ACTIVE_JOB_STATES = new Set(["queued", "running", "evaluating"]);
  let refreshTimer = null;

  function handle(message) {
    const type = String(message.type || "");
    const data = message.data || {};
    if (type === "snapshot") {
      // Events may have been missed: on a reconnect, and also between rendering this
      // page and joining the group (a worker finishing in that gap was seen in tests).
      scheduleRefresh();
      return;
    }
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
      if (existing && data.state) placeCard(existing, data.state);
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
        // Events that came while this was in flight found no card; the server's copy is newer.
        const stale = card(briefId);
        if (stale) {
          bump(stale.dataset.state, -1);
          stale.remove();
        }
        placeCard(fresh, fresh.dataset.state);
      });
  }

  function placeCard(el, state) {
    const list = root.querySelector('[data-column="' + state + '"] [data-cards]');
    if (!list) return;
    const from = el.isConnected ? el.dataset.state : null;
    el.dataset.state = state;
    // Keep each column ordered by priority, highest first, as the server renders it.
    const priority = Number(el.dataset.priority || 0);
    const before = Array.prototype.find.call(list.children, function (other) {
      return other !== el && Number(other.dataset.priority || 0) < priority;
    });
    list.insertBefore(el, before || null);
    // A column shows only its first cards, so counts move by one rather than being recounted.
    if (from !== state) {
      if (from) bump(from, -1);
      bump(state, 1);
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

  function scheduleRefresh() {
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(refresh, 300); // one reload for a burst of events
  }

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        const fresh = new DOMParser().parseFromString(html, "text/html")
          .querySelector("[data-live-root]");
        if (!fresh) return;
        if (page !== "brief") {
          root.innerHTML = fresh.innerHTML; // the queue's board or table, as a whole
          return;
        }
        replaceSections(fresh);
      });
  }

  // Brief page: swap each live section for its fresh copy, in the fresh order, except
  // one holding a field the user is typing in, unless the brief's state moved (then
  // that form no longer applies).
  function replaceSections(fresh) {
    const stateOf = function (doc) {
      const el = doc.querySelector("[data-brief-state]");
      return el ? el.dataset.briefState : "";
    };
    const stateMoved = stateOf(root) !== stateOf(fresh);
    // A flash message ("queued for generation") told of the state the page was drawn in.
    const flash = document.querySelector("main > .messages");
    if (stateMoved && flash) flash.remove();
    const busy = function (section) {
      const active = document.activeElement;
      return section.contains(active) && /^(TEXTAREA|INPUT|SELECT)$/.test(active.tagName);
    };
    const wanted = Array.prototype.slice.call(fresh.querySelectorAll("[data-live-section]"));
    const wantedIds = new Set(wanted.map(function (section) { return section.id; }));
    root.querySelectorAll("[data-live-section]").forEach(function (section) {
      if (!wantedIds.has(section.id)) section.remove();
    });
    let previous = null;
    wanted.forEach(function (section) {
      const current = root.querySelector("#" + section.id);
      const keep = current !== null && busy(current) && !stateMoved;
      const node = keep ? current : section;
      if (current && !keep) current.replaceWith(node);
      else if (!current && previous) previous.after(node);
      else if (!current) root.prepend(node);
      previous = node;
    });
  }

  window.followWorkspace(workspaceId, handle);
})();
