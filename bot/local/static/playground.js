// The sms-bridge playground. It plays the customer (texts go to the bot as signed webhooks, through
// /_playground/inbound) and the people in Slack (the embedded workspace's human endpoints), and shows what
// each side sees, live. All text is put in the page with textContent / text nodes, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const EMOJI = {
  speech_balloon: "💬", white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", no_entry: "⛔",
  grey_question: "❔", warning: "⚠️", iphone: "📱", arrow_forward: "▶️", memo: "📝", lock: "🔒",
  hourglass_flowing_sand: "⏳", hourglass: "⌛", rocket: "🚀", pause_button: "⏸️", stop_button: "⏹️",
  bell: "🔔", rotating_light: "🚨", email: "📧", outbox_tray: "📤", inbox_tray: "📥", calendar: "📅",
  bar_chart: "📊", tada: "🎉", paperclip: "📎", eyes: "👀", clock3: "🕒", zzz: "💤", leftwards_arrow_with_hook: "↩️",
  ballot_box_with_check: "☑️", information_source: "ℹ️", red_circle: "🔴", large_green_circle: "🟢",
  robot_face: "🤖", checkered_flag: "🏁", no_entry_sign: "🚫", mega: "📣", arrow_double_up: "⏫",
  octagonal_sign: "🛑", double_vertical_bar: "⏸️", alarm_clock: "⏰",
};

const ui = {
  config: null, state: null, texts: [],
  channel: null, threadTs: null, dismissedViews: new Set(), shownView: null,
};

// ---------------------------------------------------------------- small helpers

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children) if (child != null) node.append(child);  // strings become text nodes
  return node;
}

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function post(path, body) {
  const resp = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify(body)});
  const answer = await resp.json().catch(() => ({}));
  if (!resp.ok || answer.ok === false) throw new Error(answer.error || answer.report || `HTTP ${resp.status}`);
  return answer;
}

const digits = (number) => (number || "").replace(/[^\d+]/g, "");
const clock = (date) => date.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
const tsTime = (ts) => clock(new Date(parseFloat(ts) * 1000));
const byTs = (a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0);
const unescapeSlack = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

function userName(id) {
  const user = (ui.state?.users || []).find((u) => u.id === id);
  return user ? user.real_name || user.name : id;
}

// ---------------------------------------------------------------- Slack mrkdwn, as text nodes

const INLINE = /<([^<>\n]+)>|(?<![\w*])\*([^*\n]+)\*(?!\w)|(?<![\w_])_([^_\n]+)_(?!\w)|`([^`\n]+)`|~([^~\n]+)~|:([a-z0-9_+-]+):/g;

function inline(text, parent) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(unescapeSlack(text.slice(last, m.index)));
    last = m.index + m[0].length;
    if (m[1] !== undefined) parent.append(reference(m[1]));
    else if (m[2] !== undefined) inline(m[2], parent.appendChild(el("strong")));
    else if (m[3] !== undefined) inline(m[3], parent.appendChild(el("em")));
    else if (m[4] !== undefined) parent.append(el("code", {}, unescapeSlack(m[4])));
    else if (m[5] !== undefined) inline(m[5], parent.appendChild(el("s")));
    else parent.append(EMOJI[m[6]] || m[0]);
  }
  if (last < text.length) parent.append(unescapeSlack(text.slice(last)));
}

function reference(inner) {  // <@U123>, <#C123|name>, <!here>, <https://...|label>
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) return el("span", {class: "mention"}, "@" + userName(target.slice(1)));
  if (target.startsWith("#")) return el("span", {class: "mention"}, "#" + (label || target.slice(1).toLowerCase()));
  if (target.startsWith("!date^")) return unescapeSlack(label || "");  // <!date^...|fallback>: the fallback text
  if (target.startsWith("!")) return el("span", {class: "mention"}, "@" + (label || target.slice(1)));
  const url = unescapeSlack(target);
  const text = unescapeSlack(label || target);
  if (!/^https?:\/\//i.test(url)) return text;
  return el("a", {href: url, target: "_blank", rel: "noopener noreferrer"}, text);
}

function mrkdwn(text, parent) {
  text.split("\n").forEach((line, i, lines) => {
    const quoted = /^(&gt;|>) ?/.exec(line);
    if (quoted) {
      inline(line.slice(quoted[0].length), parent.appendChild(el("span", {class: "quote"})));
      return;
    }
    inline(line, parent);
    if (i < lines.length - 1) parent.append("\n");
  });
}

function textObject(obj, parent) {
  if (!obj) return;
  if (obj.type === "mrkdwn") mrkdwn(obj.text || "", parent);
  else parent.append(obj.text || "");
}

// ---------------------------------------------------------------- Block Kit

function button(element, blockId, msg) {
  const style = element.style ? " " + element.style : "";
  return el("button", {type: "button", class: "block-button" + style,
                       data: {actionId: element.action_id || "", value: element.value ?? ""},
                       onclick: () => click(element, blockId, msg)}, element.text?.text || "button");
}

async function click(element, blockId, msg) {
  const confirm = element.confirm;
  if (confirm && !window.confirm(`${confirm.title?.text || "Are you sure?"}\n\n${confirm.text?.text || ""}`)) return;
  const body = {channel: msg.channel || ui.channel, user: actingUser(), message_ts: msg.ts,
                action_id: element.action_id, block_id: blockId};
  if (element.value !== undefined) body.value = element.value;
  try {
    const answer = await post(`${ui.config.slack}/action`, body);
    setStatus(answer.status === 200 ? `${actingUser()} clicked “${element.text?.text}”` : `the bot answered ${answer.status}`,
              answer.status !== 200);
  } catch (err) { setStatus(`click failed: ${err.message}`, true); }
}

function blocks(list, msg, parent) {
  for (const block of list) {
    switch (block.type) {
      case "section": {
        const div = parent.appendChild(el("div", {class: "block-section"}));
        textObject(block.text, div);
        if (block.fields) {
          const grid = div.appendChild(el("div", {class: "block-fields"}));
          for (const field of block.fields) textObject(field, grid.appendChild(el("div")));
        }
        if (block.accessory?.type === "button") div.append(" ", button(block.accessory, block.block_id, msg));
        break;
      }
      case "context": {
        const div = parent.appendChild(el("div", {class: "block-context"}));
        for (const item of block.elements || []) {
          if (item.type === "image") div.append(`[${item.alt_text || "image"}] `);
          else textObject(item, div.appendChild(el("span")));
        }
        break;
      }
      case "actions": {
        const div = parent.appendChild(el("div", {class: "block-actions"}));
        for (const item of block.elements || []) {
          if (item.type === "button") div.append(button(item, block.block_id, msg));
        }
        break;
      }
      case "header": parent.append(el("div", {class: "block-header"}, block.text?.text || "")); break;
      case "divider": parent.append(el("hr", {class: "block-divider"})); break;
      case "image": parent.append(el("div", {class: "block-context"}, `[image: ${block.alt_text || ""}]`)); break;
      default: break;  // rich_text: the message's text says the same
    }
  }
}

// ---------------------------------------------------------------- the Slack pane

function actingUser() { return $("slack-user").value; }

function message(msg, {ephemeral = false} = {}) {
  const isBot = Boolean(msg.bot_id);
  const li = el("li", {class: "message" + (ephemeral ? " ephemeral" : ""), data: {ts: msg.ts, user: msg.user || ""}});
  const head = li.appendChild(el("div", {class: "head"},
    el("span", {class: "author"}, isBot ? (msg.bot_profile?.name || "sms-bridge") : userName(msg.user)),
    isBot ? el("span", {class: "app"}, "APP") : null,
    el("span", {class: "time"}, tsTime(msg.ts)),
    msg.edited ? el("span", {class: "edited"}, "(edited)") : null));
  if (ephemeral) head.append(" ", el("span", {class: "only-you"}, "Only visible to you"));
  const body = li.appendChild(el("div", {class: "body"}));
  const shown = (msg.blocks || []).filter((b) => b.type !== "rich_text");
  if (shown.length) blocks(shown, msg, body);
  else mrkdwn(msg.text || "", body);
  if (msg.files?.length) {
    li.append(el("div", {class: "files"}, msg.files.map((f) => `📎 ${f.name}`).join("  ")));
  }
  if (msg.reactions?.length) {
    const row = li.appendChild(el("div", {class: "reactions"}));
    for (const r of msg.reactions) {
      row.append(el("span", {class: "reaction", data: {name: r.name}}, `${EMOJI[r.name] || ":" + r.name + ":"} ${r.count}`));
    }
  }
  return li;
}

function renderSlack() {
  const list = $("slack-messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const channel = (ui.state?.channels || []).find((c) => c.id === ui.channel);
  const mine = (ui.state?.ephemerals?.[actingUser()] || []).filter((e) => e.channel === ui.channel);
  const roots = [...(channel?.messages || []).map((m) => ({m, eph: false})),
                 ...mine.filter((e) => !e.thread_ts).map((m) => ({m, eph: true}))].sort((a, b) => byTs(a.m, b.m));
  const items = roots.map(({m, eph}) => {
    const li = message(m, {ephemeral: eph});
    if (eph) return li;
    li.classList.add("root");
    const replies = [...(m.replies || []).map((r) => ({m: r, eph: false})),
                     ...mine.filter((e) => e.thread_ts === m.ts).map((e) => ({m: e, eph: true}))].sort((a, b) => byTs(a.m, b.m));
    if (replies.length) li.append(el("ol", {class: "replies"}, ...replies.map(({m: r, eph: e}) => message(r, {ephemeral: e}))));
    const active = ui.threadTs === m.ts;
    li.append(el("button", {type: "button", class: "thread-button" + (active ? " active" : ""),
                            onclick: () => setThread(m.ts)},
                 active ? "replying in this thread" : replies.length ? `Reply in thread (${replies.length})` : "Reply in thread"));
    return li;
  });
  list.replaceChildren(...(items.length ? items : [el("li", {class: "empty"}, "Nothing here yet: text the line from the phone.")]));
  if (atBottom) list.scrollTop = list.scrollHeight;
  renderModal();
}

function setThread(ts) {
  ui.threadTs = ts;
  $("slack-target").textContent = ts ? `Replying in the thread of ${tsTime(ts)} (a plain reply is texted to the customer; start with note: to keep it internal)`
                                     : "Posting in the channel";
  $("slack-target-clear").hidden = !ts;
  renderSlack();
  $("slack-text").focus();
}

function renderChannels() {
  const select = $("slack-channel");
  const ids = new Set([...(ui.config.lines.map((l) => l.channel)), ...(ui.state?.channels || []).map((c) => c.id)]);
  if (!ui.channel) ui.channel = ui.config.lines[0]?.channel || [...ids][0];
  if (select.options.length !== ids.size) {
    select.replaceChildren(...[...ids].map((id) => {
      const known = (ui.state?.channels || []).find((c) => c.id === id);
      return el("option", {value: id, selected: id === ui.channel}, "#" + (known?.name || id.toLowerCase()));
    }));
  }
}

let loading = null, again = false;
async function loadState() {  // one fetch at a time; changes during a fetch cause one more
  if (loading) { again = true; return loading; }
  loading = (async () => {
    do {
      again = false;
      const resp = await fetch(`${ui.config.slack}/state`);
      ui.state = await resp.json();
    } while (again);
    renderChannels();
    renderSlack();
  })().finally(() => { loading = null; });
  return loading;
}

async function sendSlack(event) {
  event.preventDefault();
  const input = $("slack-text");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";  // now, not once the bot has answered: what is typed meanwhile is the next message
  try {
    if (text.startsWith("/")) {
      const [, command, rest] = /^(\/\S+)\s*([\s\S]*)$/.exec(text);
      const answer = await post(`${ui.config.slack}/command`, {channel: ui.channel, user: actingUser(), command, text: rest});
      setStatus(answer.status === 200 ? `${actingUser()} ran ${command} ${rest}` : `the bot answered ${answer.status}`,
                answer.status !== 200);
    } else {
      const body = {channel: ui.channel, user: actingUser(), text};
      if (ui.threadTs) body.thread_ts = ui.threadTs;
      await post(`${ui.config.slack}/say`, body);
      setStatus(`${actingUser()} posted ${ui.threadTs ? "in the thread" : "in the channel"}`);
    }
  } catch (err) {
    if (!input.value) input.value = text;  // not sent: give it back to edit and send again
    setStatus(`Slack: ${err.message}`, true);
  }
}

// ---------------------------------------------------------------- a modal the bot opened (e.g. /sms campaign)

function renderModal() {
  const views = (ui.state?.views || []).filter((v) => v.user === actingUser() && !ui.dismissedViews.has(v.id));
  const view = views[views.length - 1];
  const key = view ? `${view.id}:${view.hash}` : null;
  if (key === ui.shownView) return;  // keep what the person is typing
  ui.shownView = key;
  $("modal").hidden = !view;
  if (!view) return;
  $("modal-title").textContent = view.title?.text || "";
  $("modal-errors").textContent = "";
  $("modal-submit").textContent = view.submit?.text || "Submit";
  $("modal-submit").hidden = !view.submit;
  const body = $("modal-body");
  body.replaceChildren();
  for (const block of view.blocks || []) {
    if (block.type !== "input") { blocks([block], {ts: "", channel: ui.channel}, body); continue; }
    const element = block.element || {};
    const name = `${block.block_id}/${element.action_id}`;
    body.append(el("label", {htmlFor: name}, block.label?.text || ""));
    if (element.type === "plain_text_input") {
      const input = el(element.multiline ? "textarea" : "input", {id: name, name, value: element.initial_value || ""});
      input.dataset.kind = "plain_text_input";
      body.append(input);
    } else if (element.type === "static_select") {
      const select = el("select", {id: name, name, data: {kind: "static_select"}},
        ...(element.options || []).map((o) => el("option", {value: o.value, selected: o.value === element.initial_option?.value}, o.text?.text || o.value)));
      body.append(select);
    } else {
      body.append(el("div", {class: "hint"}, `(${element.type} is not supported in the playground; use the text command)`));
    }
    if (block.hint) body.append(el("div", {class: "hint"}, block.hint.text || ""));
  }
  $("modal-form").dataset.viewId = view.id;
  $("modal-form").view = view;
}

async function submitModal(event) {
  event.preventDefault();
  const view = $("modal-form").view;
  const values = {};
  for (const field of $("modal-body").querySelectorAll("[data-kind]")) {
    const [blockId, actionId] = field.name.split("/");
    const option = (view.blocks.find((b) => b.block_id === blockId)?.element?.options || []).find((o) => o.value === field.value);
    (values[blockId] ||= {})[actionId] = field.dataset.kind === "static_select"
      ? {type: "static_select", selected_option: option || null}
      : {type: "plain_text_input", value: field.value};
  }
  try {
    const answer = await post(`${ui.config.slack}/view_submission`, {user: actingUser(), view_id: view.id, values});
    const errors = answer.response?.response_action === "errors" ? answer.response.errors : null;
    $("modal-errors").textContent = errors ? Object.values(errors).join(" · ") : "";
    if (!errors) setStatus(`${actingUser()} submitted “${view.title?.text || "the form"}”`);
  } catch (err) { $("modal-errors").textContent = err.message; }
}

// ---------------------------------------------------------------- the phone

function customer() { return digits($("phone-number").value); }

function renderPhone() {
  const list = $("phone-texts");
  const mine = ui.texts.filter((t) => t.phone === customer());
  list.replaceChildren(...(mine.length ? mine.map((t) => el("li", {class: `text ${t.direction}`, data: {sid: t.sid}},
    t.body, el("span", {class: "meta"}, `${t.direction === "sent" ? "to" : "from"} ${t.line} · ${clock(new Date(t.at))}`)))
    : [el("li", {class: "empty"}, "No texts with this number yet.")]));
  list.scrollTop = list.scrollHeight;
}

async function loadTexts() {
  const resp = await fetch("/_playground/phone/texts");
  ui.texts = (await resp.json()).texts;
  renderPhone();
}

async function textLine(text) {
  try {
    await post("/_playground/inbound", {from: $("phone-number").value, to: $("phone-line").value, text});
    setStatus(`the customer texted “${text}”`);
    return true;
  } catch (err) { setStatus(`phone: ${err.message}`, true); return false; }
}

async function sendPhone(event) {
  event.preventDefault();
  const input = $("phone-text");
  const text = input.value.trim();
  if (text && await textLine(text)) input.value = "";
}

async function saveContact() {
  try {
    await post("/_playground/contact", {phone: $("phone-number").value});
    setStatus(`${$("phone-number").value} is a contact now (campaigns to=all reach it, with consent)`);
  } catch (err) { setStatus(`contact: ${err.message}`, true); }
}

// ---------------------------------------------------------------- start

// The JOIN button texts the selected line's first join keyword (the marketing opt-in flow); hidden on a line
// that has none.
function renderJoin() {
  const line = ui.config.lines.find((l) => l.number === $("phone-line").value);
  const keyword = line?.join_keywords?.[0];
  const button = $("phone-join");
  button.hidden = !keyword;
  if (keyword) {
    button.dataset.quick = keyword;
    button.textContent = keyword;
  }
}

async function start() {
  ui.config = await (await fetch("/_playground/config")).json();
  $("customers").replaceChildren(...ui.config.customers.map((c) => el("option", {value: c.number}, c.label)));
  $("phone-line").replaceChildren(...ui.config.lines.map((l) => el("option", {value: l.number}, `${l.number} ${l.brand}`.trim())));
  $("slack-user").replaceChildren(...ui.config.people.map((p) => el("option", {value: p.id}, `${p.id} (${p.role})`)));
  if (!ui.config.phone_ready) setStatus("the phone needs SMS_PROVIDER=simulator", true);

  $("phone-form").addEventListener("submit", sendPhone);
  $("phone-number").addEventListener("input", renderPhone);
  for (const quick of document.querySelectorAll("[data-quick]")) quick.addEventListener("click", () => textLine(quick.dataset.quick));
  $("phone-line").addEventListener("change", renderJoin);
  renderJoin();
  $("phone-contact").addEventListener("click", saveContact);
  $("slack-form").addEventListener("submit", sendSlack);
  $("slack-user").addEventListener("change", () => { ui.shownView = undefined; renderSlack(); });
  $("slack-channel").addEventListener("change", (e) => { ui.channel = e.target.value; setThread(null); });
  $("slack-target-clear").addEventListener("click", () => setThread(null));
  $("modal-form").addEventListener("submit", submitModal);
  $("modal-close").addEventListener("click", () => {
    ui.dismissedViews.add($("modal-form").dataset.viewId);
    renderModal();
  });

  // Live: every workspace change reloads its state; every text to or from a phone is appended.
  const slackEvents = new EventSource(`${ui.config.slack}/events`);
  slackEvents.onopen = () => loadState();
  slackEvents.onmessage = () => loadState();
  const phoneEvents = new EventSource("/_playground/phone/events");
  phoneEvents.onopen = () => loadTexts();
  phoneEvents.onmessage = (event) => {
    const text = JSON.parse(event.data);
    if (ui.texts.some((t) => t.sid === text.sid && t.direction === text.direction)) return;  // already loaded
    ui.texts.push(text);
    renderPhone();
  };

  await Promise.all([loadState(), loadTexts()]);
  document.body.dataset.ready = "1";
}

start().catch((err) => setStatus(`could not start: ${err.message}`, true));
