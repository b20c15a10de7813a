// Turning chat lines into DOM nodes. Everything people wrote goes in as
// text nodes (never as HTML); links become anchors only for http and https.

/** Web addresses in text. */
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/g;

/** How many nickname colours the stylesheet has (.nick-0 ... .nick-11). */
const NICK_COLOURS = 12;

/** Makes an element with a class and, optionally, text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A nickname's colour class: the same nickname, the same colour. */
export function nickClass(nick) {
  let hash = 0;
  for (const ch of nick.toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `nick nick-${hash % NICK_COLOURS}`;
}

/** Appends `text` to `parent`, with http(s) addresses as links. */
export function appendLinked(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let address = match[0].replace(/[.,;:!?)\]]+$/, "");
    let url;
    try {
      url = new URL(address);
    } catch {
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    parent.append(document.createTextNode(text.slice(last, match.index)));
    const link = el("a", "", address);
    link.href = url.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    parent.append(link);
    last = match.index + address.length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

/** "HH:MM" of a timestamp in milliseconds. */
function clock(ts) {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/**
 * One line of a log: `kind` is "message", "action", "notice" or "info";
 * `nick` is who said it (none for notices); `mention` highlights it.
 */
export function line({ ts, nick, text, kind, mention, id }) {
  const row = el("div", `line ${kind}${mention ? " mention" : ""}`);
  if (id !== undefined) row.dataset.id = String(id);
  const time = el("time", "ts", clock(ts));
  time.dateTime = new Date(ts).toISOString();
  time.title = new Date(ts).toLocaleString();
  row.append(time, " ");
  const body = el("span", "body");
  if (kind === "action") {
    body.append("* ", el("span", nickClass(nick), nick), " ");
  } else if (kind === "message") {
    body.append(el("span", nickClass(nick), nick), el("span", "sep", ": "));
  }
  appendLinked(body, text);
  row.append(body);
  return row;
}

/** The line that marks where unread messages start. */
export function unreadMarker() {
  const marker = el("div", "unread-marker");
  marker.setAttribute("role", "separator");
  marker.append(el("span", "", "new messages"));
  return marker;
}
