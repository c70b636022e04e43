// Helper console: live updates over one WebSocket, chat, claim, typing. Text from people and helpers is only
// ever inserted with textContent; list refreshes use the server's own (autoescaped) HTML.
(function () {
  "use strict";

  var LABELS = JSON.parse(document.getElementById("console-labels").textContent || "{}");
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var banner = document.getElementById("banner");
  var linkState = document.getElementById("link-state");
  var soundToggle = document.getElementById("sound-toggle");
  var listsRoot = document.getElementById("lists");
  var ticketRoot = document.getElementById("ticket");
  var dashboardRoot = document.getElementById("dashboard");
  var ticketId = ticketRoot ? Number(ticketRoot.dataset.ticketId) : null;
  var lastMessageId = ticketRoot ? Number(ticketRoot.dataset.lastMessageId || 0) : 0;
  var baseTitle = document.title;
  var socket = null;
  var retryDelay = 500;
  var pingTimer = null;

  // -- small helpers ------------------------------------------------------------------------------

  function showBanner(text, kind) {
    if (!banner) return;
    banner.textContent = text;
    banner.className = "banner" + (kind ? " " + kind : "");
    banner.hidden = !text;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF, "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401) { window.location.href = "/console/login"; }
        return { ok: res.ok, status: res.status, data: data };
      });
    });
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (res) {
        if (res.status === 401) { window.location.href = "/console/login"; }
        return res.ok ? res.json() : null;
      });
  }

  // One clock: the hall's time zone (HALL_TIMEZONE), as the server-rendered times, whatever the browser's.
  var hallZoneMeta = document.querySelector('meta[name="hall-timezone"]');
  var HALL_TIMEZONE = (hallZoneMeta && hallZoneMeta.content) || "Asia/Shanghai";

  function timeOf(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    if (isNaN(d)) return "";
    try {
      return d.toLocaleTimeString("zh-CN", { hour12: false, timeZone: HALL_TIMEZONE });
    } catch (e) {
      return d.toLocaleTimeString("zh-CN", { hour12: false });
    }
  }

  // -- notification: sound and title --------------------------------------------------------------

  var audio = null;
  var soundOn = false;
  try { soundOn = window.localStorage.getItem("sqfd.console.sound") === "on"; } catch (e) { /* private mode */ }

  function setSound(on) {
    soundOn = on;
    if (soundToggle) {
      soundToggle.setAttribute("aria-pressed", on ? "true" : "false");
      soundToggle.textContent = on ? "提示音：开" : "开启提示音";
    }
    try { window.localStorage.setItem("sqfd.console.sound", on ? "on" : "off"); } catch (e) { /* ignore */ }
  }

  function beep() {
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      [0, 0.25].forEach(function (offset) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.2, audio.currentTime + offset);
        gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + offset + 0.2);
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + offset);
        osc.stop(audio.currentTime + offset + 0.2);
      });
    } catch (e) { /* no audio: the visual notice remains */ }
  }

  var flashTimer = null;
  function notifyNewTicket(ticket) {
    beep();
    document.body.classList.add("alert");
    var on = false;
    var count = 0;
    if (flashTimer) clearInterval(flashTimer);
    flashTimer = setInterval(function () {
      on = !on;
      document.title = on ? "【" + LABELS.new_ticket + "】" + baseTitle : baseTitle;
      if (++count > 20 || document.hasFocus()) {
        clearInterval(flashTimer);
        document.title = baseTitle;
      }
    }, 700);
    setTimeout(function () { document.body.classList.remove("alert"); }, 3000);
    window.lastNewTicket = ticket.id; // for tests and the row highlight after the next refresh
  }

  if (soundToggle) {
    setSound(soundOn);
    soundToggle.addEventListener("click", function () {
      setSound(!soundOn);
      if (soundOn) beep();
    });
  }

  // -- queue page ---------------------------------------------------------------------------------

  var refreshTimer = null;
  function refreshLists() {
    if (!listsRoot) return;
    if (refreshTimer) clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      fetch("/console/partials/lists", { credentials: "same-origin" })
        .then(function (res) {
          if (res.status === 401) { window.location.href = "/console/login"; }
          return res.ok ? res.text() : null;
        })
        .then(function (html) {
          if (html === null) return;
          listsRoot.innerHTML = html; // server-rendered, autoescaped markup
          if (window.lastNewTicket) {
            var row = listsRoot.querySelector('tr[data-ticket-id="' + window.lastNewTicket + '"]');
            if (row) row.classList.add("fresh");
          }
          window.listsVersion = (window.listsVersion || 0) + 1;
        })
        .catch(function () { /* next event or timer refreshes */ });
    }, 60);
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains("claim-form")) return;
    e.preventDefault();
    var id = form.action.match(/tickets\/(\d+)\/claim/)[1];
    post("/console/tickets/" + id + "/claim", {}).then(function (r) {
      if (r.ok && r.data.won) {
        window.location.href = "/console/tickets/" + id;
      } else {
        showBanner(LABELS.taken, "warn");
        refreshLists();
      }
    });
  });

  // -- ticket page --------------------------------------------------------------------------------

  var chat = document.getElementById("chat");
  var reply = document.getElementById("reply");
  var replyForm = document.getElementById("reply-form");
  var replyError = document.getElementById("reply-error");
  var personTyping = document.getElementById("person-typing");
  var notesList = document.getElementById("notes-list");
  var typingTimer = null;

  function whoLabel(message) {
    if (message.author === "helper") return message.name || LABELS.author.helper;
    return (LABELS.author && LABELS.author[message.author]) || message.author;
  }

  function appendMessage(message) {
    if (!chat || !message || chat.querySelector('li[data-id="' + message.id + '"]')) return;
    var li = document.createElement("li");
    li.className = "msg " + message.author;
    li.dataset.id = String(message.id);
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = whoLabel(message);
    var time = document.createElement("span");
    time.className = "time";
    time.textContent = timeOf(message.at);
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    li.appendChild(who);
    li.appendChild(time);
    li.appendChild(text);
    // In id order, whether it came live or with a catch-up after a reconnect.
    var later = null;
    var rows = chat.querySelectorAll("li[data-id]");
    for (var i = 0; i < rows.length; i++) {
      if (Number(rows[i].dataset.id) > message.id) { later = rows[i]; break; }
    }
    chat.insertBefore(li, later);
    lastMessageId = Math.max(lastMessageId, message.id);
    li.scrollIntoView({ block: "nearest" });
    if (message.author === "person" && personTyping) personTyping.hidden = true;
  }

  function appendNote(note) {
    if (!notesList || notesList.querySelector('li[data-id="' + note.id + '"]')) return;
    var li = document.createElement("li");
    li.dataset.id = String(note.id);
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = note.name;
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = note.text;
    li.appendChild(who);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(text);
    notesList.appendChild(li);
  }

  var leaving = false; // a form of this page is being submitted: its own navigation wins over a reload
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.classList && !form.classList.contains("claim-form") && form.id !== "reply-form") leaving = true;
  }, true);

  function ticketChanged(ticket) {
    if (!ticketRoot || ticket.id !== ticketId || leaving) return;
    var helperNow = ticket.helper_id === null || ticket.helper_id === undefined ? "" : String(ticket.helper_id);
    if (ticket.status === ticketRoot.dataset.status && helperNow === ticketRoot.dataset.helperId) return;
    if (!reply || !reply.value.trim()) {
      window.location.reload();
    } else {
      showBanner(LABELS.changed, "warn");
    }
  }

  function catchUp() {
    if (!ticketRoot) return;
    getJson("/console/api/tickets/" + ticketId + "?after=" + lastMessageId).then(function (data) {
      if (!data) return;
      data.messages.forEach(appendMessage);
      data.notes.forEach(appendNote);
      if (data.ticket.status !== ticketRoot.dataset.status) ticketChanged(data.ticket);
    });
  }

  function sendReply() {
    var text = reply.value.trim();
    if (!text) return;
    reply.disabled = true;
    if (replyError) replyError.hidden = true;
    post("/console/tickets/" + ticketId + "/messages", { text: text }).then(function (r) {
      reply.disabled = false;
      if (r.ok) {
        reply.value = "";
        appendMessage(r.data.message);
      } else if (replyError) {
        replyError.textContent = LABELS.send_failed + (r.data && r.data.error ? "（" + r.data.error + "）" : "");
        replyError.hidden = false;
      }
      reply.focus();
    }, function () {
      reply.disabled = false;
      if (replyError) { replyError.textContent = LABELS.send_failed; replyError.hidden = false; }
    });
  }

  if (replyForm && reply) {
    replyForm.addEventListener("submit", function (e) {
      e.preventDefault();
      sendReply();
    });
    reply.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      sendReply();
    });
    var lastTyping = 0;
    reply.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastTyping < 1500 || !socket || socket.readyState !== 1) return;
      lastTyping = now;
      socket.send(JSON.stringify({ type: "typing", ticket_id: ticketId }));
    });
  }

  var insertButton = document.getElementById("insert-materials");
  if (insertButton && reply) {
    insertButton.addEventListener("click", function () {
      getJson("/console/api/tickets/" + ticketId + "/materials").then(function (data) {
        if (!data || typeof data.text !== "string") {
          showBanner(LABELS.no_materials, "warn");
          return;
        }
        var start = reply.selectionStart || reply.value.length;
        var end = reply.selectionEnd || start;
        reply.value = reply.value.slice(0, start) + data.text + reply.value.slice(end);
        reply.focus();
        reply.selectionStart = reply.selectionEnd = start + data.text.length;
      });
    });
  }

  // -- the WebSocket ------------------------------------------------------------------------------

  function onFrame(frame) {
    if (frame.type === "ticket") {
      if (frame.ticket.new && frame.ticket.status === "waiting") notifyNewTicket(frame.ticket);
      refreshLists();
      ticketChanged(frame.ticket);
    } else if (frame.type === "message" && frame.ticket_id === ticketId) {
      appendMessage(frame.message);
    } else if (frame.type === "note" && frame.ticket_id === ticketId) {
      appendNote(frame.note);
    } else if (frame.type === "typing" && frame.ticket_id === ticketId && personTyping) {
      personTyping.hidden = false;
      if (typingTimer) clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { personTyping.hidden = true; }, 3000);
    }
  }

  function setLink(up) {
    if (linkState) linkState.className = "link-state " + (up ? "up" : "down");
    document.body.dataset.live = up ? "up" : "down";
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/console/ws");
    socket.addEventListener("open", function () {
      retryDelay = 500;
      setLink(true);
      showBanner("", "");
      // Whatever happened while we were away: lists and messages from the server.
      refreshLists();
      catchUp();
      if (pingTimer) clearInterval(pingTimer);
      pingTimer = setInterval(function () {
        if (socket.readyState === 1) socket.send('{"type":"ping"}');
      }, 15000);
    });
    socket.addEventListener("message", function (e) {
      var frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      onFrame(frame);
    });
    socket.addEventListener("close", function (e) {
      setLink(false);
      if (pingTimer) clearInterval(pingTimer);
      if (e.code === 4401) { window.location.href = "/console/login"; return; }
      showBanner(LABELS.reconnecting, "warn");
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    });
  }

  if (listsRoot || ticketRoot || dashboardRoot) connect();
  if (listsRoot) setInterval(refreshLists, 30000);
  if (dashboardRoot) setInterval(function () { window.location.reload(); }, 30000);
})();
