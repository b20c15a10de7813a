// The web client: one page with a window per room and per direct-message
// peer, speaking the JSON protocol (docs/protocol.md) over WebSocket.
//
// Every message is kept once per window, by its msg_id, in msg_id order:
// the replay on join, older pages when scrolling up, live messages and
// what a reconnect brings back may overlap and arrive in any order, and
// still show exactly once, in order.
//
// What is unread comes from the server's read markers (js/unread.js): the
// page asks for them at every login, follows the ones other sessions of the
// account move, and moves them itself as the user reads (what is on screen
// in the shown window of a visible tab).

import { Connection } from "./js/net.js";
import { el, line, nickClass, unreadMarker } from "./js/render.js";
import { runCommand } from "./js/commands.js";
import { describeModes, hint, parseModes, prefix, rankOrder } from "./js/moderation.js";
import { MarkQueue, summarize } from "./js/unread.js";

const $ = (id) => document.getElementById(id);

/** Messages asked for per page of older history. */
const PAGE = 50;

const state = {
  nick: "",
  id: 0,
  password: "",
  register: false,
  epoch: null,
  loggedIn: false,
  everLoggedIn: false,
  windows: new Map(),
  current: null,
  refs: 0,
  pending: new Map(),
  // Moderation requests by ref: the window that asked, and what `done` says.
  asked: new Map(),
  // Keys given with /join, by room key, until the room is joined.
  roomKeys: new Map(),
  ignored: new Set(JSON.parse(localStorage.getItem("chatroom.ignored") || "[]")),
  // Read markers by window key: how far the user has read (the server's, or
  // further where this page has read since).
  markers: new Map(),
};

/** Marker moves on their way to the server, at most one batch a second. */
const marks = new MarkQueue((target, ts) => send({ type: "mark_read", ...target, ts, ref: "mark" }));

const conn = new Connection({
  onOpen: login,
  onFrame: handle,
  onDown: (delay) => {
    state.loggedIn = false;
    if (state.everLoggedIn) {
      status(`Connection lost; reconnecting in ${Math.ceil(delay / 1000)} s…`);
    } else {
      $("login-error").textContent = "Cannot reach the server; trying again…";
    }
  },
});

/** A window's key: "#room" or "@nickname", folded. */
const roomKey = (room) => `#${room.toLowerCase()}`;
const dmKey = (nick) => `@${nick.toLowerCase()}`;

/** The window for a key, made when first needed. */
function windowFor(key, name, kind) {
  let win = state.windows.get(key);
  if (win) return win;
  const log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-label", kind === "room" ? `Messages in ${name}` : `Messages with ${name}`);
  log.tabIndex = 0;
  log.hidden = true;
  log.addEventListener("scroll", () => {
    if (log.scrollTop < 40) loadOlder(win);
    markSeen(win);
  });
  $("logs").append(log);
  win = {
    key, name, kind, log, topic: "", members: new Map(), ids: new Set(), joinKey: null,
    oldest: null, newest: null, hasMore: true, loading: false, unread: 0, mention: false,
    // msgs: id -> { ts, mine, live, mention, node }, what unread counts are
    // made of; unreadLine: the "new messages" line, if shown; replaying: the
    // first history is on its way (nothing is read until it is in).
    msgs: new Map(), unreadLine: null, replaying: false,
    sinceGap: null, oldestOfPage: null,
  };
  state.windows.set(key, win);
  renderSidebar();
  return win;
}

const roomWindow = (room) => windowFor(roomKey(room), room, "room");
const dmWindow = (nick) => windowFor(dmKey(nick), nick, "dm");

function send(frame) {
  return conn.send(frame);
}

function nextRef() {
  state.refs += 1;
  return `r${state.refs}`;
}

function status(text) {
  const s = $("status");
  s.textContent = text;
  s.hidden = !text;
}

// ---- logging in ----------------------------------------------------------

function login() {
  const frame = { type: "login", nickname: state.nick, protocol: 2, ref: "login" };
  if (state.password && !state.register) frame.password = state.password;
  send(frame);
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.nick = $("login-nick").value.trim();
  state.password = $("login-password").value;
  state.register = $("login-register").checked;
  if (!state.nick) {
    $("login-error").textContent = "Pick a nickname first.";
    return;
  }
  if (state.register && state.password.length < 8) {
    $("login-error").textContent = "A password has at least 8 characters.";
    return;
  }
  $("login-error").textContent = "";
  $("login-submit").disabled = true;
  conn.open();
});

function welcome(frame) {
  const restart = state.everLoggedIn;
  if (state.epoch && frame.epoch !== state.epoch) {
    // A new id space: what we hold cannot be matched against it.
    for (const win of state.windows.values()) {
      win.log.replaceChildren();
      win.ids.clear();
      win.msgs.clear();
      win.unreadLine = null;
      win.oldest = win.newest = null;
    }
  }
  state.epoch = frame.epoch;
  state.nick = frame.nickname;
  state.id = frame.id;
  state.loggedIn = true;
  state.everLoggedIn = true;
  conn.settled();
  status("");
  $("me").textContent = state.nick;
  $("me").className = `me ${nickClass(state.nick)}`;
  $("login-view").hidden = true;
  $("chat-view").hidden = false;
  $("login-submit").disabled = false;
  if (state.register && state.password) {
    send({ type: "register", password: state.password, ref: "register" });
    state.register = false;
  }
  // The read markers first, so that they are in before the history.
  send({ type: "read_markers", ref: "markers" });
  const inRooms = new Set((frame.rooms || []).map((r) => r.toLowerCase()));
  for (const room of frame.rooms || []) {
    const win = roomWindow(room);
    resync(win);
    send({ type: "who", room });
    send({ type: "topic", room });
    replay(win);
  }
  for (const win of state.windows.values()) {
    if (win.kind === "room" && !inRooms.has(win.name.toLowerCase())) {
      resync(win);
      const frame = { type: "join", room: win.name };
      if (win.joinKey) frame.key = win.joinKey;
      send(frame);
    } else if (win.kind === "dm") {
      resync(win);
      replay(win);
    }
  }
  if (!restart) send({ type: "conversations", limit: 20 });
  if (!state.current) show(roomKey((frame.rooms || ["lobby"])[0] || "lobby"));
  $("say-input").focus();
}

/** After a reconnect: remember the newest message seen, so the replay can
 *  be paged back until it meets it (no gap). */
function resync(win) {
  win.sinceGap = win.newest;
}

/** Asks for a window's latest history (on login, on opening it). */
function replay(win) {
  win.replaying = true;
  const frame = win.kind === "room" ? { type: "history", room: win.name } : { type: "history", with: win.name };
  frame.limit = PAGE;
  // Its ref names it in an error (a ref holds at most 64 bytes: not the name).
  win.replayRef = nextRef();
  frame.ref = win.replayRef;
  send(frame);
}

// ---- frames from the server ------------------------------------------------

function handle(frame) {
  switch (frame.type) {
    case "welcome": return welcome(frame);
    case "message": return roomMessage(frame);
    case "direct": return directMessage(frame);
    case "presence": return presence(frame);
    case "joined": return joined(frame);
    case "parted": return parted(frame.room);
    case "history_end": return historyEnd(frame);
    case "member_list": return memberList(frame.room, frame.members);
    case "topic": return setTopic(frame.room, frame.topic || "");
    case "renamed": return renamed(frame.nickname);
    case "ack": return acked(frame);
    case "error": return failed(frame);
    case "ping": send({ type: "pong", ref: frame.ref }); return;
    case "read_marker": return readMarker(frame);
    case "read_markers": return readMarkers(frame.markers || []);
    case "conversations":
      for (const c of frame.conversations || []) replay(dmWindow(c.nickname));
      return;
    case "room_list":
      info(`Rooms: ${(frame.rooms || []).map((r) => `${r.name} (${r.members})${r.topic ? ` – ${r.topic}` : ""}`).join(", ")}`);
      return;
    case "whois":
      info(`${frame.nickname}: in ${(frame.rooms || []).join(", ") || "no rooms"}${frame.away ? `; away: ${frame.away}` : ""}${frame.account ? "; registered" : ""}`);
      return;
    case "search_hit":
      info(`found ${frame.room ? `in ${frame.room}` : "in direct messages"}: <${frame.sender_nickname}> ${frame.message}`);
      return;
    case "search_end":
      info(`${frame.count} found for “${frame.text}”.`);
      return;
    case "registered": info("Your nickname is registered: log in with its password from now on."); return;
    case "done": return done(frame);
    case "modes": {
      const target = answered(frame.ref);
      info(`Modes of #${frame.room}: ${[frame.modes, ...(frame.args || [])].join(" ")}`, target);
      return;
    }
    case "mask_list": {
      const target = answered(frame.ref);
      const what = frame.list === "e" ? "ban exceptions" : "bans";
      const entries = frame.entries || [];
      info(`${entries.length} ${what} in #${frame.room}${entries.length ? ":" : "."}`, target);
      for (const e of entries) info(`${e.mask} (by ${e.by}, ${new Date(e.at).toLocaleString()})`, target);
      return;
    }
    case "away": info(`${frame.nickname} is away: ${frame.message}`); return;
    case "bye": status(frame.message || "The server closed the connection."); return;
    default: return;
  }
}

/** The window a moderation request was typed in (forgetting the request). */
function answered(ref) {
  const asked = state.asked.get(ref);
  state.asked.delete(ref);
  return asked ? state.windows.get(asked.key) : undefined;
}

function done(frame) {
  const asked = state.asked.get(frame.ref);
  if (!asked) {
    if (frame.ref) info("Done.");
    return;
  }
  state.asked.delete(frame.ref);
  // A mode change says nothing more: the room's notice said what happened.
  if (asked.text) info(asked.text, state.windows.get(asked.key));
}

function isMention(text) {
  const me = state.nick.toLowerCase();
  return me.length > 0 && text.toLowerCase().includes(me);
}

function roomMessage(frame) {
  const win = roomWindow(frame.room);
  notePage(win, frame);
  addMessage(win, frame, false);
}

function directMessage(frame) {
  const peer = frame.sender_nickname.toLowerCase() === state.nick.toLowerCase()
    ? frame.to_nickname
    : frame.sender_nickname;
  const win = dmWindow(peer);
  notePage(win, frame);
  addMessage(win, frame, true);
}

/** Tracks the oldest message of the history page on its way. */
function notePage(win, frame) {
  if (frame.history && (win.oldestOfPage === null || frame.msg_id < win.oldestOfPage)) {
    win.oldestOfPage = frame.msg_id;
  }
}

/** Adds a message to a window once, in msg_id order. */
function addMessage(win, frame, direct) {
  const id = frame.msg_id;
  if (win.ids.has(id)) return;
  const mine = frame.sender_nickname.toLowerCase() === state.nick.toLowerCase();
  if (mine && adoptPending(win, frame)) return;
  if (state.ignored.has(frame.sender_nickname.toLowerCase())) return;
  win.ids.add(id);
  win.oldest = win.oldest === null ? id : Math.min(win.oldest, id);
  win.newest = win.newest === null ? id : Math.max(win.newest, id);
  const mention = !mine && (direct || isMention(frame.message));
  const node = line({
    ts: frame.ts, nick: frame.sender_nickname, text: frame.message, id,
    kind: frame.action ? "action" : "message", mention: mention && !direct,
  });
  insertSorted(win, node, id);
  const live = !frame.history;
  win.msgs.set(id, { ts: frame.ts, mine, live, mention, node });
  changed(win);
  if (live && mention && document.hidden) notify(win, frame);
}

/** Puts a line where its id belongs (lines without ids stay at the end). */
function insertSorted(win, node, id) {
  const log = win.log;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  let before = null;
  for (let child = log.lastElementChild; child; child = child.previousElementSibling) {
    const other = child.dataset.id;
    if (other === undefined) continue;
    if (Number(other) < id) break;
    before = child;
  }
  if (before) {
    const height = log.scrollHeight;
    log.insertBefore(node, before);
    if (!atBottom) log.scrollTop += log.scrollHeight - height;
  } else {
    log.append(node);
  }
  if (atBottom) log.scrollTop = log.scrollHeight;
}

// ---- read markers and unread counts ---------------------------------------------

/** A window's read-marker target, as `mark_read` names it. */
const target = (win) => (win.kind === "room" ? { room: win.name } : { with: win.name });

/** Something changed in a window (a message came): reads what is on
 *  screen, then counts what is left. */
function changed(win) {
  if (!markSeen(win)) recount(win);
}

/**
 * Counts a window's unread messages from its marker, for the sidebar. The
 * "new messages" line goes before the first of them in a window not shown
 * (and while a window's first history comes in); in the shown window it
 * stays where it was when it was opened, so that one sees where the news
 * started, unless `moveLine` (the window is being opened, or the user read
 * further elsewhere).
 */
function recount(win, moveLine = false) {
  const { count, mention, first } = summarize(win.msgs, state.markers.get(win.key) ?? null);
  win.unread = count;
  win.mention = mention;
  if (moveLine || win.key !== state.current || win.replaying || !win.unreadLine) placeLine(win, first);
  renderSidebar();
}

/** Puts the "new messages" line before message `first` (none: takes it away). */
function placeLine(win, first) {
  const node = first === null ? null : win.msgs.get(first)?.node;
  if (!node || node.parentNode !== win.log) {
    win.unreadLine?.remove();
    win.unreadLine = null;
    return;
  }
  if (!win.unreadLine) win.unreadLine = unreadMarker();
  if (win.unreadLine.nextSibling === node) return;
  const log = win.log;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.insertBefore(win.unreadLine, node);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

/** The time of the newest message on screen (at least partly) or above
 *  it, in a shown window; null when none. */
function shownUpTo(win) {
  const log = win.log;
  const bottom = log.scrollTop + log.clientHeight;
  for (let child = log.lastElementChild; child; child = child.previousElementSibling) {
    const id = child.dataset.id;
    if (id === undefined || child.offsetTop >= bottom) continue;
    const msg = win.msgs.get(Number(id));
    if (msg && Number.isFinite(msg.ts)) return msg.ts;
  }
  return null;
}

/**
 * The user reads the shown window of a visible tab: its marker moves to
 * the newest message on screen (never back), and the server hears of it
 * (at most once a second). Nothing is read while the window's first
 * history is still coming. True when the marker moved (and the window was
 * counted again).
 */
function markSeen(win) {
  if (!win || win.key !== state.current || document.hidden || win.replaying || win.log.hidden) return false;
  const ts = shownUpTo(win);
  const had = state.markers.get(win.key) ?? null;
  if (ts === null || (had !== null && ts <= had)) return false;
  state.markers.set(win.key, ts);
  marks.mark(win.key, target(win), ts);
  recount(win);
  return true;
}

/** A marker from the server: after a join, the answer to our `mark_read`,
 *  or moved by another session of the account. */
function readMarker(frame) {
  let key = null;
  if (typeof frame.room === "string") key = roomKey(frame.room);
  else if (typeof frame.with === "string") key = dmKey(frame.with);
  if (key === null || !Number.isFinite(frame.ts)) return;
  const had = state.markers.get(key) ?? null;
  if (had !== null && frame.ts <= had) return;
  state.markers.set(key, frame.ts);
  // Further than this page has read: read elsewhere, the line moves on.
  const win = state.windows.get(key);
  if (win) recount(win, true);
}

/** Every marker, at login: taken where further than ours; where this page
 *  has read further (a move lost with the connection, or a session without
 *  an account, whose markers ended with it), the server is told. */
function readMarkers(markers) {
  const server = new Map();
  for (const m of markers) {
    readMarker(m);
    const key = typeof m.room === "string" ? roomKey(m.room) : dmKey(String(m.with));
    server.set(key, m.ts);
  }
  for (const [key, ts] of state.markers) {
    const win = state.windows.get(key);
    if (win && !(server.get(key) >= ts)) marks.mark(key, target(win), ts);
  }
  marks.flush();
}

function notify(win, frame) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const title = win.kind === "dm" ? `${frame.sender_nickname} (direct)` : `${frame.sender_nickname} in ${win.name}`;
  const note = new Notification(title, { body: frame.message, tag: win.key });
  note.addEventListener("click", () => {
    window.focus();
    show(win.key);
  });
}

/** Our own message, shown before the server confirms it. */
function addPending(win, text, action) {
  const ref = nextRef();
  const node = line({ ts: Date.now(), nick: state.nick, text, kind: action ? "action" : "message" });
  node.classList.add("pending");
  win.log.append(node);
  win.log.scrollTop = win.log.scrollHeight;
  state.pending.set(ref, { win, node, text });
  return ref;
}

function acked(frame) {
  const pending = state.pending.get(frame.ref);
  if (!pending) return;
  state.pending.delete(frame.ref);
  const { win, node } = pending;
  if (win.ids.has(frame.msg_id)) {
    node.remove();
    return;
  }
  node.classList.remove("pending");
  node.dataset.id = String(frame.msg_id);
  win.ids.add(frame.msg_id);
  win.newest = win.newest === null ? frame.msg_id : Math.max(win.newest, frame.msg_id);
  node.remove();
  insertSorted(win, node, frame.msg_id);
  win.msgs.set(frame.msg_id, { ts: frame.ts, mine: true, live: true, mention: false, node });
  changed(win);
}

/** A replayed message of ours whose ack was lost: it is the pending line. */
function adoptPending(win, frame) {
  for (const [ref, pending] of state.pending) {
    if (pending.win === win && pending.text === frame.message) {
      acked({ ref, msg_id: frame.msg_id, ts: frame.ts });
      return true;
    }
  }
  return false;
}

function failed(frame) {
  // Markers are a comfort: without them (the store failed, too many), the
  // page goes on counting as it can.
  if (frame.ref === "mark" || frame.ref === "markers") return;
  const replaying = [...state.windows.values()].find((w) => w.replaying && w.replayRef === frame.ref);
  if (replaying) {
    replaying.replaying = false;
    recount(replaying);
  }
  if (frame.ref === "login") {
    if (state.everLoggedIn && frame.code === "nickname_taken") {
      // Our old connection has not gone yet: try again shortly.
      status("Reconnecting: waiting for the old connection to end…");
      setTimeout(() => login(), 2000);
      return;
    }
    conn.close();
    $("login-view").hidden = false;
    $("chat-view").hidden = true;
    $("login-submit").disabled = false;
    $("login-error").textContent = frame.message;
    return;
  }
  const pending = state.pending.get(frame.ref);
  if (pending) {
    state.pending.delete(frame.ref);
    pending.node.classList.replace("pending", "failed");
    pending.node.title = frame.message;
  }
  const target = pending ? pending.win : answered(frame.ref);
  const help = hint(frame.code);
  info(`Error: ${frame.message}${help ? `. ${help}` : ""}`, target);
}

/** A room member as the member list shows them. */
const member = (m) => ({
  nickname: m.nickname, operator: Boolean(m.operator), voice: Boolean(m.voice), away: m.away ?? null,
});

function presence(frame) {
  const event = frame.event;
  if (event === "invite") return invited(frame);
  if (event === "away" || event === "back") return awayChanged(frame);
  const mine = frame.user_id === state.id;
  if (event === "leave" && frame.room && mine) {
    // Put out of the room (a kick): its window goes, as after leaving it.
    parted(frame.room);
    info(`You are no longer in #${frame.room}${frame.reason ? ` (${frame.reason})` : ""}. /join ${frame.room} to go back.`);
    return;
  }
  const rooms = frame.room
    ? [roomWindow(frame.room)]
    : [...state.windows.values()].filter((w) => w.kind === "room" && w.members.has(frame.user_id));
  let text = frame.message;
  for (const win of rooms) {
    if (event === "join") win.members.set(frame.user_id, member(frame));
    if (event === "leave") win.members.delete(frame.user_id);
    if (event === "nick" && win.members.has(frame.user_id)) win.members.get(frame.user_id).nickname = frame.nickname;
    if (event === "topic") setTopic(win.name, frame.topic || "");
    if (event === "summary" && frame.summary) {
      for (const u of frame.summary.joined_users || []) win.members.set(u.id, member(u));
      for (const u of frame.summary.left_users || []) win.members.delete(u.id);
    }
    if (event === "mode" && frame.mode) {
      const args = frame.mode.args || [];
      for (const { on, letter, arg } of parseModes(frame.mode.modes, args)) {
        if (letter !== "o" && letter !== "v") continue;
        for (const m of win.members.values()) {
          if (m.nickname.toLowerCase() !== String(arg).toLowerCase()) continue;
          if (letter === "o") m.operator = on;
          else m.voice = on;
        }
      }
      text = describeModes(frame.nickname, frame.mode.modes, args);
    }
    const node = line({ ts: frame.ts, text, kind: "notice" });
    win.log.append(node);
    if (win.key === state.current) win.log.scrollTop = win.log.scrollHeight;
  }
  if (event === "nick") {
    const old = state.windows.get(dmKey(frame.old_nickname || ""));
    if (old) old.name = frame.nickname;
  }
  renderMembers();
  renderSidebar();
}

/**
 * Someone who shares a room went away or came back: the member lists show
 * it; only a conversation with them says so in its log, as IRC clients do.
 */
function awayChanged(frame) {
  const away = frame.event === "away" ? frame.away ?? "" : null;
  for (const win of state.windows.values()) {
    const m = win.kind === "room" ? win.members.get(frame.user_id) : undefined;
    if (m) m.away = away;
  }
  const dm = state.windows.get(dmKey(frame.nickname));
  if (dm) {
    const text = away === null ? `${frame.nickname} is back` : `${frame.nickname} is away${away ? `: ${away}` : ""}`;
    dm.log.append(line({ ts: frame.ts, text, kind: "notice" }));
    if (dm.key === state.current) dm.log.scrollTop = dm.log.scrollHeight;
  }
  renderMembers();
}

/** Someone invites us into a room: say so where we are, with a button to go in. */
function invited(frame) {
  const win = state.windows.get(state.current);
  if (!win) return;
  const node = line({ ts: frame.ts, text: `${frame.nickname} invites you into #${frame.room}. `, kind: "notice" });
  const go = el("button", "inline", `Join #${frame.room}`);
  go.type = "button";
  go.addEventListener("click", () => joinRoom(frame.room));
  node.querySelector(".body").append(go);
  win.log.append(node);
  win.log.scrollTop = win.log.scrollHeight;
}

/** Our own new nickname, everywhere it shows. */
function renamed(nickname) {
  state.nick = nickname;
  $("me").textContent = nickname;
  for (const win of state.windows.values()) {
    const me = win.members.get(state.id);
    if (me) me.nickname = nickname;
  }
  renderMembers();
}

function joined(frame) {
  const win = roomWindow(frame.room);
  const key = state.roomKeys.get(win.key);
  if (key !== undefined) {
    win.joinKey = key;
    state.roomKeys.delete(win.key);
  }
  // Its marker (if any) and its latest history follow.
  win.replaying = true;
  setTopic(frame.room, frame.topic || "");
  memberList(frame.room, frame.members);
  if (!state.current || state.justJoined === roomKey(frame.room)) show(win.key);
}

function parted(room) {
  const win = state.windows.get(roomKey(room));
  if (!win) return;
  win.log.remove();
  state.windows.delete(win.key);
  if (state.current === win.key) {
    state.current = null;
    const next = state.windows.keys().next();
    if (!next.done) show(next.value);
  }
  renderSidebar();
}

function historyEnd(frame) {
  const win = frame.room ? state.windows.get(roomKey(frame.room)) : state.windows.get(dmKey(frame.with || ""));
  if (!win) return;
  win.loading = false;
  win.hasMore = Boolean(frame.has_more);
  // After a reconnect: page back until the replay meets what we had.
  const oldest = win.oldestOfPage;
  win.oldestOfPage = null;
  if (win.sinceGap !== null && win.hasMore && oldest !== null && oldest > win.sinceGap + 1) {
    requestOlder(win, oldest);
    return;
  }
  win.sinceGap = null;
  if (win.replaying) {
    // The first history is in: the line goes before the first unread, and
    // a window being looked at shows it and reads what is on screen.
    win.replaying = false;
    const log = win.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    recount(win, true);
    if (win.key === state.current) {
      if (win.unreadLine && atBottom) log.scrollTop = win.unreadLine.offsetTop - 40;
      markSeen(win);
    }
  }
}

function memberList(room, members) {
  const win = roomWindow(room);
  win.members = new Map((members || []).map((m) => [m.id, member(m)]));
  renderMembers();
}

function setTopic(room, topic) {
  const win = roomWindow(room);
  win.topic = topic;
  if (win.key === state.current) $("window-topic").textContent = topic;
}

/** A line from the client itself (command output, errors). */
function info(text, win) {
  const target = win || state.windows.get(state.current);
  if (!target) return;
  target.log.append(line({ ts: Date.now(), text, kind: "info" }));
  target.log.scrollTop = target.log.scrollHeight;
}

// ---- older history ------------------------------------------------------------

function requestOlder(win, before) {
  win.loading = true;
  const frame = win.kind === "room" ? { type: "history", room: win.name } : { type: "history", with: win.name };
  frame.limit = PAGE;
  if (before !== null) frame.before = before;
  send(frame);
}

function loadOlder(win) {
  if (!win || win.loading || !win.hasMore || win.oldest === null || !state.loggedIn) return;
  requestOlder(win, win.oldest);
}


// ---- showing windows ------------------------------------------------------------

function show(key) {
  const win = state.windows.get(key);
  if (!win) return;
  const previous = state.windows.get(state.current);
  state.current = key;
  if (previous && previous !== win) {
    // Left: what was read there goes now; its line follows its marker.
    marks.flush();
    recount(previous);
  }
  for (const w of state.windows.values()) w.log.hidden = w !== win;
  $("window-name").textContent = win.kind === "room" ? `#${win.name}` : win.name;
  $("window-topic").textContent = win.kind === "room" ? win.topic : "direct messages";
  // Opened where the unread messages start (by the marker), and what is on
  // screen is read.
  recount(win, true);
  win.log.scrollTop = win.unreadLine ? win.unreadLine.offsetTop - 40 : win.log.scrollHeight;
  markSeen(win);
  renderSidebar();
  renderMembers();
  closeDrawer();
}

function renderSidebar() {
  const rooms = $("room-list");
  const dms = $("dm-list");
  rooms.replaceChildren();
  dms.replaceChildren();
  const sorted = [...state.windows.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const win of sorted) {
    const item = el("li");
    const button = el("button", "window-button");
    button.type = "button";
    button.append(el("span", "name", win.kind === "room" ? `#${win.name}` : win.name));
    if (win.unread > 0) {
      const badge = el("span", win.mention ? "badge mention" : "badge", String(win.unread));
      badge.setAttribute("aria-label", `${win.unread} unread${win.mention ? ", mentions you" : ""}`);
      button.append(badge);
    }
    if (win.key === state.current) button.setAttribute("aria-current", "page");
    button.addEventListener("click", () => show(win.key));
    item.append(button);
    (win.kind === "room" ? rooms : dms).append(item);
  }
  const unread = [...state.windows.values()].reduce((n, w) => n + w.unread, 0);
  document.title = unread > 0 ? `(${unread}) chatroom` : "chatroom";
}

function renderMembers() {
  const list = $("member-list");
  list.replaceChildren();
  const win = state.windows.get(state.current);
  if (!win || win.kind !== "room") return;
  // Operators first, then voiced members, as IRC clients show them.
  const members = [...win.members.values()].sort(
    (a, b) => rankOrder(a) - rankOrder(b) || a.nickname.localeCompare(b.nickname),
  );
  $("members-heading").textContent = `Members (${members.length})`;
  for (const m of members) {
    const nick = m.nickname;
    const item = el("li");
    const mark = prefix(m);
    const rank = el("span", `rank${m.operator ? " op" : m.voice ? " voice" : ""}`, mark);
    rank.setAttribute("aria-hidden", "true");
    if (mark) rank.title = m.operator ? "operator" : "voice";
    const button = el("button", nickClass(nick), nick);
    button.type = "button";
    button.title = m.away === null ? `Message ${nick}` : `Message ${nick} (away${m.away ? `: ${m.away}` : ""})`;
    button.addEventListener("click", () => openDm(nick));
    if (m.away !== null) item.classList.add("away");
    item.append(rank, button);
    if (mark) item.append(el("span", "visually-hidden", m.operator ? " (operator)" : " (voice)"));
    if (m.away !== null) item.append(el("span", "visually-hidden", " (away)"));
    list.append(item);
  }
}

function openDm(nick) {
  const win = dmWindow(nick);
  if (win.oldest === null && !win.replaying) replay(win);
  show(win.key);
}

function joinRoom(room, roomPassword) {
  const name = room.replace(/^#/, "");
  const key = roomKey(name);
  if (state.windows.has(key)) {
    show(key);
    return;
  }
  state.justJoined = key;
  const frame = { type: "join", room: name };
  if (roomPassword) {
    frame.key = roomPassword;
    state.roomKeys.set(key, roomPassword);
  }
  send(frame);
}

// ---- input ------------------------------------------------------------------------

/** What commands may do: the client's own actions. */
const client = {
  get nick() { return state.nick; },
  current: () => state.windows.get(state.current),
  send,
  info,
  joinRoom,
  openDm,
  say,
  part(room) { send({ type: "part", room }); },
  /** Sends a moderation request; its answers go to the window shown now,
   *  and `doneText` (if any) is said once it is done. */
  moderate(frame, doneText) {
    const ref = nextRef();
    state.asked.set(ref, { key: state.current, text: doneText || "" });
    if (!send({ ...frame, ref })) {
      state.asked.delete(ref);
      info("Not connected.");
    }
  },
  closeWindow(win) {
    if (win.kind === "room") {
      send({ type: "part", room: win.name });
    } else {
      win.log.remove();
      state.windows.delete(win.key);
      state.current = null;
      const next = state.windows.keys().next();
      if (!next.done) show(next.value);
      renderSidebar();
    }
  },
  showIndex(n) {
    const key = [...state.windows.keys()][n - 1];
    if (key) show(key);
  },
  clear(win) {
    win.log.replaceChildren();
    win.unreadLine = null;
    win.msgs.clear();
    recount(win);
  },
  ignore(nick) {
    if (nick) state.ignored.add(nick.toLowerCase());
    localStorage.setItem("chatroom.ignored", JSON.stringify([...state.ignored]));
    return [...state.ignored];
  },
  unignore(nick) {
    state.ignored.delete(nick.toLowerCase());
    localStorage.setItem("chatroom.ignored", JSON.stringify([...state.ignored]));
  },
  loadOlder: (win, limit) => {
    win.loading = true;
    const frame = win.kind === "room" ? { type: "history", room: win.name } : { type: "history", with: win.name };
    frame.limit = limit;
    if (win.oldest !== null) frame.before = win.oldest;
    send(frame);
  },
  quit: logout,
};

/** Says `text` (or does it, for /me) where the user is talking. */
function say(win, text, action) {
  if (!win) return;
  const ref = addPending(win, text, action);
  const frame = win.kind === "room"
    ? { type: "broadcast", room: win.name, message: text, ref }
    : { type: "direct", to: win.name, message: text, ref };
  if (action) frame.action = true;
  if (!send(frame)) {
    const pending = state.pending.get(ref);
    state.pending.delete(ref);
    pending.node.classList.replace("pending", "failed");
    pending.node.title = "not connected";
  }
}

function submit() {
  const input = $("say-input");
  const text = input.value;
  input.value = "";
  autosize();
  const win = state.windows.get(state.current);
  for (const part of text.split("\n")) {
    if (!part.trim()) continue;
    if (part.startsWith("/") && !part.startsWith("//")) {
      runCommand(part, client);
    } else {
      say(win, part.startsWith("//") ? part.slice(1) : part, false);
    }
  }
}

function autosize() {
  const input = $("say-input");
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

$("say-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submit();
});
$("say-input").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});
$("say-input").addEventListener("input", autosize);

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("join-room").value.trim();
  if (room) joinRoom(room);
  $("join-room").value = "";
});
$("dm-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const nick = $("dm-nick").value.trim();
  if (nick) openDm(nick);
  $("dm-nick").value = "";
});

function logout() {
  marks.flush();
  send({ type: "logout" });
  conn.close();
  marks.clear();
  state.markers.clear();
  for (const win of state.windows.values()) win.log.remove();
  state.windows.clear();
  state.current = null;
  state.everLoggedIn = false;
  state.loggedIn = false;
  state.epoch = null;
  $("chat-view").hidden = true;
  $("login-view").hidden = false;
  $("login-nick").focus();
}
$("logout-button").addEventListener("click", logout);

// ---- notifications, drawer, keys ---------------------------------------------------

function updateNotifyButton() {
  const button = $("notify-button");
  button.hidden = !("Notification" in window) || Notification.permission !== "default";
}
$("notify-button").addEventListener("click", async () => {
  await Notification.requestPermission();
  updateNotifyButton();
});
updateNotifyButton();

function openDrawer() {
  document.body.classList.add("drawer-open");
  $("drawer-open").setAttribute("aria-expanded", "true");
  $("scrim").hidden = false;
  $("room-list").querySelector("button")?.focus();
}
function closeDrawer() {
  if (!document.body.classList.contains("drawer-open")) return;
  document.body.classList.remove("drawer-open");
  $("drawer-open").setAttribute("aria-expanded", "false");
  $("scrim").hidden = true;
}
$("drawer-open").addEventListener("click", openDrawer);
$("drawer-close").addEventListener("click", closeDrawer);
$("scrim").addEventListener("click", closeDrawer);
const narrow = window.matchMedia("(max-width: 700px)");
$("members-toggle").addEventListener("click", () => {
  const shown = narrow.matches
    ? document.body.classList.toggle("members-shown")
    : !document.body.classList.toggle("members-hidden");
  $("members-toggle").setAttribute("aria-expanded", String(shown));
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeDrawer();
  // Alt+Up / Alt+Down: the previous or next window.
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    const keys = [...state.windows.keys()];
    const at = keys.indexOf(state.current);
    const next = keys[(at + (event.key === "ArrowUp" ? keys.length - 1 : 1)) % keys.length];
    if (next) show(next);
    event.preventDefault();
  }
});

// Back to the tab: what is on screen is read. Leaving it (or the page):
// what was read goes now rather than in a second.
document.addEventListener("visibilitychange", () => {
  if (document.hidden) marks.flush();
  else markSeen(state.windows.get(state.current));
});
window.addEventListener("pagehide", () => marks.flush());

window.addEventListener("online", () => conn.retryNow());
