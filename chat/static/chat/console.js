/* The agents' live chat console: plain JavaScript over /ws/chat/agent/ (docs/chat-protocol.md). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("console-config").textContent);
  var S = config.strings;
  var state = { socket: null, hello: null, queue: [], chats: {}, retry: 0, seq: 0 };
  var $ = function (sel, root) { return (root || document).querySelector(sel); };

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

  function send(frame) {
    frame.ref = "c" + (++state.seq);
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame));
    return frame.ref;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + config.socket);
    state.socket = socket;
    socket.onopen = function () { state.retry = 0; setConnection(true); };
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
      case "hello": state.hello = frame; renderChats(); break;
      case "queue": state.queue = frame.items; renderQueue(); if (frame.new) notify(frame.new); break;
      case "chat": state.chats[frame.chat] = frame; renderChats(); break;
      case "message": addMessage(frame.chat, frame.message); break;
      case "state": chatState(frame); break;
      case "chat.closed": closeChat(frame.chat); break;
      case "ack":
        if (frame.available !== undefined) { state.hello.available = frame.available; renderBar(); }
        if (frame.added !== undefined) taught(frame);
        break;
      case "error": showError(frame); break;
    }
  }

  function renderBar() {
    var hello = state.hello, button = $("#availability");
    button.className = "availability " + (hello.available ? "available" : "away");
    button.textContent = hello.available ? S.available : S.away;
    button.setAttribute("aria-pressed", hello.available ? "true" : "false");
    var active = Object.keys(state.chats).filter(function (id) { return state.chats[id].state === "active"; }).length;
    $("#load").textContent = active + " / " + hello.capacity + " " + S.chats;
  }

  $("#availability").addEventListener("click", function () {
    send({ type: "availability", available: !(state.hello && state.hello.available) });
  });

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  }

  function waited(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m >= 60) return fill(S.hours_minutes, { hours: Math.floor(m / 60), minutes: m % 60 });
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function renderQueue() {
    var list = $("#queue"), now = Date.now();
    state.queueAt = now;
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
        el("button", { type: "button", className: "accept", text: S.accept,
                       onclick: function () { send({ type: "accept", chat: item.chat }); } }),
      ]));
    });
  }

  setInterval(function () {
    document.querySelectorAll(".waited[data-since]").forEach(function (node) {
      node.textContent = waited(Math.floor((Date.now() - Number(node.dataset.since)) / 1000));
    });
  }, 1000);

  function notify(chatId) {
    if (!state.hello || !state.hello.available) return;
    try {
      var audio = new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator(), gain = audio.createGain();
      tone.frequency.value = 880; gain.gain.value = 0.08;
      tone.connect(gain); gain.connect(audio.destination);
      tone.start(); tone.stop(audio.currentTime + 0.18);
    } catch (e) { /* no sound available */ }
    if (window.Notification && Notification.permission === "granted" && document.hidden) {
      new Notification(S.new_chat);
    }
    var item = document.querySelector('.queue li[data-chat="' + chatId + '"]');
    if (item) item.classList.add("new");
  }
  if (window.Notification && Notification.permission === "default") {
    document.addEventListener("click", function ask() {
      Notification.requestPermission(); document.removeEventListener("click", ask);
    });
  }

  function label(from) { return S[from] || from; }

  function messageNode(message) {
    var cls = "msg from-" + message.from + (message.internal ? " internal" : "");
    var who = message.internal ? S.internal : (message.name || label(message.from));
    var time = (message.at || "").slice(11, 16);
    return el("li", { className: cls, "data-id": message.id }, [
      el("div", { className: "who", text: who + " · " + time }),
      el("div", { className: "bubble", text: message.text }),
    ]);
  }

  function renderChats() {
    var pane = $("#chats");
    var ids = Object.keys(state.chats);
    pane.textContent = "";
    if (!ids.length) pane.appendChild(el("p", { className: "no-chats", text: S.no_chats }));
    ids.forEach(function (id) { pane.appendChild(chatCard(state.chats[id])); });
    renderBar();
  }

  function chatCard(chat) {
    var messages = el("ol", { className: "messages" }, chat.messages.map(messageNode));
    var text = el("textarea", { rows: "3", maxlength: String(config.maxChars), placeholder: S.placeholder });
    var mine = chat.state === "active" && state.hello && chat.agent === state.hello.user;
    text.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); reply("reply"); }
    });
    function reply(kind) {
      var value = text.value.trim();
      if (!value) return;
      send({ type: kind, chat: chat.chat, text: value });
      text.value = "";
    }
    var canned = el("select", { className: "canned", "aria-label": S.canned }, [el("option", { value: "", text: S.canned })]
      .concat(chat.canned.map(function (c) { return el("option", { value: c.text, text: c.title }); })));
    canned.addEventListener("change", function () { if (canned.value) { text.value = canned.value; text.focus(); } canned.value = ""; });
    var target = el("select", { className: "transfer-target", "aria-label": S.transfer_to }, [el("option", { value: "", text: S.transfer_to })]);
    var agents = el("optgroup", { label: S.to_agent }), depts = el("optgroup", { label: S.to_department });
    (state.hello.agents || []).forEach(function (a) { agents.appendChild(el("option", { value: "agent:" + a.id, text: a.name })); });
    (state.hello.departments || []).forEach(function (d) { depts.appendChild(el("option", { value: "department:" + d.id, text: d.name })); });
    target.appendChild(agents); target.appendChild(depts);
    var actions = el("div", { className: "actions" }, [
      el("button", { type: "button", className: "resolve", text: S.resolve, onclick: function () {
        if (confirm(S.confirm_resolve)) send({ type: "resolve", chat: chat.chat });
      } }),
      target,
      el("button", { type: "button", className: "transfer", text: S.transfer, onclick: function () {
        if (!target.value) return;
        var parts = target.value.split(":"), frame = { type: "transfer", chat: chat.chat };
        frame[parts[0]] = Number(parts[1]);
        send(frame);
      } }),
      // The radio's own form, prefilled with this chat (the agent adds a note and picks a channel there).
      config.nominateUrl ? el("a", { className: "nominate button", target: "_blank", rel: "noopener", text: S.nominate,
        href: config.nominateUrl + "?source=chat&id=" + chat.chat }) : null,
    ]);
    var c = chat.consumer;
    var info = el("div", { className: "info" }, [
      el("p", {}, [
        el("span", { className: "badge tier" + (c.priority ? " priority" : ""), text: S.tier + " " + (c.tier || "—") }),
        el("span", { className: "quiet", text: " " + S.score + " " + (c.score === null ? "—" : c.score) + (c.phone ? " · " + c.phone : "") }),
      ]),
      chat.flags.length ? el("p", { className: "flags" }, chat.flags.map(function (f) {
        return el("span", { className: "flag " + f.status, text: "⚑ " + f.kind });
      })) : el("p", { className: "quiet", text: S.no_flags }),
      chat.summary.length ? el("div", { className: "bot-summary" }, [el("strong", { text: S.summary })]
        .concat(chat.summary.map(function (line) { return el("div", { text: line }); }))) : null,
      el("details", { className: "orders", open: "" }, [el("summary", { text: S.orders + " (" + chat.orders.length + ")" })]
        .concat(chat.orders.length ? chat.orders.map(function (o) { return orderRow(chat, o, mine); })
                                   : [el("p", { className: "quiet", text: S.no_orders })])),
    ]);
    var ticketLink = el("a", { href: config.ticketUrl.replace("{id}", chat.ticket), target: "_blank", text: S.ticket + " #" + chat.ticket });
    var card = el("article", { className: "chat-card state-" + chat.state, "data-chat": chat.chat }, [
      el("header", {}, [el("strong", { text: c.name }), el("span", { className: "quiet", text: " " + c.external_id + " · " + chat.department + " · " }), ticketLink]),
      info, messages,
      mine ? el("div", { className: "composer" }, [canned, text, el("div", { className: "send-row" }, [
        el("button", { type: "button", className: "send default", text: S.send, onclick: function () { reply("reply"); } }),
        el("button", { type: "button", className: "note", text: S.note, onclick: function () { reply("note"); } }),
      ]), actions, teachBox(chat)]) : el("p", { className: "quiet ended", text: inactiveText(chat) }),
    ]);
    setTimeout(function () { messages.scrollTop = messages.scrollHeight; }, 0);
    return card;
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

  function orderRow(chat, order, mine) {
    var left = (Number(order.amount) - Number(order.refunded)).toFixed(2);
    var amount = el("input", { type: "text", value: left, size: "7", "aria-label": S.amount });
    var key = "console-" + chat.chat + "-" + order.order + "-" + Date.now();
    return el("div", { className: "order" }, [
      el("div", { text: order.order + " · " + order.item }),
      el("div", { className: "quiet", text: order.status_label + " · ¥" + order.amount +
        (Number(order.refunded) ? " (" + S.refunded + " ¥" + order.refunded + ")" : "") + " · " + order.merchant }),
      mine && Number(left) > 0 ? el("div", { className: "refund-row" }, [amount, el("button", { type: "button", className: "refund", text: S.refund,
        onclick: function () { send({ type: "refund", chat: chat.chat, order: order.order, amount: amount.value, key: key }); } })]) : null,
    ]);
  }

  function addMessage(chatId, message) {
    var chat = state.chats[chatId];
    if (!chat) return;
    if (chat.messages.some(function (m) { return m.id === message.id; })) return;
    chat.messages.push(message);
    var list = document.querySelector('.chat-card[data-chat="' + chatId + '"] .messages');
    if (list) { list.appendChild(messageNode(message)); list.scrollTop = list.scrollHeight; }
  }

  function chatState(frame) {
    var chat = state.chats[frame.chat];
    if (chat && frame.state === "ended") { chat.state = "ended"; renderChats(); }
  }

  function closeChat(chatId) {
    var chat = state.chats[chatId];
    if (!chat) return;
    chat.state = chat.state === "active" ? "moved" : chat.state;
    renderChats();
    setTimeout(function () { delete state.chats[chatId]; renderChats(); }, 4000);
  }

  function showError(frame) {
    var bar = $("#console-error") || document.querySelector(".chat-console").insertBefore(
      el("div", { id: "console-error", className: "console-error", role: "alert" }), $(".console-body"));
    bar.textContent = S.error + ": " + frame.detail;
    clearTimeout(state.errorTimer);
    state.errorTimer = setTimeout(function () { bar.remove(); }, 6000);
  }

  connect();
})();
