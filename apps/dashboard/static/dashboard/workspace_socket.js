// The workspace's websocket, shared by the dashboard's live pages: connects, parses
// messages, shows the connection in [data-live-status], and reconnects with
// exponential backoff and jitter (so a restarted server is not stampeded) unless
// the server closed for a reason retrying cannot fix.
(function () {
  "use strict";

  const MAX_BACKOFF_MS = 30000;
  const PERMANENT_CLOSES = { 4400: "offline (bad request)", 4401: "offline (signed out)",
    4403: "offline (not allowed)" };

  // onMessage(message) for every parsed message; the server's "snapshot" comes first on
  // each (re)connect, the moment for a page to reload what it may have missed.
  window.followWorkspace = function (workspaceId, onMessage) {
    const statusEl = document.querySelector("[data-live-status]");
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const url = scheme + "//" + window.location.host + "/ws/workspace/?workspace=" +
      encodeURIComponent(workspaceId);
    let attempts = 0;

    function setStatus(text) {
      if (statusEl) statusEl.textContent = text;
    }

    function connect() {
      const socket = new WebSocket(url);
      socket.addEventListener("open", function () {
        attempts = 0;
        setStatus("live");
      });
      socket.addEventListener("message", function (event) {
        let message;
        try {
          message = JSON.parse(event.data);
        } catch (err) {
          return;
        }
        onMessage(message);
      });
      socket.addEventListener("close", function (event) {
        if (PERMANENT_CLOSES[event.code]) {
          setStatus(PERMANENT_CLOSES[event.code]);
          return;
        }
        const delay = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
        attempts += 1;
        setStatus("offline, retrying in " + Math.round(delay / 1000) + " s");
        window.setTimeout(connect, delay);
      });
    }

    connect();
  };
})();
