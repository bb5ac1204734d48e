// The workspace's websocket, one per page and opened on every dashboard page with a
// workspace (so the header's [data-live-status] tells the truth everywhere): connects,
// parses messages, hands them to the page's listeners, and reconnects with exponential
// backoff and jitter (so a restarted server is not stampeded) unless the server closed
// for a reason retrying cannot fix.
(function () {
  "use strict";

  const MAX_BACKOFF_MS = 30000;
  const PERMANENT_CLOSES = { 4400: "offline (bad request)", 4401: "offline (signed out)",
    4403: "offline (not allowed)" };
  const listeners = [];
  let started = false;

  function setStatus(text, state) {
    const statusEl = document.querySelector("[data-live-status]");
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.dataset.liveState = state;
  }

  // The header's unread count, sent when a notification for this user arrives or is read.
  function showUnread(count) {
    const badge = document.querySelector("[data-unread]");
    if (!badge || typeof count !== "number") return;
    badge.textContent = String(count);
    badge.setAttribute("aria-label", count + " unread");
    badge.hidden = count === 0;
  }

  function start(workspaceId) {
    if (started || !("WebSocket" in window)) return;
    started = true;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + window.location.host + "/ws/workspace/?workspace=" +
      encodeURIComponent(workspaceId);
    let attempts = 0;

    function connect() {
      const socket = new WebSocket(url);
      socket.addEventListener("open", function () {
        attempts = 0;
        setStatus("live", "live");
      });
      socket.addEventListener("message", function (event) {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (err) {
          return;
        }
        const type = String(message.type || "");
        const data = message.data || {};
        if (type === "notification.unread") showUnread(data.unread);
        listeners.forEach(function (listener) {
          if (type !== "snapshot") {
            listener.onEvent(type, data);
          } else if (listener.onSnapshot) {
            listener.onSnapshot();
          }
        });
      });
      socket.addEventListener("close", function (event) {
        if (PERMANENT_CLOSES[event.code]) {
          setStatus(PERMANENT_CLOSES[event.code], "offline");
          return;
        }
        const delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
        attempts += 1;
        setStatus("offline, retrying in " + Math.round(delay / 1000) + " s", "offline");
        window.setTimeout(connect, delay);
      });
    }

    connect();
  }

  // onEvent(type, data) for every event; onSnapshot() for the server's "snapshot", which
  // comes first on each (re)connect: the moment for a page to read again what it may have
  // missed.
  window.followWorkspace = function (workspaceId, onEvent, onSnapshot) {
    listeners.push({ onEvent: onEvent, onSnapshot: onSnapshot });
    start(workspaceId);
  };

  // How a page's live script starts: run(panel, workspaceId) if the page has the panel that
  // `selector` finds and a workspace to follow; otherwise it has nothing live.
  window.onLivePanel = function (selector, run) {
    const panel = document.querySelector(selector);
    const workspaceId = document.body.dataset.workspaceId;
    if (panel && workspaceId) run(panel, workspaceId);
  };

  // Pages with no live parts of their own still show whether the connection holds. Their
  // own scripts (deferred, after this one) have subscribed by DOMContentLoaded.
  document.addEventListener("DOMContentLoaded", function () {
    const workspaceId = document.body.dataset.workspaceId;
    if (workspaceId) start(workspaceId);
  });
})();
