// Room moderation as people read it, as the terminal client says it
// (crates/client/src/moderation.rs): a mode change in words, a member's
// prefix and place in the member list, what to do about a refusal.
// Everything returned is plain text, for textContent.

/** Mode letters that take an argument when set (`+`) and when cleared (`-`). */
const WITH_ARGUMENT = { "+": "klovbe", "-": "kovbe" };

/** Names of the room's on/off modes. */
const FLAGS = {
  t: "topic lock",
  n: "no outside messages",
  m: "moderated",
  i: "invite-only",
  s: "secret",
};

/** A mode string and its arguments as changes: `{ on, letter, arg }`. */
export function parseModes(modes, args) {
  const changes = [];
  let on = true;
  let next = 0;
  for (const letter of modes) {
    if (letter === "+" || letter === "-") {
      on = letter === "+";
      continue;
    }
    const takes = WITH_ARGUMENT[on ? "+" : "-"].includes(letter);
    const arg = takes && next < args.length ? args[next++] : null;
    changes.push({ on, letter, arg });
  }
  return changes;
}

/** One change by `by` in words. */
function phrase(by, { on, letter, arg }) {
  switch (letter) {
    case "o": return on ? `${by} gives operator status to ${arg}` : `${by} takes operator status from ${arg}`;
    case "v": return on ? `${by} gives voice to ${arg}` : `${by} takes voice from ${arg}`;
    case "k": return on ? `${by} sets the room's key to ${arg}` : `${by} removes the room's key`;
    case "l": return on ? `${by} limits the room to ${arg} members` : `${by} removes the member limit`;
    case "b": return on ? `${by} bans ${arg}` : `${by} lifts the ban on ${arg}`;
    case "e": return on ? `${by} exempts ${arg} from the bans` : `${by} removes the ban exception for ${arg}`;
    default:
      if (!FLAGS[letter]) return null;
      return `${by} sets ${on ? "+" : "-"}${letter} (${FLAGS[letter]}${on ? "" : " off"})`;
  }
}

/** What a mode change by `by` did, one phrase per change. */
export function describeModes(by, modes, args) {
  const phrases = parseModes(modes, args).map((c) => phrase(by, c));
  if (phrases.length === 0 || phrases.includes(null)) {
    return `${by} sets mode ${[modes, ...args].join(" ")}`;
  }
  return phrases.join("; ");
}

/** `@` for an operator, `+` for voice, "" otherwise. */
export function prefix(member) {
  if (member.operator) return "@";
  return member.voice ? "+" : "";
}

/** Where a member sorts: operators, then voiced members, then the others. */
export function rankOrder(member) {
  if (member.operator) return 0;
  return member.voice ? 1 : 2;
}

/** What the user can do about a refusal, by its code. */
const HINTS = {
  bad_room_key: "The room has a key: /join ROOM KEY.",
  room_full: "The room has as many members as its limit allows.",
  banned_from_room: "One of the room's operators can still /invite you.",
  not_room_operator: "Only the room's operators (marked @ in its member list) may do that.",
  list_full: "Lift an old ban (/unban MASK) to make room.",
};

/** The hint for an error code, or "". */
export function hint(code) {
  return HINTS[code] || "";
}
