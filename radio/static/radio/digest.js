// The digest page: acknowledging an item updates it in place. The form posts with fetch (its CSRF token,
// asking for JSON); the item turns acknowledged with who and when, its channel's "a of n acknowledged" moves,
// and that line stays as the confirmation. Without JavaScript the form posts and the page comes back.
(function () {
  "use strict";

  function failed(form, button) {
    button.disabled = false;
    var note = form.querySelector(".ack-error") || document.createElement("span");
    note.className = "ack-error";
    note.setAttribute("role", "alert");
    note.textContent = form.dataset.error;
    form.appendChild(note);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("ack-form")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (data) {
      var item = form.closest(".item");
      var done = document.createElement("span");
      done.className = "acked-by";
      done.setAttribute("role", "status");
      done.textContent = "\u2713 " + data.label;
      form.replaceWith(done);
      item.classList.add("acked");
      var count = item.closest(".channel").querySelector(".ack-count");
      if (count) {
        count.textContent = "\u2713 " + data.count_label;
        count.classList.add("some");
      }
    }).catch(function () { failed(form, button); });
  });
})();
