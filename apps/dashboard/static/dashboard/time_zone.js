// The first dashboard visit sends the browser's time zone (Intl) once; the server keeps it
// unless the user has chosen one. The page was drawn in the workspace's zone: when the
// browser's differs it is drawn again, unless the user has started typing.
(function () {
  "use strict";

  const form = document.querySelector("form[data-browser-zone]");
  if (!form || !window.Intl) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  let typed = false;
  document.addEventListener("input", function () { typed = true; }, { once: true });

  const body = new URLSearchParams(new FormData(form));
  body.set("time_zone", zone);
  fetch(form.action, { method: "POST", credentials: "same-origin", body: body })
    .then(function (response) { return response.ok ? response.json() : null; })
    .then(function (data) {
      if (data && data.kept && zone !== form.dataset.pageZone && !typed) {
        window.location.reload();
      }
    });
})();
