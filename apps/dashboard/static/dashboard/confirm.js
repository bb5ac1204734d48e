// A confirm step for risky forms: a form with data-confirm="question" opens a dialog on
// submit, and is sent only when the user confirms. The bulk form (data-confirm-bulk) asks
// with the chosen action and how many briefs are selected.
(function () {
  "use strict";

  let dialog = null;

  function build() {
    dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-question");
    const question = document.createElement("p");
    question.id = "confirm-question";
    const buttons = document.createElement("form");
    buttons.method = "dialog";
    buttons.className = "confirm-buttons";
    const back = document.createElement("button");
    back.value = "cancel";
    back.textContent = "Go back";
    const go = document.createElement("button");
    go.value = "confirm";
    go.className = "danger";
    buttons.append(back, go);
    dialog.append(question, buttons);
    document.body.appendChild(dialog);
  }

  // [question, the confirming button's label]
  function question(form, submitter) {
    const button = (submitter && submitter.textContent.trim()) || "Confirm";
    if (!("confirmBulk" in form.dataset)) return [form.dataset.confirm, button];
    const action = form.querySelector("select[name=action]");
    const label = action && action.selectedOptions[0] ? action.selectedOptions[0].textContent : "";
    const picked = document.querySelectorAll('input[name=brief_ids][form="' + form.id + '"]:checked').length;
    return [label + ": " + picked + " selected brief" + (picked === 1 ? "" : "s") + "?", label];
  }

  function ask(form, submitter) {
    if (!dialog) build();
    const asked = question(form, submitter);
    dialog.querySelector("#confirm-question").textContent = asked[0];
    dialog.querySelector("button[value=confirm]").textContent = asked[1];
    dialog.returnValue = "";
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue !== "confirm") return;
      form.dataset.confirmed = "1";
      form.requestSubmit(submitter || undefined);
    });
    dialog.showModal();
    dialog.querySelector("button[value=cancel]").focus();
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("[data-confirm], [data-confirm-bulk]")) return;
    if (form.dataset.confirmed) {
      delete form.dataset.confirmed;
      return; // confirmed: let it go
    }
    // Empty required fields: the browser's own messages first, no question yet.
    if (!form.checkValidity()) return;
    event.preventDefault();
    ask(form, event.submitter);
  });
})();
