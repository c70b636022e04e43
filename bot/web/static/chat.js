// Citizen chat page. Message content is only ever set with textContent or text nodes.
(function () {
  "use strict";

  var SENDER_KEY = "sqfd.sender";
  var CURSOR_KEY = "sqfd.events";  // id of the last helper/notice message shown (catch-up after reconnects)
  var SENDER_RE = /^[A-Za-z0-9_-]{44}$/;
  var REQUEST_TIMEOUT_MS = 100000; // above the server's queue wait (60 s) plus its Rasa timeout (30 s)
  var BUSY_NOTICE_MS = 4000; // a turn still waiting after this: say that many people are asking
  // Stop a URL at whitespace, quotes, angle brackets, CJK text and full-width punctuation.
  var URL_RE = /https?:\/\/[^\s<>"'\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+/gi;
  var URL_TRAILING_RE = /[.,;:!?)\]}]+$/;

  var chat = document.getElementById("chat");
  var list = document.getElementById("messages");
  var typing = document.getElementById("typing");
  var form = document.getElementById("composer");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var retryTemplate = document.getElementById("retry-template");
  var handoffBanner = document.getElementById("handoff-banner");
  var helperCaption = document.getElementById("helper-caption");

  var texts = { service_unavailable: "", busy_wait: "" };
  var queue = [];
  var busy = false;
  var sender = loadSenderId();
  var cursor = loadCursor();
  var handoffState = null;
  var events = null;
  var eventsDelay = 500;
  var typingTimer = null;

  // The sender id is issued by the server (/api/session: random and signed), kept across visits.
  function loadSenderId() {
    try {
      var stored = window.localStorage.getItem(SENDER_KEY);
      return stored && SENDER_RE.test(stored) ? stored : null;
    } catch (e) {
      return null; // storage blocked: an id for this visit only
    }
  }

  var senderRequest = null;
  function ensureSender() {
    if (sender) return Promise.resolve(sender);
    if (!senderRequest) {
      senderRequest = fetch("/api/session", { method: "POST", credentials: "same-origin" })
        .then(function (res) { return res.ok ? res.json() : Promise.reject(new Error("session")); })
        .then(function (data) {
          if (!data || typeof data.sender !== "string" || !SENDER_RE.test(data.sender)) throw new Error("session");
          sender = data.sender;
          cursor = loadCursor();
          try { window.localStorage.setItem(SENDER_KEY, sender); } catch (e) { /* visit only */ }
          return sender;
        })
        .then(function (value) { senderRequest = null; return value; },
              function (err) { senderRequest = null; throw err; });
    }
    return senderRequest;
  }

  function forgetSender() {
    sender = null;
    try { window.localStorage.removeItem(SENDER_KEY); } catch (e) { /* visit only */ }
  }

  function loadCursor() {
    try {
      var stored = Number(window.localStorage.getItem(CURSOR_KEY + "." + sender) || 0);
      return isFinite(stored) && stored > 0 ? stored : 0;
    } catch (e) {
      return 0;
    }
  }

  function saveCursor(id) {
    if (id <= cursor) return;
    cursor = id;
    try { window.localStorage.setItem(CURSOR_KEY + "." + sender, String(id)); } catch (e) { /* visit only */ }
  }

  function el(tag, className) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  function safeUrl(candidate) {
    try {
      var url = new URL(candidate);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  // Text with http(s) links turned into <a> elements; everything else stays a text node.
  function appendLinkified(parent, text) {
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var raw = match[0].replace(URL_TRAILING_RE, "");
      var href = safeUrl(raw);
      if (!href) continue;
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = el("a");
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.textContent = raw;
      parent.appendChild(a);
      last = match.index + raw.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function isNearBottom() {
    return chat.scrollHeight - chat.scrollTop - chat.clientHeight < 80;
  }

  // Show the start of a long reply rather than jumping past it to its end.
  function reveal(node) {
    var top = node.offsetTop - 8; // .chat is the offset parent
    var bottom = chat.scrollHeight - chat.clientHeight;
    chat.scrollTop = Math.min(top, bottom);
  }

  function scrollToBottom() {
    chat.scrollTop = chat.scrollHeight;
  }

  function addUserMessage(text) {
    var row = el("div", "msg user");
    var bubble = el("div", "bubble");
    bubble.textContent = text;
    row.appendChild(bubble);
    list.appendChild(row);
    scrollToBottom();
    return row;
  }

  function addBotMessage(message, extraClass) {
    var row = el("div", "msg bot" + (extraClass ? " " + extraClass : ""));
    var text = typeof message.text === "string" ? message.text : "";
    var image = typeof message.image === "string" ? safeUrl(message.image) : null;
    if (text || image) {
      var bubble = el("div", "bubble");
      if (text) appendLinkified(bubble, text);
      if (image) {
        var img = el("img");
        img.src = image;
        img.alt = "";
        img.loading = "lazy";
        img.referrerPolicy = "no-referrer";
        bubble.appendChild(img);
      }
      row.appendChild(bubble);
    }
    var buttons = Array.isArray(message.buttons) ? message.buttons : [];
    if (buttons.length) {
      var chips = el("div", "chips");
      chips.setAttribute("role", "group");
      buttons.forEach(function (b) {
        if (!b || typeof b.title !== "string") return;
        var chip = el("button", "chip");
        chip.type = "button";
        chip.textContent = b.title;
        chip.addEventListener("click", function () {
          if (chip.disabled) return;
          chip.classList.add("chosen");
          send(typeof b.payload === "string" && b.payload ? b.payload : b.title, b.title);
        });
        chips.appendChild(chip);
      });
      row.appendChild(chips);
    }
    if (message.checklist && typeof message.checklist === "object") addChecklist(row, message.checklist);
    if (row.childNodes.length) list.appendChild(row);
    return row;
  }

  // 一次性告知单: the listed materials as checkboxes; submitting sends the ticked numbers as text ("1、3").
  var checklistCount = 0;
  function addChecklist(row, checklist) {
    var items = Array.isArray(checklist.items) ? checklist.items : [];
    if (!items.length) return;
    checklistCount += 1;
    var box = el("form", "checklist");
    var fieldset = el("fieldset");
    var legend = el("legend");
    legend.textContent = typeof checklist.label === "string" ? checklist.label : "";
    fieldset.appendChild(legend);
    items.forEach(function (item) {
      if (!item || typeof item.index !== "number" || typeof item.name !== "string") return;
      var id = "checklist-" + checklistCount + "-" + item.index;
      var line = el("div", "check");
      var tick = el("input");
      tick.type = "checkbox";
      tick.id = id;
      tick.value = String(item.index);
      var label = el("label");
      label.htmlFor = id;
      label.textContent = item.index + ". " + item.name;
      line.appendChild(tick);
      line.appendChild(label);
      fieldset.appendChild(line);
    });
    var submit = el("button", "checklist-submit");
    submit.type = "submit";
    submit.textContent = typeof checklist.submit === "string" ? checklist.submit : "";
    fieldset.appendChild(submit);
    box.appendChild(fieldset);
    box.addEventListener("submit", function (e) {
      e.preventDefault();
      if (fieldset.disabled) return;
      var chosen = [];
      var ticks = fieldset.querySelectorAll("input[type=checkbox]");
      for (var i = 0; i < ticks.length; i++) if (ticks[i].checked) chosen.push(ticks[i].value);
      var text = chosen.length ? chosen.join("、") : (typeof checklist.none === "string" ? checklist.none : "");
      if (!text) return;
      fieldset.disabled = true;
      send(text, text);
    });
    row.appendChild(box);
  }

  // -- live messages from a helper (the page's WebSocket) ------------------------------------------

  function addHelperMessage(frame) {
    var row = el("div", "msg bot helper");
    var caption = el("div", "caption");
    var format = helperCaption ? helperCaption.content.textContent : "{name}";
    caption.textContent = format.replace("{name}", frame.name || "").replace("{staff_no}", frame.staff_no || "");
    var bubble = el("div", "bubble");
    appendLinkified(bubble, typeof frame.text === "string" ? frame.text : "");
    row.appendChild(caption);
    row.appendChild(bubble);
    list.appendChild(row);
    return row;
  }

  function showFrame(frame) {
    if (typeof frame.id !== "number" || frame.id <= cursor) return; // already shown
    var near = isNearBottom();
    if (frame.author === "helper") {
      addHelperMessage(frame);
      hideTyping();
    } else if (frame.author === "notice") {
      addBotMessage({ text: frame.text }, "notice handoff");
    } else {
      addBotMessage({ text: frame.text, buttons: frame.buttons || [] });
    }
    saveCursor(frame.id);
    if (near) scrollToBottom();
  }

  // The bot speaking first (the rating question when the person went quiet): not stored, no cursor.
  function showBotFrame(frame) {
    var messages = Array.isArray(frame.messages) ? frame.messages : [];
    var near = isNearBottom();
    messages.forEach(function (m) { addBotMessage(m || {}); });
    if (near) scrollToBottom();
  }

  function setHandoffState(state) {
    handoffState = state && typeof state === "object" ? state : null;
    document.body.dataset.handoff = handoffState ? handoffState.status : "";
    if (!handoffBanner) return;
    handoffBanner.textContent = handoffState && typeof handoffState.text === "string" ? handoffState.text : "";
    handoffBanner.hidden = !handoffState;
  }

  function hideTyping() {
    if (typingTimer) clearTimeout(typingTimer);
    typingTimer = null;
    if (!busy) typing.hidden = true;
  }

  function showTyping() {
    if (busy) return;
    var near = isNearBottom();
    typing.hidden = false;
    if (near) scrollToBottom();
    if (typingTimer) clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, 3500);
  }

  function connectEvents() {
    if (typeof WebSocket !== "function") return;
    ensureSender().then(openEvents, function () { setTimeout(connectEvents, 5000); });
  }

  function openEvents() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + "/api/events?sender=" + encodeURIComponent(sender) + "&after=" + cursor;
    var socket = new WebSocket(url);
    events = socket;
    socket.addEventListener("open", function () {
      eventsDelay = 500;
      document.body.dataset.live = "up";
      retryLostDeliveries(); // what could not be sent while the server was away goes now, in order
    });
    socket.addEventListener("message", function (e) {
      var frame;
      try { frame = JSON.parse(e.data); } catch (err) { return; }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "message") showFrame(frame);
      else if (frame.type === "bot") showBotFrame(frame);
      else if (frame.type === "state") setHandoffState(frame.handoff);
      else if (frame.type === "typing") showTyping();
    });
    socket.addEventListener("close", function () {
      document.body.dataset.live = "down";
      if (events === socket) events = null;
      setTimeout(connectEvents, eventsDelay);
      eventsDelay = Math.min(eventsDelay * 2, 5000);
    });
  }

  var lastTypingSent = 0;
  function sendTyping() {
    if (!handoffState || handoffState.status !== "active" || !events || events.readyState !== 1) return;
    var now = Date.now();
    if (now - lastTypingSent < 1500) return;
    lastTypingSent = now;
    events.send('{"type":"typing"}');
  }

  function showNotice() {
    addBotMessage({ text: texts.service_unavailable || "\u26a0" }, "notice");
  }

  function disableOldButtons() {
    var chips = list.querySelectorAll(".chip, .checklist fieldset");
    for (var i = 0; i < chips.length; i++) chips[i].disabled = true;
  }

  function setBusy(value) {
    busy = value;
    typing.hidden = !value;
    if (value && isNearBottom()) scrollToBottom();
  }

  // shownText === null: a hidden payload (the opening greeting).
  function send(payload, shownText) {
    disableOldButtons();
    var item = { payload: payload, row: null };
    if (shownText !== null) item.row = addUserMessage(shownText);
    queue.push(item);
    pump();
  }

  // One request at a time, in order: nothing typed while the bot is busy is lost or reordered.
  function pump() {
    if (busy) return;
    var item = queue.shift();
    if (!item) return;
    setBusy(true);
    deliver(item).then(function () {
      setBusy(false);
      pump();
    });
  }

  function retryLostDeliveries() {
    var lost = list.querySelectorAll(".msg.user.failed");
    for (var i = 0; i < lost.length; i++) {
      var retry = lost[i].querySelector("button.retry");
      if (retry && lost[i].lostItem && lost[i].lostItem.lost) retry.click();
    }
  }

  function markFailed(item) {
    if (!item.row || item.row.classList.contains("failed")) return;
    item.row.classList.add("failed");
    item.row.lostItem = item;
    var retry = retryTemplate.content.firstElementChild.cloneNode(true);
    retry.addEventListener("click", function () {
      item.row.classList.remove("failed");
      item.row.removeChild(retry);
      queue.push(item);
      pump();
    });
    item.row.appendChild(retry);
  }

  function deliver(item) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    var firstNew = null;
    var busyRow = null;
    var busyTimer = setTimeout(function () {
      if (texts.busy_wait) busyRow = addBotMessage({ text: texts.busy_wait }, "notice busy-wait");
    }, BUSY_NOTICE_MS);
    function post(retried) {
      return ensureSender().then(function () {
        return fetch("/api/chat", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ sender: sender, message: item.payload }),
          signal: controller ? controller.signal : undefined,
          credentials: "same-origin"
        });
      }).then(function (res) {
        if (res.status !== 403 || retried) return res;
        forgetSender(); // an id this server no longer knows: get a new one, send again once
        return post(true);
      });
    }
    return post(false)
      .then(function (res) {
        return res.json().catch(function () { return null; }).then(function (data) {
          var messages = data && Array.isArray(data.messages) ? data.messages : [];
          if (data && "handoff" in data) setHandoffState(data.handoff);
          item.lost = false;
          messages.forEach(function (m) {
            var row = addBotMessage(m || {});
            if (!firstNew && row.parentNode) firstNew = row;
          });
          if (!res.ok) {
            markFailed(item);
            if (!messages.length) showNotice();
          }
        });
      })
      .catch(function () {
        item.lost = true; // never reached the server: re-sent by itself when the server is back
        markFailed(item);
        showNotice();
      })
      .then(function () {
        if (timer) clearTimeout(timer);
        clearTimeout(busyTimer);
        if (busyRow && busyRow.parentNode) busyRow.parentNode.removeChild(busyRow);
        if (firstNew) reveal(firstNew);
        else scrollToBottom();
      });
  }

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 140) + "px";
  }

  function updateSendButton() {
    sendButton.disabled = input.value.trim() === "";
  }

  function submit() {
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    updateSendButton();
    autoGrow();
    send(text, text);
    input.focus();
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit();
  });

  input.addEventListener("keydown", function (e) {
    // Enter while an input method is composing picks a candidate; it must not send.
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    submit();
  });

  input.addEventListener("input", function () {
    updateSendButton();
    autoGrow();
    sendTyping();
  });

  fetch("/api/texts", { credentials: "same-origin" })
    .then(function (res) { return res.ok ? res.json() : null; })
    .then(function (data) {
      if (data && typeof data.service_unavailable === "string") texts.service_unavailable = data.service_unavailable;
      if (data && typeof data.busy_wait === "string") texts.busy_wait = data.busy_wait;
    })
    .catch(function () { /* the 503 body carries the same text */ });

  updateSendButton();
  send("/greet", null);
  connectEvents();
})();
