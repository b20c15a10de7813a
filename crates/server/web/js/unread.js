// What is unread, from read markers (docs/protocol.md, "Read markers"):
// a window's marker is the time (ms, the server's clock) of the last
// message its user has read, shared by every session of an account. A
// message is unread when someone else wrote it after the marker. With no
// marker known for a window (a room never read), only messages that came
// in live while this page was open count, as before there were markers:
// the history a window opens with is not news.
//
// Pure functions, so that they can be checked on their own.

/**
 * Whether one message counts as unread. `msg` is `{ ts, mine, live }`;
 * `readTs` the window's marker, or null when it has none.
 */
export function isUnread(msg, readTs) {
  if (msg.mine) return false;
  return readTs === null || readTs === undefined ? Boolean(msg.live) : msg.ts > readTs;
}

/**
 * A window's unread messages: how many, whether one mentions the user,
 * and the id of the first (where the unread line goes; null when none).
 * `msgs` maps message ids to `{ ts, mine, live, mention }`.
 */
export function summarize(msgs, readTs) {
  let count = 0;
  let mention = false;
  let first = null;
  for (const [id, msg] of msgs) {
    if (!isUnread(msg, readTs)) continue;
    count += 1;
    mention ||= Boolean(msg.mention);
    if (first === null || id < first) first = id;
  }
  return { count, mention, first };
}

/**
 * Sends marker moves at most once per `interval` ms: `mark(key, target,
 * ts)` queues one (the latest time per key wins, never an older one), the
 * first after a quiet spell goes at once, and `flush()` sends what waits
 * now (on leaving a window, hiding the tab, reconnecting). `send(target,
 * ts)` returns false when it could not send; that move waits for the next
 * flush.
 */
export class MarkQueue {
  constructor(send, interval = 1000, clock = () => Date.now()) {
    this.sendOne = send;
    this.interval = interval;
    this.clock = clock;
    this.waiting = new Map();
    this.last = -Infinity;
    this.timer = null;
  }

  mark(key, target, ts) {
    const queued = this.waiting.get(key);
    if (queued && queued.ts >= ts) return;
    this.waiting.set(key, { target, ts });
    const wait = this.last + this.interval - this.clock();
    if (wait <= 0) {
      this.flush();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), wait);
    }
  }

  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.waiting.size === 0) return;
    this.last = this.clock();
    for (const [key, { target, ts }] of this.waiting) {
      if (this.sendOne(target, ts)) this.waiting.delete(key);
    }
  }

  /** Forgets what waits (logging out). */
  clear() {
    clearTimeout(this.timer);
    this.timer = null;
    this.waiting.clear();
  }
}
