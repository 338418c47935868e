// The console Simulator's chat; served as a file so that the Content-Security-Policy allows no inline script.
(() => {
  "use strict";
  const T = JSON.parse(document.getElementById("simulator-texts").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const log = $("chat-log"), input = $("message"), send = $("send"), channel = $("channel"),
        country = $("country"), language = $("language"), phone = $("phone");
  const format = (text, values) => text.replace(/\{(\w+)\}/g, (all, key) => key in values ? values[key] : all);
  const count = (n, what) => format(T[what + (n === 1 ? "_one" : "_other")], {n: n});
  let sender = "";
  let queue = Promise.resolve();

  function add(kind, text, testid) {
    const node = document.createElement("div");
    node.className = kind;
    if (testid) node.dataset.testid = testid;
    if (text !== undefined) node.textContent = text;
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  // WhatsApp shows *bold*: built from text nodes, never from HTML.
  function whatsappText(node, text) {
    text.split(/(\*[^*\n]+\*)/).forEach((part) => {
      if (/^\*[^*\n]+\*$/.test(part)) {
        const strong = document.createElement("strong");
        strong.textContent = part.slice(1, -1);
        node.appendChild(strong);
      } else if (part) {
        node.appendChild(document.createTextNode(part));
      }
    });
  }

  function newSender() {
    const option = country.selectedOptions[0];
    let digits = "";
    const random = new Uint8Array(Number(option.dataset.digits));
    crypto.getRandomValues(random);
    random.forEach((value) => { digits += String(value % 10); });
    return option.dataset.prefix + digits;
  }

  function showReplies(body, usedChannel) {
    if (!body.replies.length) add("note", T.silent, "silent");
    body.replies.forEach((reply) => {
      const bubble = add("bubble reply", usedChannel === "whatsapp" ? undefined : reply.text, "reply");
      if (usedChannel === "whatsapp") whatsappText(bubble, reply.text);
      const parts = usedChannel === "sms"
        ? [count(reply.segments, "segment"), reply.encoding, count(reply.characters, "character")]
        : [count(reply.characters, "character")];
      add("meta", parts.join(" · "), "reply-meta");
    });
    const u = body.understanding;
    if (u) {
      const shown = (value) => value === null || value === undefined || value === "" ? "–" : value;
      add("understood", T.understood + ": " + [
        T.intent + " " + shown(u.intent), T.topic + " " + shown(u.topic), T.country + " " + shown(u.country),
        T.language + " " + shown(u.language), T.confidence + " " + Number(u.confidence).toFixed(2),
        T.engine + " " + shown(u.engine)].join(" · "), "understood");
    }
  }

  async function post(text) {
    const usedChannel = channel.value;
    add("bubble sent", text, "sent");
    send.disabled = true;
    try {
      const response = await fetch("/console/simulator/send", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify({text: text, channel: usedChannel, sender: sender}),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        const reason = typeof body.detail === "string" ? body.detail
          : Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : response.status;
        add("bubble error", format(T.failed, {reason: reason}), "error");
      } else {
        showReplies(body, usedChannel);
      }
    } catch (error) {
      add("bubble error", format(T.failed, {reason: String(error)}), "error");
    } finally {
      send.disabled = false;
    }
  }

  // Messages leave one at a time, in order, like a person typing.
  function enqueue(text) {
    queue = queue.then(() => post(text));
    return queue;
  }

  function sendLanguageKeyword() {
    const keyword = language.selectedOptions[0].dataset.keyword;
    if (keyword) enqueue(keyword);
  }

  function newConversation() {
    sender = newSender();
    $("sender").textContent = sender;
    log.replaceChildren();
    add("note", format(T["new"], {sender: sender}), "new-conversation-note");
    sendLanguageKeyword();
  }

  function showChannel() {
    phone.dataset.channel = channel.value;
    $("phone-channel").textContent = channel.selectedOptions[0].textContent;
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    input.focus();
    enqueue(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  channel.addEventListener("change", () => {
    showChannel();
    add("note", format(T.channel, {channel: channel.selectedOptions[0].textContent}), "channel-note");
  });
  country.addEventListener("change", newConversation);
  language.addEventListener("change", sendLanguageKeyword);
  $("new-conversation").addEventListener("click", newConversation);
  showChannel();
  newConversation();
})();
