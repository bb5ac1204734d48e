// The first dashboard visit sends the browser's time zone (Intl) once; the server keeps it
// unless the user has chosen one, and the next pages show and read times in it. This page
// is not reloaded for it: that could lose what the user is typing or clicking.
(function () {
  "use strict";

  const form = document.querySelector("form[data-browser-zone]");
  if (!form || !window.Intl) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  const body = new URLSearchParams(new FormData(form));
  body.set("time_zone", zone);
  fetch(form.action, { method: "POST", credentials: "same-origin", body: body });
})();
