// Signaling client: one WebSocket to the gateway's /ws, per docs/signaling.md.
// It signs in, reconnects with backoff when the socket drops, matches replies
// to requests by `id`, and reports its connection state as events.

/** Close code the gateway uses for a bad token (docs/signaling.md, "Sign-in"). */
export const CLOSE_INVALID_TOKEN = 4001;

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const REQUEST_TIMEOUT_MS = 10000;
// The gateway pings at the WebSocket level, which scripts cannot see. An
// application-level ping lets the tab notice a dead socket itself (a laptop
// waking up, a Wi-Fi switch) instead of waiting for TCP to give up.
const PING_EVERY_MS = 15000;
const DEAD_AFTER_MS = 35000;

/**
 * Connection states, reported in the "state" event:
 *   offline     - not started, or stopped (signed out / token rejected)
 *   connecting  - opening the socket
 *   signing_in  - socket open, `auth` sent, waiting for `welcome`
 *   online      - `welcome` received
 *   retrying    - the socket dropped; detail.retryAt says when it reconnects
 */
export class SignalingClient extends EventTarget {
  /** @param {string} url ws:// or wss:// URL of the gateway's /ws */
  constructor(url) {
    super();
    this.url = url;
    this.state = 'offline';
    this.token = null;
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = 0;
    this.livenessTimer = 0;
    this.lastReceived = 0;
    this.nextId = 1;
    /** @type {Map<string, {resolve: Function, reject: Function, match?: Function, timer: number}>} */
    this.pending = new Map();
  }

  /** Starts (or restarts) the connection, signing in with token. */
  start(token) {
    this.stop();
    this.token = token;
    this.connect();
  }

  /** Closes the socket for good: no reconnect until start is called again. */
  stop() {
    this.token = null;
    clearTimeout(this.retryTimer);
    this.dropSocket(1000, 'signed out');
    this.setState('offline');
  }

  /** Reconnects now instead of waiting for the backoff timer. */
  retryNow() {
    if (this.state === 'retrying' && this.token) {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  }

  /**
   * Sends one message. Returns false when the socket is not signed in (or,
   * for `auth`, not open), so the caller can tell the user.
   */
  send(msg) {
    const ws = this.ws;
    const ready = msg.type === 'auth' ? this.state === 'signing_in' : this.state === 'online';
    if (!ws || ws.readyState !== WebSocket.OPEN || !ready) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Sends msg with a fresh `id` and resolves with the reply the server echoes
   * that id on (`ok` or the typed reply), or with the first message that
   * options.match accepts (for typed replies that carry a call_id instead).
   * Rejects with an Error whose `code` is the server's error code, or
   * "disconnected" / "timeout".
   */
  request(msg, { match, timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
    const id = `r${this.nextId++}`;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...msg, id })) {
        reject(codedError('disconnected', 'Not connected to the gateway.'));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(codedError('timeout', 'The gateway did not answer in time.'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, match, timer });
    });
  }

  // --- internals ---

  connect() {
    this.setState('connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.lastReceived = Date.now();
      this.setState('signing_in');
      // The first message must be `auth`, within 10 s of the upgrade.
      this.send({ type: 'auth', token: this.token });
      this.startLiveness();
    };
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => this.closed(ev.code, ev.reason);
    // An error is always followed by close; nothing to do here.
    ws.onerror = () => {};
  }

  receive(data) {
    this.lastReceived = Date.now();
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg.type !== 'string') return;
    if (msg.type === 'welcome') {
      this.attempt = 0;
      this.setState('online');
    }
    // A reply that settles a request belongs to whoever made it.
    if (this.settle(msg) || msg.type === 'pong') return;
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
  }

  /** Resolves or rejects the pending request msg answers; reports whether there was one. */
  settle(msg) {
    let id = typeof msg.id === 'string' && this.pending.has(msg.id) ? msg.id : null;
    if (!id && msg.type !== 'error') {
      for (const [pid, p] of this.pending) {
        if (p.match && p.match(msg)) {
          id = pid;
          break;
        }
      }
    }
    if (!id) return false;
    const p = this.pending.get(id);
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (msg.type === 'error') {
      p.reject(codedError(msg.code || 'error', msg.message || 'The request failed.'));
    } else {
      p.resolve(msg);
    }
    return true;
  }

  closed(code, reason) {
    this.dropSocket();
    if (code === CLOSE_INVALID_TOKEN) {
      // A rejected token will not get better by retrying.
      this.token = null;
      this.setState('offline');
      this.dispatchEvent(new CustomEvent('rejected', { detail: { code, reason: reason || 'invalid token' } }));
      return;
    }
    if (this.token) this.scheduleRetry();
    else this.setState('offline');
  }

  scheduleRetry() {
    // Exponential backoff with jitter, so a gateway restart is not met by
    // every tab of the team reconnecting in the same millisecond.
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.token) this.connect();
    }, delay);
    this.setState('retrying', { retryAt: Date.now() + delay });
  }

  startLiveness() {
    clearInterval(this.livenessTimer);
    this.livenessTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - this.lastReceived > DEAD_AFTER_MS) {
        // The close handshake cannot complete on a dead link; treat the
        // socket as gone now rather than when the browser times it out.
        this.closed(1006, 'no reply');
        return;
      }
      this.send({ type: 'ping' });
    }, PING_EVERY_MS);
  }

  /** Detaches and closes the current socket and fails pending requests. */
  dropSocket(code, reason) {
    clearInterval(this.livenessTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        try {
          ws.close(code, reason);
        } catch {
          ws.close();
        }
      }
    }
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(codedError('disconnected', 'The connection to the gateway dropped.'));
      this.pending.delete(id);
    }
  }

  setState(state, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...extra } }));
  }
}

function codedError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

/** The /ws URL on the page's own host, wss:// when the page is HTTPS. */
export function defaultSocketURL(loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws`;
}
