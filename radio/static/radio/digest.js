// The digest page: acknowledging or answering an item updates it in place. The forms post with fetch (their CSRF
// token, asking for JSON). Acknowledging turns the item acknowledged with who and when, and its channel's "a of n
// acknowledged" moves; replying adds the reply under the item (a reply acknowledges it too) and says it was sent,
// or shows why not beside the text box. Without JavaScript the forms post and the page comes back.
(function () {
  "use strict";

  function post(form) {
    return fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
    });
  }

  function say(form, tag, className, role, text) {
    var note = form.querySelector("." + className) || document.createElement(tag);
    note.className = className;
    note.setAttribute("role", role);
    note.textContent = text;
    form.appendChild(note);
  }

  function drop(form, className) {
    var note = form.querySelector("." + className);
    if (note) note.remove();
  }

  // The item as acknowledged (by this reader or earlier): the button gives way to who and when; the count moves.
  function acknowledged(item, data) {
    var form = item.querySelector(".ack-form");
    if (form) {
      var done = document.createElement("span");
      done.className = "acked-by";
      done.setAttribute("role", "status");
      done.textContent = "\u2713 " + data.label;
      form.replaceWith(done);
    }
    item.classList.add("acked");
    var count = item.closest(".channel").querySelector(".ack-count");
    if (count) {
      count.textContent = "\u2713 " + data.count_label;
      count.classList.add("some");
    }
  }

  function acknowledge(form) {
    var button = form.querySelector("button");
    button.disabled = true;
    post(form).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    }).then(function (data) {
      acknowledged(form.closest(".item"), data);
    }).catch(function () {
      button.disabled = false;
      say(form, "span", "ack-error", "alert", form.dataset.error);
    });
  }

  // A reply as the page prints it: <li><b>who</b> <time>when</time><p>text, its line breaks kept</p></li>.
  function shown(data) {
    var line = document.createElement("li");
    var who = document.createElement("b");
    who.textContent = data.author;
    var when = document.createElement("time");
    when.textContent = data.at;
    var text = document.createElement("p");
    data.body.split("\n").forEach(function (part, i) {
      if (i) text.appendChild(document.createElement("br"));
      text.appendChild(document.createTextNode(part));
    });
    line.append(who, " ", when, text);
    return line;
  }

  function reply(form) {
    var item = form.closest(".item");
    var button = form.querySelector("button");
    button.disabled = true;
    drop(form, "reply-error");
    drop(form, "reply-sent");
    post(form).then(function (response) {
      if (response.status === 400) {
        return response.json().then(function (data) {
          var errors = data.errors || {};
          var words = [].concat.apply([], Object.keys(errors).map(function (key) { return errors[key]; }));
          throw new Error(words.join(" ") || form.dataset.error);
        });
      }
      if (!response.ok) throw new Error(form.dataset.error);
      return response.json();
    }).then(function (data) {
      var list = item.querySelector(".replies");
      if (!list) {
        list = document.createElement("ul");
        list.className = "replies";
        item.querySelector(".respond").before(list);
      }
      list.appendChild(shown(data));
      form.elements.body.value = "";
      button.disabled = false;
      say(form, "p", "reply-sent", "status", data.sent_label);
      acknowledged(item, data);
    }).catch(function (error) {
      button.disabled = false;
      var text = error && error.message && !/^(Failed to fetch|NetworkError|Load failed)/.test(error.message)
        ? error.message : form.dataset.error;
      say(form, "p", "reply-error", "alert", text);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.classList.contains("ack-form")) {
      event.preventDefault();
      acknowledge(form);
    } else if (form.classList.contains("reply-form")) {
      event.preventDefault();
      reply(form);
    }
  });
})();
