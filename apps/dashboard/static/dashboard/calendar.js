// The content calendar: drag a scheduled publication to another day (month and week) or
// hour (day view) to move it. The drop fills the item's own "Move" form with the new time,
// typed as the user would type it (their zone, which the server reads it in), and sends
// it: the same request as moving it by hand, so the keyboard and touch path is that form.
(function () {
  "use strict";

  const root = document.querySelector("[data-calendar]");
  if (!root) return;
  let dragged = null;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // "YYYY-MM-DDTHH:MM" of the drop: the slot's day, its hour in the day view, and the
  // item's own time of day (minutes in the day view) otherwise.
  function droppedAt(item, slot) {
    const local = item.dataset.local;
    const time = slot.dataset.dropHour != null ?
      pad(Number(slot.dataset.dropHour)) + local.slice(13, 16) : local.slice(11, 16);
    return slot.dataset.dropDate + "T" + time;
  }

  function slotOf(target) {
    return target instanceof Element ? target.closest("[data-drop-date]") : null;
  }

  root.addEventListener("dragstart", function (event) {
    const item = event.target instanceof Element ? event.target.closest("[data-calendar-item][draggable=true]") : null;
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.calendarItem);
  });

  root.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    root.querySelectorAll(".drop-here").forEach(function (el) { el.classList.remove("drop-here"); });
  });

  root.addEventListener("dragover", function (event) {
    const slot = slotOf(event.target);
    if (!dragged || !slot) return;
    event.preventDefault(); // a drop is allowed here
    event.dataTransfer.dropEffect = "move";
    root.querySelectorAll(".drop-here").forEach(function (el) {
      if (el !== slot) el.classList.remove("drop-here");
    });
    slot.classList.add("drop-here");
  });

  root.addEventListener("drop", function (event) {
    const slot = slotOf(event.target);
    const item = dragged;
    if (!item || !slot) return;
    event.preventDefault();
    const value = droppedAt(item, slot);
    if (value === item.dataset.local) return; // dropped where it was
    const form = item.querySelector("form[data-reschedule]");
    const field = form && form.querySelector("input[name=publish_at]");
    if (!field) return;
    field.value = value;
    item.classList.add("moving");
    form.requestSubmit();
  });
})();
