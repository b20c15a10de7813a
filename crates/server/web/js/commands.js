// The slash commands: the terminal client's (crates/client/src/command.rs),
// with the same names, aliases and arguments.

/** Every command: name, aliases, arguments, what it does. */
const COMMANDS = [
  ["join", ["j"], "ROOM [KEY]", "join ROOM (KEY: the room's key, if it has one), or switch to it"],
  ["part", ["leave"], "[ROOM]", "leave ROOM (default: this room)"],
  ["close", ["wc"], "", "close this window (leaves the room)"],
  ["query", ["q"], "NICK [TEXT]", "talk to NICK in direct messages from now on (and say TEXT)"],
  ["msg", [], "NICK TEXT", "send NICK a direct message"],
  ["me", [], "TEXT", "an action: * you TEXT"],
  ["nick", [], "NAME", "change your nickname"],
  ["register", [], "PASSWORD", "register your nickname (8+ characters)"],
  ["topic", [], "[TEXT]", "show or set this room's topic"],
  ["mode", [], "[ROOM] [MODES [ARGS]]", "show a room's modes, or change them (+o NICK, +m, +k KEY, +b MASK...)"],
  ["op", [], "NICK", "make NICK an operator of this room"],
  ["deop", [], "NICK", "take NICK's operator status in this room"],
  ["voice", [], "NICK", "let NICK speak in this room when it is moderated (+m)"],
  ["devoice", [], "NICK", "take NICK's voice in this room"],
  ["kick", [], "NICK [REASON]", "put NICK out of this room (they may join again)"],
  ["ban", [], "[MASK]", "ban MASK (nick!user@host, or a nickname) from this room; no MASK: list its bans"],
  ["unban", [], "MASK", "lift a ban of this room"],
  ["invite", [], "NICK [ROOM]", "invite NICK into ROOM (default: this room), past +i, +k and bans"],
  ["who", ["names"], "[ROOM]", "list a room's members"],
  ["rooms", ["list"], "", "list the rooms on the server"],
  ["history", [], "[N]", "show N (default 50, at most 500) older messages here"],
  ["search", ["find"], "TEXT", "search this room's or these direct messages' history"],
  ["whois", ["wi"], "NICK", "what the server shows about NICK"],
  ["away", [], "[MESSAGE]", "mark yourself away (others see MESSAGE), or back without one"],
  ["ignore", [], "[NICK]", "hide NICK's messages (no NICK: list who is hidden)"],
  ["unignore", [], "NICK", "show NICK's messages again"],
  ["clear", [], "", "clear this window (the server keeps its history)"],
  ["win", ["window"], "N", "switch to window N"],
  ["help", ["?"], "", "show this help"],
  ["quit", ["exit"], "", "log out"],
];

function lookup(name) {
  return COMMANDS.find(([n, aliases]) => n === name || aliases.includes(name));
}

/** The first word and the rest. */
function split(text) {
  const trimmed = text.trim();
  const at = trimmed.search(/\s/);
  return at < 0 ? [trimmed, ""] : [trimmed.slice(0, at), trimmed.slice(at).trim()];
}

/** A room as typed: `#room` is understood (room names never hold `#`). */
const roomName = (typed) => typed.replace(/^#/, "");

/** `/mode [ROOM] [MODES [ARGS]]`: a first word starting with + or - is the
 *  mode string (of `room`), any other is the room. */
function modeFrame(words, room) {
  const frame = { type: "mode", room };
  let rest = words;
  if (rest.length && !/^[+-]/.test(rest[0])) {
    frame.room = roomName(rest[0]);
    rest = rest.slice(1);
  }
  if (rest.length) {
    frame.modes = rest[0];
    frame.args = rest.slice(1);
  }
  return frame;
}

/** Runs one typed `/command args` through the client's actions. */
export function runCommand(typed, client) {
  const [word, arg] = split(typed.slice(1));
  const spec = lookup(word.toLowerCase());
  if (!spec) {
    client.info(`Unknown command /${word}; /help lists them.`);
    return;
  }
  const [name, , args] = spec;
  const usage = () => client.info(`usage: /${name} ${args}`);
  const [first, rest] = split(arg);
  const words = arg ? arg.split(/\s+/) : [];
  const win = client.current();
  const room = win && win.kind === "room" ? win.name : null;
  const inRoom = (frame, done) => {
    if (!frame.room) return client.info(`This is not a room: use /${name} in a room's window.`);
    return client.moderate(frame, done);
  };
  const mode = (modes, args) => inRoom({ type: "mode", room, modes, args });
  switch (name) {
    case "join":
      if (words.length < 1 || words.length > 2) return usage();
      return client.joinRoom(roomName(words[0]), words[1]);
    case "part": return first || room ? client.part((first || room).replace(/^#/, "")) : usage();
    case "close": return win ? client.closeWindow(win) : undefined;
    case "query":
      if (!first) return usage();
      client.openDm(first);
      if (rest) client.say(client.current(), rest, false);
      return;
    case "msg":
      if (!first || !rest) return usage();
      client.openDm(first);
      return client.say(client.current(), rest, false);
    case "me": return arg ? client.say(win, arg, true) : usage();
    case "nick": return first ? client.send({ type: "nick", nickname: first }) : usage();
    case "register": return first ? client.send({ type: "register", password: first }) : usage();
    case "topic":
      if (!room) return client.info("Topics belong to rooms.");
      return client.send(arg ? { type: "topic", room, topic: arg } : { type: "topic", room });
    case "mode": return inRoom(modeFrame(words, room));
    case "op": case "deop": case "voice": case "devoice":
      if (words.length !== 1) return usage();
      return mode({ op: "+o", deop: "-o", voice: "+v", devoice: "-v" }[name], words);
    case "ban":
      if (words.length > 1) return usage();
      return words.length ? mode("+b", words) : mode("b", []);
    case "unban": return words.length === 1 ? mode("-b", words) : usage();
    case "kick": {
      if (!first) return usage();
      const frame = { type: "kick", room, nickname: first };
      if (rest) frame.reason = rest;
      return inRoom(frame);
    }
    case "invite": {
      if (words.length < 1 || words.length > 2) return usage();
      const target = words[1] ? roomName(words[1]) : room;
      return inRoom({ type: "invite", room: target, nickname: first }, `${first} is invited into #${target}.`);
    }
    case "who": return first || room ? client.send({ type: "who", room: (first || room).replace(/^#/, "") }) : usage();
    case "rooms": return client.send({ type: "rooms" });
    case "history": {
      const n = first ? Number(first) : 50;
      if (!Number.isInteger(n) || n < 1 || n > 500) return client.info("usage: /history [N], N from 1 to 500");
      return win ? client.loadOlder(win, n) : undefined;
    }
    case "search": {
      if (!arg) return usage();
      const frame = { type: "search", text: arg };
      if (room) frame.room = room;
      else if (win) frame.with = win.name;
      return client.send(frame);
    }
    case "whois": return first ? client.send({ type: "whois", nickname: first }) : usage();
    case "away": return client.send(arg ? { type: "away", message: arg, ref: "away" } : { type: "away", ref: "away" });
    case "ignore": {
      const list = client.ignore(first);
      return client.info(first ? `Hiding ${first}'s messages.` : `Hidden: ${list.join(", ") || "nobody"}`);
    }
    case "unignore":
      if (!first) return usage();
      client.unignore(first);
      return client.info(`Showing ${first}'s messages again.`);
    case "clear": return win ? client.clear(win) : undefined;
    case "win": {
      const n = Number(first);
      return Number.isInteger(n) && n > 0 ? client.showIndex(n) : usage();
    }
    case "help":
      client.info("Commands:");
      for (const [n, aliases, a, about] of COMMANDS) {
        const also = aliases.length ? ` (also /${aliases.join(", /")})` : "";
        client.info(`/${n} ${a} – ${about}${also}`);
      }
      client.info("Keys: Enter sends, Shift+Enter starts a new line, Alt+Up/Down switches windows, Esc closes the room list.");
      return;
    case "quit": return client.quit();
    default: return usage();
  }
}
