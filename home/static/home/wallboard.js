/* The supervisors' wallboard: the numbers arrive every few seconds over /ws/events/ (home.tasks.push_wallboard). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("wallboard-config").textContent);
  var retry = 0;

  // As home.templatetags.home.wait writes it: "10h 32m", "50m 20s" in the page's language (config.durations).
  function fill(format, values) {
    return format.replace(/%\((\w)\)s/g, function (_, key) { return values[key]; });
  }

  function wait(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    var f = config.durations, d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (d) return fill(f.dh, { d: d, h: h });
    if (h) return fill(f.hm, { h: h, m: m });
    if (m) return fill(f.ms, { m: m, s: s });
    return fill(f.s, { s: s });
  }

  function value(data, path) {
    return path.split(".").reduce(function (node, key) { return node === undefined ? node : node[key]; }, data);
  }

  function setFlag(selector, cls, on) {
    var node = document.querySelector(selector);
    if (node) node.classList.toggle(cls, Boolean(on));
  }

  function render(data) {
    document.querySelectorAll("[data-wb]").forEach(function (node) { node.textContent = value(data, node.dataset.wb); });
    document.querySelectorAll("[data-wb-wait]").forEach(function (node) { node.textContent = wait(data[node.dataset.wbWait]); });
    data.findings.forEach(function (row) {
      var node = document.querySelector('[data-finding="' + row.severity + '"]');
      if (node) node.textContent = row.open;
    });
    data.departments.forEach(function (row) {
      var tr = document.querySelector('tr[data-dept="' + row.id + '"]');
      if (!tr) return;
      tr.querySelector('[data-k="waiting"]').textContent = row.waiting;
      tr.querySelector('[data-k="longest_wait"]').textContent = wait(row.longest_wait);
      tr.querySelector('[data-k="unassigned"]').textContent = row.unassigned;
    });
    setFlag('[data-alarm="breaches_today"]', "alarm", data.breaches_today);
    setFlag('[data-warn="refunds_waiting"]', "warn", data.refunds_waiting);
    var at = document.getElementById("wallboard-at");
    at.setAttribute("datetime", data.at);
    at.textContent = new Date(data.at).toLocaleTimeString(config.lang, { hour12: false });
  }

  function live(on) {
    var node = document.getElementById("wallboard-live");
    node.className = "live " + (on ? "on" : "off");
    node.textContent = on ? node.dataset.on : node.dataset.off;
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + config.socket);
    socket.onopen = function () { retry = 0; live(true); };
    socket.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === "wallboard") render(frame.data);
    };
    socket.onclose = function (event) {
      live(false);
      if (event.code === 4401 || event.code === 4403) return;  // signed out, or no role: retrying will not help
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 500 * Math.pow(2, retry - 1));
    };
  }

  window.wallboard = { render: render };  // the browser test feeds a frame through the page's own renderer
  connect();
})();
