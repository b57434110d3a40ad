/* The consumer's chat widget: plain JavaScript over /ws/chat/ (docs/chat-protocol.md). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("chat-config").textContent);
  var S = config.strings;
  var storeKey = "chat-last-id:" + config.token.slice(-24);
  var lastId = Number(sessionStorage.getItem(storeKey) || 0);
  var seen = {}, socket = null, retry = 0, refused = false, seq = 0;
  var $ = function (id) { return document.getElementById(id); };

  document.querySelectorAll("[data-s]").forEach(function (node) { node.textContent = S[node.dataset.s]; });
  $("text").placeholder = S.placeholder;
  $("text").maxLength = config.maxChars;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  }
  function status(text) { $("status").textContent = text; }
  function banner(text) { var b = $("banner"); b.hidden = !text; b.textContent = text || ""; }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + config.socket + "?token=" + encodeURIComponent(config.token) +
      "&lang=" + encodeURIComponent(config.lang) + "&after=" + lastId;
    status(S.connecting);
    socket = new WebSocket(url);
    // The backoff is reset by the "ready" frame, not by the open: a socket the server accepts and closes at
    // once (4503, Redis down: try again later) must wait longer each time, not retry every 400 ms.
    socket.onopen = function () { status(""); };
    socket.onmessage = function (event) { handle(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      // 4404: the shop takes no chats; 4409: another chat is open. The error frame said why: no retrying.
      if (event.code === 4404 || event.code === 4409) { refused = true; status(S.refused_shop); return; }
      if (event.code === 4401 || (event.code === 1006 && !socket.opened)) {
        if (retry >= 2) { refused = true; status(S.refused); return; }
      }
      status(S.reconnecting);
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 400 * Math.pow(2, retry - 1));
    };
    socket.addEventListener("open", function () { socket.opened = true; });
  }

  function send(frame) {
    frame.ref = "w" + (++seq);
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function handle(frame) {
    switch (frame.type) {
      case "ready":
        retry = 0;
        // A shop's chat: its name in the header, and 平台介入 until the platform has stepped in.
        if (frame.shop) $("shop").textContent = fill(S.shop, { name: frame.shop.name });
        $("escalate").hidden = !frame.shop || frame.escalated;
        showState(frame);
        break;
      case "history": frame.messages.forEach(add); break;
      case "message": if (frame.message.from === "agent") typing(false); add(frame.message); break;
      case "typing": typing(true); break;
      case "state": showState(frame); break;
      case "queue":
        banner(frame.callback ? S.callback : fill(S.position, { position: frame.position, waiting: frame.waiting }));
        break;
      case "survey": survey(frame.chat); break;
      case "ack": if (frame.score) thank(); break;
      case "error": add({ id: "e" + (++seq), from: "system", text: frame.detail }); break;
    }
  }

  // The one-question satisfaction survey of an ended chat: 1–5 stars and an optional comment, sent once.
  function survey(chatId) {
    if ($("survey")) return;
    var box = document.createElement("form"), score = 0;
    box.id = "survey"; box.className = "survey";
    var question = document.createElement("p"); question.textContent = S.survey; box.appendChild(question);
    var stars = document.createElement("div"); stars.className = "stars"; stars.setAttribute("role", "radiogroup");
    [1, 2, 3, 4, 5].forEach(function (n) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = "★"; b.dataset.score = n;
      b.setAttribute("aria-label", fill(S.stars, { n: n })); b.setAttribute("role", "radio");
      b.onclick = function () {
        score = n;
        stars.querySelectorAll("button").forEach(function (s) {
          s.classList.toggle("on", Number(s.dataset.score) <= n);
          s.setAttribute("aria-checked", String(Number(s.dataset.score) === n));
        });
        submit.disabled = false;
      };
      stars.appendChild(b);
    });
    box.appendChild(stars);
    var comment = document.createElement("textarea");
    comment.rows = 2; comment.maxLength = 500; comment.placeholder = S.comment; comment.setAttribute("aria-label", S.comment);
    box.appendChild(comment);
    var submit = document.createElement("button");
    submit.type = "submit"; submit.className = "primary"; submit.textContent = S.rate; submit.disabled = true;
    box.appendChild(submit);
    box.addEventListener("submit", function (event) {
      event.preventDefault();
      if (score) send({ type: "rate", chat: chatId, score: score, comment: comment.value });
    });
    $("messages").after(box);
  }

  function thank() {
    var box = $("survey");
    if (box) { box.textContent = ""; var p = document.createElement("p"); p.className = "thanks"; p.textContent = S.thanks; box.appendChild(p); }
  }

  function showState(frame) {
    // Waiting for or talking to a person: asking for one again makes no sense, so the button goes.
    $("human").hidden = frame.state === "waiting" || frame.state === "active";
    if (frame.state === "active" && frame.agent) banner(fill(S.with_agent, { name: frame.agent }));
    else if (frame.state === "waiting" && frame.callback) banner(S.callback);
    else if (frame.state === "bot" || frame.state === "ended") banner("");
  }

  function add(message) {
    if (seen[message.id]) return;
    seen[message.id] = true;
    if (typeof message.id === "number" && message.id > lastId) {
      lastId = message.id;
      sessionStorage.setItem(storeKey, String(lastId));
    }
    var who = message.from === "consumer" ? S.you : message.from === "agent" ? (message.name || S.agent)
      : message.from === "bot" ? S.bot : "";
    var li = document.createElement("li");
    li.className = "msg from-" + message.from;
    li.dataset.id = message.id;
    if ((message.data || {}).code) li.dataset.code = message.data.code;
    if ((message.data || {}).code === "escalated") $("escalate").hidden = true;
    if (who) { var w = document.createElement("div"); w.className = "who"; w.textContent = who; li.appendChild(w); }
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    var image = (message.data || {}).attachment;
    if (image) { bubble.className = "bubble image"; bubble.appendChild(imageLink(image)); }
    else bubble.textContent = message.text;
    li.appendChild(bubble);
    $("messages").appendChild(li);
    var box = $("suggestions");
    box.textContent = "";
    ((message.data || {}).suggestions || []).forEach(function (text) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = text;
      b.onclick = function () { say(text); };
      box.appendChild(b);
    });
    ((message.data || {}).choices || []).forEach(function (choice) { box.appendChild(choiceButton(choice)); });
    // After the suggestions: they take room from the conversation, and the newest message must stay in view.
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  // 确认 / 取消 on a proposal of the bot (a refund): the frame names the proposal, never free text.
  function choiceButton(choice) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = choice.label; b.className = "choice choice-" + choice.type;
    b.onclick = function () {
      if (send({ type: choice.type, proposal: choice.proposal })) $("suggestions").textContent = "";
    };
    return b;
  }

  // An image in the conversation: a thumbnail that opens the whole image; the URL needs the chat token.
  function imageLink(image) {
    var url = image.url + "?token=" + encodeURIComponent(config.token);
    var a = document.createElement("a"), img = document.createElement("img");
    a.href = url; a.target = "_blank"; a.rel = "noopener";
    img.src = url; img.alt = S.image; img.width = image.width; img.height = image.height; img.loading = "lazy";
    img.onload = function () { $("messages").scrollTop = $("messages").scrollHeight; };
    a.appendChild(img);
    return a;
  }

  // Sending an image: POST with the chat token and an idempotency key, retried once with the same key (so a
  // retry after a lost answer never sends it twice); the socket brings the message like any other.
  function sendImage(file) {
    var key = "img-" + Date.now() + "-" + Math.random().toString(36).slice(2, 10);
    var label = $("attach-label");
    label.classList.add("busy");
    function attempt(left) {
      var form = new FormData();
      form.append("image", file); form.append("key", key);
      return fetch(config.imageUrl, { method: "POST", body: form,
                                      headers: { "Authorization": "Chat-Token " + config.token,
                                                 "Accept-Language": config.lang } })
        .then(function (response) {
          if (response.status >= 500 && left) return attempt(left - 1);
          if (response.ok) return null;
          return response.json().then(function (body) {
            var errors = body.errors || {};
            failed((errors.image || errors.key || [body.message])[0]);
          });
        })
        .catch(function () { return left ? attempt(left - 1) : failed(S.upload_failed); });
    }
    function failed(text) { add({ id: "e" + (++seq), from: "system", text: text || S.upload_failed }); }
    attempt(1).then(function () { label.classList.remove("busy"); });
  }

  // "typing…": the other side's typing frame shows it for a few seconds, their next message clears it. This
  // side tells at most once per config.typingSeconds while the consumer types.
  var typingTimer = null, typedAt = 0;
  function typing(on) {
    $("typing").hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { $("typing").hidden = true; }, 2 * config.typingSeconds * 1000);
  }
  $("text").addEventListener("input", function () {
    var now = Date.now();
    if ($("text").value.trim() && now - typedAt >= config.typingSeconds * 1000) {
      typedAt = now;
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "typing" }));
    }
  });
  $("attach").addEventListener("change", function () {
    var file = $("attach").files[0];
    $("attach").value = "";
    if (file) sendImage(file);
  });

  function say(text) {
    text = text.trim();
    if (text && send({ type: "message", text: text })) { $("text").value = ""; $("suggestions").textContent = ""; }
  }

  $("composer").addEventListener("submit", function (event) { event.preventDefault(); say($("text").value); });
  $("text").addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); say($("text").value); }
  });
  $("human").addEventListener("click", function () { send({ type: "handoff" }); });
  $("escalate").addEventListener("click", function () { send({ type: "escalate" }); });
  $("end").addEventListener("click", function () { send({ type: "end" }); });
  connect();
})();
