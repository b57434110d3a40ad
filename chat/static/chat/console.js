/* The agents' live chat console for a shift: plain JavaScript over /ws/chat/agent/ (docs/chat-protocol.md).

   Left: my chats (unread counts, how long the consumer has waited for an answer) and the waiting queue.
   Middle: one conversation at a time. Right: that consumer's context. Each part is drawn by a function of
   its own (renderMine, renderQueue, renderConversation, renderContext, chatActions), so that a feature adds
   a function and a line where it is drawn. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("console-config").textContent);
  var S = config.strings;
  var ORDERS_SHOWN = 2;  // the most recent orders; the rest behind "more"
  var state = { socket: null, hello: null, queue: [], chats: {}, order: [], current: null, unread: {},
                retry: 0, seq: 0, title: document.title, moreOrders: {} };  // fmt: skip
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var clock = new Intl.DateTimeFormat(config.lang, { timeZone: config.timeZone, hour: "2-digit", minute: "2-digit",
                                                     hour12: false });

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), attrs[key]);
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  document.querySelectorAll("[data-s]").forEach(function (node) { node.textContent = S[node.dataset.s]; });

  // --- the socket ---------------------------------------------------------------------------------

  function send(frame) {
    frame.ref = "c" + (++state.seq);
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
    return frame.ref;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + config.socket);
    state.socket = socket;
    // The backoff is reset by "hello", not by the open: a socket closed at once (4503: Redis down) backs off.
    socket.onopen = function () { setConnection(true); };
    socket.onclose = function () {
      setConnection(false);
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, state.retry - 1));
    };
    socket.onmessage = function (event) { handle(JSON.parse(event.data)); };
  }

  function setConnection(on) {
    var node = $("#connection");
    node.className = "connection " + (on ? "on" : "off");
    node.textContent = on ? S.connected : S.disconnected;
  }

  function handle(frame) {
    switch (frame.type) {
      case "hello": state.retry = 0; state.hello = frame; renderBar(); renderAll(); break;
      case "queue": state.queue = frame.items; renderQueue(); if (frame.new) notifyQueue(frame.new); break;
      case "chat": addChat(frame); break;
      case "message": if (frame.message.from === "consumer") typing(frame.chat, false); addMessage(frame.chat, frame.message); break;
      case "typing": typing(frame.chat, true); break;
      case "state": chatState(frame); break;
      case "chat.closed": closeChat(frame.chat); break;
      case "ack":
        if (frame.available !== undefined) { state.hello.available = frame.available; renderBar(); }
        if (frame.added !== undefined) taught(frame);
        break;
      case "error": showError(frame); break;
    }
  }

  // --- the bar: availability switch and load --------------------------------------------------------

  function renderBar() {
    var hello = state.hello;
    if (!hello) return;
    var button = $("#availability");
    button.setAttribute("aria-checked", hello.available ? "true" : "false");
    $(".availability-switch").classList.toggle("is-on", Boolean(hello.available));
    $("#load").textContent = activeIds().length + " / " + hello.capacity + " " + S.chats;
  }

  $("#availability").addEventListener("click", function () {
    send({ type: "availability", available: !(state.hello && state.hello.available) });
  });

  function activeIds() {
    return state.order.filter(function (id) { return state.chats[id] && state.chats[id].state === "active"; });
  }

  // --- times ----------------------------------------------------------------------------------------

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  }

  function waited(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m >= 60) return fill(S.hours_minutes, { hours: Math.floor(m / 60), minutes: m % 60 });
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function localTime(iso) { return iso ? clock.format(new Date(iso)) : ""; }

  setInterval(function () {
    document.querySelectorAll("[data-since]").forEach(function (node) {
      node.textContent = waited(Math.max(0, Math.floor((Date.now() - Number(node.dataset.since)) / 1000)));
    });
  }, 1000);

  // --- the queue ------------------------------------------------------------------------------------

  function renderQueue() {
    var list = $("#queue"), now = Date.now();
    list.textContent = "";
    $("#queue-count").textContent = state.queue.length;
    if (!state.queue.length) list.appendChild(el("li", { className: "empty", text: S.empty_queue }));
    state.queue.forEach(function (item) {
      var badges = el("div", { className: "badges" }, [
        item.tier ? el("span", { className: "badge tier" + (item.priority ? " priority" : ""), text: item.tier }) : null,
        item.callback ? el("span", { className: "badge callback", text: S.callback }) : null,
        el("span", { className: "badge dept", text: item.department.name }),
      ]);
      var summary = el("ul", { className: "summary" }, item.summary.map(function (line) {
        return el("li", { text: line });
      }));
      list.appendChild(el("li", { className: "waiting" + (item.priority ? " priority" : ""), "data-chat": item.chat }, [
        el("div", { className: "line" }, [
          el("span", { className: "position", text: S.position + item.position }),
          el("strong", { className: "who", text: item.consumer }),
          el("span", { className: "waited", "data-since": now - item.waited * 1000, text: waited(item.waited) }),
        ]),
        badges, summary,
        el("button", { type: "button", className: "button accept", text: S.accept,
                       onclick: function () { state.accepting = item.chat; send({ type: "accept", chat: item.chat }); } }),
      ]));
    });
  }

  // --- alerts: a tone, the tab's title, a notification when the page is hidden ----------------------

  function beep(frequency) {
    try {
      var audio = new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = frequency; gain.gain.value = 0.08;
      tone.connect(gain); gain.connect(audio.destination);
      tone.start(); tone.stop(audio.currentTime + 0.18);
    } catch (e) { /* no sound available */ }
  }

  function notifyQueue(chatId) {
    if (!state.hello || !state.hello.available) return;
    beep(880);
    if (window.Notification && Notification.permission === "granted" && document.hidden) new Notification(S.new_chat);
    var item = document.querySelector('.queue li[data-chat="' + chatId + '"]');
    if (item) item.classList.add("new");
  }

  function notifyMessage(chat) {
    beep(660);
    if (window.Notification && Notification.permission === "granted" && document.hidden) {
      new Notification(fill(S.new_message, { name: chat.consumer.name }));
    }
  }

  function renderTitle() {
    var total = Object.keys(state.unread).reduce(function (sum, id) { return sum + state.unread[id]; }, 0);
    document.title = total ? "(" + total + ") " + S.new_message_title + " · " + state.title : state.title;
  }

  if (window.Notification && Notification.permission === "default") {
    document.addEventListener("click", function ask() {
      Notification.requestPermission(); document.removeEventListener("click", ask);
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && state.current) markRead(state.current);
  });

  // --- my chats, the list on the left ---------------------------------------------------------------

  function addChat(frame) {
    var known = Boolean(state.chats[frame.chat]);
    state.chats[frame.chat] = frame;
    if (!known) state.order.push(frame.chat);
    // The chat just accepted comes to the front; others wait in the list with their unread counts.
    if (!state.current || !state.chats[state.current] || state.accepting === frame.chat) state.current = frame.chat;
    if (state.accepting === frame.chat) state.accepting = null;
    renderAll();
  }

  function lastWait(chat) {
    // Since when the consumer has waited for an answer: their first message after the last agent's reply.
    var since = null;
    chat.messages.forEach(function (m) {
      if (m.internal) return;
      if (m.from === "agent") since = null;
      else if (m.from === "consumer" && since === null) since = m.at;
    });
    return chat.state === "active" ? since : null;
  }

  function renderMine() {
    var list = $("#mine");
    list.textContent = "";
    $("#mine-count").textContent = activeIds().length;
    if (!state.order.length) list.appendChild(el("li", { className: "empty", text: S.no_chats }));
    state.order.forEach(function (id, index) {
      var chat = state.chats[id], unread = state.unread[id] || 0, since = lastWait(chat);
      list.appendChild(el("li", {}, [el("button", {
        type: "button", className: "tab state-" + chat.state + (id === state.current ? " current" : ""),
        "aria-current": id === state.current ? "true" : "false", "data-chat": id,
        onclick: function () { select(id); },
      }, [
        el("span", { className: "tab-key", text: String(index + 1) }),
        el("strong", { className: "who", text: chat.consumer.name }),
        unread ? el("span", { className: "unread", "aria-label": S.unread, text: String(unread) }) : null,
        since ? el("span", { className: "waited", title: S.waited, "data-since": Date.parse(since),
                             text: waited(Math.floor((Date.now() - Date.parse(since)) / 1000)) }) : null,
        chat.state !== "active" ? el("span", { className: "badge", text: inactiveLabel(chat) }) : null,
      ])]));
    });
  }

  function select(id) {
    if (!state.chats[id]) return;
    state.current = id;
    markRead(id);
    renderAll();
    var text = $(".chat-card textarea");
    if (text) text.focus();
  }

  function markRead(id) {
    if (!state.unread[id]) return;
    delete state.unread[id];
    renderTitle();
    renderMine();
  }

  function step(delta) {
    if (!state.order.length) return;
    var at = state.order.indexOf(state.current);
    select(state.order[(at + delta + state.order.length) % state.order.length]);
  }

  // --- one conversation in the middle ---------------------------------------------------------------

  function label(from) { return S[from] || from; }

  function messageNode(message) {
    var cls = "msg from-" + message.from + (message.internal ? " internal" : "");
    var who = message.internal ? S.internal : (message.name || label(message.from));
    return el("li", { className: cls, "data-id": message.id }, [
      el("div", { className: "who" }, [el("span", { text: who + " · " }),
                                       el("time", { datetime: message.at || "", text: localTime(message.at) })]),
      (message.data || {}).attachment ? el("div", { className: "bubble image" }, [imageLink(message.data.attachment)])
                                      : el("div", { className: "bubble", text: message.text }),
    ]);
  }

  // An image in the conversation (chat.attachments): a thumbnail; a click opens it whole in a new tab.
  function imageLink(image) {
    return el("a", { href: image.url, target: "_blank", rel: "noopener" }, [
      el("img", { src: image.url, alt: S.image, width: String(image.width), height: String(image.height), loading: "lazy" }),
    ]);
  }

  // "typing…": the consumer's typing frame shows it under their conversation for a few seconds; their next
  // message clears it. The agent's own typing is told at most once per config.typingSeconds per chat.
  var typedAt = {};
  function typing(chatId, on) {
    clearTimeout((state.typingTimers || {})[chatId]);
    state.typingTimers = state.typingTimers || {};
    state.typing = state.typing || {};
    state.typing[chatId] = on;
    if (on) state.typingTimers[chatId] = setTimeout(function () { typing(chatId, false); }, 2 * config.typingSeconds * 1000);
    var node = document.querySelector('.chat-card[data-chat="' + chatId + '"] .typing');
    if (node) node.hidden = !on;
  }
  function tellTyping(chat) {
    var now = Date.now();
    if (now - (typedAt[chat.chat] || 0) < config.typingSeconds * 1000) return;
    typedAt[chat.chat] = now;
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify({ type: "typing", chat: chat.chat }));
  }

  // Sending an image: POST with the session's CSRF token and an idempotency key, retried once with the same key;
  // the socket brings the message back like a reply.
  function sendImage(chat, file, button) {
    var key = "console-img-" + chat.chat + "-" + Date.now() + "-" + Math.random().toString(36).slice(2, 8);
    button.classList.add("busy");
    function attempt(left) {
      var form = new FormData();
      form.append("chat", String(chat.chat)); form.append("image", file); form.append("key", key);
      return fetch(config.imageUrl, { method: "POST", body: form, credentials: "same-origin",
                                      headers: { "X-CSRFToken": config.csrfToken } })
        .then(function (response) {
          if (response.status >= 500 && left) return attempt(left - 1);
          if (response.ok) return null;
          return response.json().then(function (body) {
            var errors = body.errors || {};
            showError({ detail: (errors.image || errors.key || errors.chat || [body.message])[0] });
          });
        })
        .catch(function () { if (left) return attempt(left - 1); showError({ detail: S.upload_failed }); });
    }
    attempt(1).then(function () { button.classList.remove("busy"); });
  }

  function renderAll() {
    renderMine();
    renderConversation();
    renderContext();
    renderBar();
  }

  function renderConversation() {
    var pane = $("#chats");
    pane.textContent = "";
    var chat = state.chats[state.current];
    if (!chat) { pane.appendChild(el("p", { className: "no-chats", text: S.no_chats })); return; }
    pane.appendChild(chatCard(chat));
  }

  function isMine(chat) { return chat.state === "active" && state.hello && chat.agent === state.hello.user; }

  function chatCard(chat) {
    var messages = el("ol", { className: "messages" }, chat.messages.map(messageNode));
    var c = chat.consumer, mine = isMine(chat);
    var ticketLink = el("a", { href: config.ticketUrl.replace("{id}", chat.ticket), target: "_blank",
                               text: S.ticket + " #" + chat.ticket });
    var card = el("article", { className: "chat-card state-" + chat.state, "data-chat": chat.chat }, [
      el("header", {}, [el("strong", { text: c.name }),
                        el("span", { className: "quiet", text: " " + c.external_id + " · " + chat.department + " · " }),
                        ticketLink]),
      messages,
      el("p", (state.typing || {})[chat.chat] ? { className: "typing quiet", text: S.typing }
                                              : { className: "typing quiet", text: S.typing, hidden: "" }),
      mine ? composer(chat) : el("p", { className: "quiet ended", text: inactiveText(chat) }),
    ]);
    setTimeout(function () { messages.scrollTop = messages.scrollHeight; }, 0);
    return card;
  }

  function composer(chat) {
    var text = el("textarea", { rows: "3", maxlength: String(config.maxChars), placeholder: S.placeholder,
                                "aria-label": S.placeholder });
    function reply(kind) {
      var value = text.value.trim();
      if (!value) return;
      send({ type: kind, chat: chat.chat, text: value });
      text.value = "";
    }
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); reply("reply"); }
    });
    text.addEventListener("input", function () { if (text.value.trim()) tellTyping(chat); });
    var file = el("input", { type: "file", accept: "image/jpeg,image/png,image/webp,image/gif", hidden: "",
                             className: "attach-input", "aria-label": S.attach });
    var attach = el("button", { type: "button", className: "button secondary attach", text: S.attach,
                                onclick: function () { file.click(); } });
    file.addEventListener("change", function () {
      var chosen = file.files[0];
      file.value = "";
      if (chosen) sendImage(chat, chosen, attach);
    });
    var canned = el("select", { className: "canned", "aria-label": S.canned },
      [el("option", { value: "", text: S.canned })].concat(chat.canned.map(function (c) {
        return el("option", { value: c.text, text: c.title });
      })));
    canned.addEventListener("change", function () {
      if (canned.value) { text.value = canned.value; text.focus(); }
      canned.value = "";
    });
    return el("div", { className: "composer" }, [
      text,
      el("div", { className: "send-row" }, [
        canned,
        attach, file,
        el("button", { type: "button", className: "button note", text: S.note, onclick: function () { reply("note"); } }),
        el("button", { type: "button", className: "button primary send default", text: S.send,
                       onclick: function () { reply("reply"); } }),
      ]),
      chatActions(chat),
      teachBox(chat),
    ]);
  }

  function chatActions(chat) {
    var target = el("select", { className: "transfer-target", "aria-label": S.transfer_to },
                    [el("option", { value: "", text: S.transfer_to })]);
    var agents = el("optgroup", { label: S.to_agent }), depts = el("optgroup", { label: S.to_department });
    (state.hello.agents || []).forEach(function (a) { agents.appendChild(el("option", { value: "agent:" + a.id, text: a.name })); });
    (state.hello.departments || []).forEach(function (d) {
      depts.appendChild(el("option", { value: "department:" + d.id, text: d.name }));
    });
    target.appendChild(agents); target.appendChild(depts);
    return el("div", { className: "actions" }, [
      el("button", { type: "button", className: "button resolve", text: S.resolve, onclick: function () {
        if (confirm(S.confirm_resolve)) send({ type: "resolve", chat: chat.chat });
      } }),
      target,
      el("button", { type: "button", className: "button transfer", text: S.transfer, onclick: function () {
        if (!target.value) return;
        var parts = target.value.split(":"), frame = { type: "transfer", chat: chat.chat };
        frame[parts[0]] = Number(parts[1]);
        send(frame);
      } }),
      // The radio's own form, prefilled with this chat (the agent adds a note and picks a channel there).
      config.nominateUrl ? el("a", { className: "nominate button secondary", target: "_blank", rel: "noopener",
        text: S.nominate, href: config.nominateUrl + "?source=chat&id=" + chat.chat }) : null,
    ]);
  }

  // Teach the bot (issue 16): one of the consumer's questions becomes another wording of an article.
  function teachBox(chat) {
    var articles = (state.hello && state.hello.articles) || [];
    if (!articles.length) return null;  // the agent may not add wordings, or there is no article
    var question = el("select", { className: "teach-question", "aria-label": S.teach_question });
    function questions() {  // read when opened: the chat's messages keep coming after the card was drawn
      var chosen = question.value;
      question.textContent = "";
      question.appendChild(el("option", { value: "", text: S.teach_question }));
      chat.messages.forEach(function (m) {
        if (m.from === "consumer" && typeof m.id === "number") question.appendChild(el("option", { value: String(m.id), text: m.text.slice(0, 60) }));
      });
      question.value = chosen;
    }
    questions();
    question.addEventListener("focus", questions);
    var article = el("select", { className: "teach-article", "aria-label": S.teach_article },
      [el("option", { value: "", text: S.teach_article })].concat(articles.map(function (a) {
        return el("option", { value: String(a.id), text: a.title });
      })));
    return el("div", { className: "teach" }, [question, article,
      el("button", { type: "button", className: "teach-button", text: S.teach, onclick: function () {
        if (question.value && article.value) send({ type: "learn", chat: chat.chat, message: Number(question.value), article: Number(article.value) });
      } })]);
  }

  function taught(frame) {
    var box = document.querySelector('.chat-card[data-chat="' + frame.chat + '"] .teach');
    if (box) box.appendChild(el("span", { className: "quiet taught", text: " " + (frame.added ? S.taught : S.already_taught) }));
  }

  function inactiveText(chat) {
    if (chat.state === "ended") return S.closed;
    if (chat.state === "moved") return S.moved;  // transferred away, or back to the queue unanswered
    return S.watching;  // someone else's chat, followed read-only
  }

  function inactiveLabel(chat) { return chat.state === "ended" ? S.ended : chat.state === "moved" ? S.left : S.following; }

  // --- the consumer's context on the right ----------------------------------------------------------

  function renderContext() {
    var pane = $("#context");
    pane.textContent = "";
    var chat = state.chats[state.current];
    if (!chat) return;
    var c = chat.consumer, mine = isMine(chat), all = Boolean(state.moreOrders[chat.chat]);
    var shown = all ? chat.orders : chat.orders.slice(0, ORDERS_SHOWN);
    var hidden = chat.orders.length - shown.length;
    pane.appendChild(el("section", { className: "info" }, [
      el("h3", { text: c.name }),
      el("p", {}, [
        el("span", { className: "badge tier" + (c.priority ? " priority" : ""), text: S.tier + " " + (c.tier || "—") }),
        el("span", { className: "quiet", text: " " + S.score + " " + (c.score === null ? "—" : c.score) }),
      ]),
      c.phone ? el("p", { className: "quiet", text: c.phone }) : null,
      chat.flags.length ? el("p", { className: "flags" }, chat.flags.map(function (f) {
        return el("span", { className: "flag " + f.status, text: "⚑ " + f.kind });
      })) : el("p", { className: "quiet", text: S.no_flags }),
      chat.summary.length ? el("div", { className: "bot-summary" }, [el("strong", { text: S.summary })]
        .concat(chat.summary.map(function (line) { return el("div", { text: line }); }))) : null,
      el("h3", { text: S.orders }),
      chat.orders.length ? el("div", { className: "orders" }, shown.map(function (o) { return orderRow(chat, o, mine); }))
                         : el("p", { className: "quiet", text: S.no_orders }),
      hidden > 0 ? el("button", { type: "button", className: "button secondary more-orders",
                                  text: fill(S.more_orders, { n: hidden }),
                                  onclick: function () { state.moreOrders[chat.chat] = true; renderContext(); } }) : null,
    ]));
  }

  function orderRow(chat, order, mine) {
    var left = (Number(order.amount) - Number(order.refunded)).toFixed(2);
    var amount = el("input", { type: "text", inputmode: "decimal", value: left, size: "7", "aria-label": S.amount });
    var key = "console-" + chat.chat + "-" + order.order + "-" + Date.now();
    return el("div", { className: "order" }, [
      el("div", { className: "order-title", text: order.order + " · " + order.item }),
      el("div", { className: "quiet", text: order.status_label + " · ¥" + order.amount +
        (Number(order.refunded) ? " (" + S.refunded + " ¥" + order.refunded + ")" : "") + " · " + order.merchant }),
      mine && config.mayRefund && Number(left) > 0 ? el("div", { className: "refund-row" }, [amount, el("button", {
        type: "button", className: "button refund", text: S.refund, onclick: function () {
          // Money moves: the agent confirms the order and the amount first.
          if (!confirm(fill(S.confirm_refund, { amount: amount.value, order: order.order }))) return;
          send({ type: "refund", chat: chat.chat, order: order.order, amount: amount.value, key: key });
        } })]) : null,
    ]);
  }

  // --- what the socket brings -----------------------------------------------------------------------

  function addMessage(chatId, message) {
    var chat = state.chats[chatId];
    if (!chat) return;
    if (chat.messages.some(function (m) { return m.id === message.id; })) return;
    chat.messages.push(message);
    if (message.from === "consumer") {
      if (chatId !== state.current || document.hidden) {
        state.unread[chatId] = (state.unread[chatId] || 0) + 1;
        renderTitle();
      }
      notifyMessage(chat);
    }
    renderMine();
    if (chatId !== state.current) return;
    var list = $(".chat-card .messages");
    if (list) { list.appendChild(messageNode(message)); list.scrollTop = list.scrollHeight; }
  }

  function chatState(frame) {
    var chat = state.chats[frame.chat];
    if (chat && frame.state === "ended") { chat.state = "ended"; renderAll(); }
  }

  function closeChat(chatId) {
    var chat = state.chats[chatId];
    if (!chat) return;
    chat.state = chat.state === "active" ? "moved" : chat.state;
    renderAll();
    setTimeout(function () {
      delete state.chats[chatId];
      delete state.unread[chatId];
      state.order = state.order.filter(function (id) { return id !== chatId; });
      if (state.current === chatId) state.current = activeIds()[0] || state.order[0] || null;
      renderTitle();
      renderAll();
    }, 4000);
  }

  function showError(frame) {
    var bar = $("#console-error") || document.querySelector(".chat-console").insertBefore(
      el("div", { id: "console-error", className: "console-error", role: "alert" }), $(".console-body"));
    bar.textContent = S.error + ": " + frame.detail;
    clearTimeout(state.errorTimer);
    state.errorTimer = setTimeout(function () { bar.remove(); }, 6000);
  }

  // --- keyboard shortcuts: Alt+↓ / Alt+↑ next and previous chat, Alt+1…9 a chat by its number,
  //     Alt+C the canned replies, Alt+A the availability switch; Enter sends, Shift+Enter a new line ----

  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    var digit = /^Digit([1-9])$/.exec(event.code);
    if (event.key === "ArrowDown") step(1);
    else if (event.key === "ArrowUp") step(-1);
    else if (digit) select(state.order[Number(digit[1]) - 1]);
    else if (event.code === "KeyC") { var canned = $(".chat-card select.canned"); if (canned) canned.focus(); }
    else if (event.code === "KeyA") $("#availability").click();
    else return;
    event.preventDefault();
  });

  window.chatConsole = { state: state, send: send, select: select, renderAll: renderAll };
  connect();
})();
