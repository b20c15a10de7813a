// The connection to the server: the JSON protocol over WebSocket at /ws,
// one frame per text message, and reconnection with backoff when the
// connection drops (the server restarted, the network went away).

/** Longest wait between reconnection attempts, in milliseconds. */
const MAX_BACKOFF = 15000;

/** The WebSocket address of this page's server. */
export function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/**
 * A connection that comes back by itself. `onOpen` runs on every (re)open
 * (the caller logs in again), `onFrame` for every frame, `onDown(delayMs)`
 * when the connection is lost and the next attempt is scheduled.
 */
export class Connection {
  constructor({ onOpen, onFrame, onDown }) {
    this.onOpen = onOpen;
    this.onFrame = onFrame;
    this.onDown = onDown;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.wanted = false;
  }

  /** Connects (and keeps reconnecting until `close`). */
  open() {
    this.wanted = true;
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    const socket = new WebSocket(socketUrl());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.onOpen();
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame === "object") this.onFrame(frame);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.wanted) return;
      const delay = Math.min(MAX_BACKOFF, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      this.onDown(Math.round(delay));
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  /** The login succeeded: the next drop starts the backoff afresh. */
  settled() {
    this.attempt = 0;
  }

  /** Tries again now instead of waiting out the backoff. */
  retryNow() {
    if (this.wanted && !this.socket) this.connect();
  }

  /** Sends one frame; false when not connected. */
  send(frame) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Closes for good (no reconnection). */
  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }
}
