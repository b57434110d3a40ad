// The consumer page's reveal buttons: fetch the whole number and show it in place (without this script the
// button posts the page's form to the same view, which answers with a page of its own). Each look is logged.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.reveal");
  if (!button || !button.form) return;
  event.preventDefault();
  const body = new FormData();
  body.append("field", button.value);
  body.append("csrfmiddlewaretoken", button.form.querySelector("[name=csrfmiddlewaretoken]").value);
  const response = await fetch(button.formAction, {
    method: "POST", body, credentials: "same-origin", headers: {Accept: "application/json"},
  });
  if (!response.ok) return;
  const data = await response.json();
  const shown = document.querySelector(`.pii[data-field="${data.field}"]`);
  shown.textContent = data.value;
  shown.classList.add("revealed");
  button.remove();
});
