// Small progressive enhancements; every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A live character counter under the post box (140 code points, like the server counts).
  for (const counter of document.querySelectorAll(".counter[data-max]")) {
    const box = counter.closest("form").querySelector("textarea");
    const max = Number(counter.dataset.max);
    const update = () => {
      const used = Array.from(box.value.replace(/\r\n/g, "\n").trim()).length;
      counter.textContent = `${used} / ${max}`;
      counter.classList.toggle("over", used > max);
    };
    box.addEventListener("input", update);
    update();
  }
  // Show that a form is being sent, and stop a second click from sending it twice.
  for (const form of document.querySelectorAll("form[data-busy]")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) {
        button.disabled = true;
        button.classList.add("busy");
      }
    });
  }
});

// Pages restored from the back/forward cache must not keep their buttons disabled.
window.addEventListener("pageshow", () => {
  for (const button of document.querySelectorAll("form[data-busy] button.busy")) {
    button.disabled = false;
    button.classList.remove("busy");
  }
});
