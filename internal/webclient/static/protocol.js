// Chateau protocol client: one WebSocket at /ws, registration (with `since`,
// to resume where the last connection ended), answers matched to requests by
// messageID, message requests retried under the same messageID after a
// reconnect, sends paced under the server's rate limit, and reconnecting
// with backoff. It knows frames, not the page: app.js gives it hooks.
'use strict';

export const ZERO_ID = '00000000000000000000000000'; // below every message id

// Random rather than a counter: the server remembers each user's recent
// messageIDs across sessions and restarts and answers a reused one with the
// old message, so a new page must never repeat an earlier page's IDs.
export function newMessageID() {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return 'w' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export const TOO_LONG = 'That message is too long (16 KiB at most).';

// describe turns an error frame into a sentence for a person.
export function describe(f) {
  const reason = f.reason ? f.reason[0].toUpperCase() + f.reason.slice(1) + '.' : '';
  const change = f.request === 'EditMessageRequest' || f.request === 'DeleteMessageRequest';
  switch (f.status) {
    case 301: return 'Not signed in yet. Reconnecting…';
    case 302: return f.request === 'RegisterRequest' ? 'That name is already online.' : 'A chat with that name already exists.';
    case 401: return f.request === 'ChangePasswordRequest' ? 'That is not your current password.' : 'Wrong username or password.';
    case 403: return change ? 'You can only change your own messages.' : 'You are not a member of that chat.';
    case 404:
      if (f.request === 'RandomMessageRequest') return 'Nobody else is online right now.';
      return change ? 'That message is gone.' : reason || 'Not found.';
    case 413: return TOO_LONG;
    case 429: return f.retry_after ? 'Too many tries. Wait ' + f.retry_after + ' s and try again.' : 'Slow down: too many requests at once.';
    case 500: return 'The server could not save that. Try again.';
    default: return reason || 'Something went wrong (status ' + f.status + ').';
  }
}

// Client is the connection of one signed-in user. Its hooks:
//   state(s)        connecting | online | reconnecting | replaced | offline
//   since(id)       the resume point moved to id (store it)
//   registered(first)  a registration succeeded (the first since start?)
//   refused(text, first)  registration refused for good, or the first
//                   connection failed: the client has stopped
//   frame(f)        deliveries and the other pushes, ReplayComplete,
//                   SessionReplaced, and errors that answer no pending
//                   request
export class Client {
  constructor(hooks) {
    this.hooks = hooks;
    this.ws = null;
    this.state = 'offline';
    this.registered = false;
    this.pending = new Map(); // messageID → {frame, cb, durable}, in the order sent
    this.queue = []; // frames waiting for a rate token
    this.tokens = 30;
    this.refilled = performance.now();
    this.timers = {};
    // The network came back: no need to wait for the backoff.
    window.addEventListener('online', () => { if (this.state === 'reconnecting' && !this.ws) this.connect(); });
    // A page kept in the back/forward cache would keep its socket, and with
    // it the name, online: a new page for the same name would get 302. So the
    // socket closes when the page is hidden, and opens again if it comes back.
    window.addEventListener('pagehide', () => {
      if (!this.ws) return;
      const ws = this.ws;
      this.drop();
      ws.close(1000);
      clearTimeout(this.timers.retry);
    });
    window.addEventListener('pageshow', (e) => {
      if (e.persisted && this.sessions && !this.ws && this.state !== 'replaced' && this.state !== 'offline') this.connect();
    });
  }

  // start signs in as username; since is the stored resume point, or null.
  start(username, password, since) {
    Object.assign(this, { username, password, since, sessions: 0, attempt: 0 });
    this.connect();
  }

  // stop ends the session: nothing is retried.
  stop() {
    this.setState('offline');
    clearTimeout(this.timers.retry);
    if (this.ws) { const ws = this.ws; this.drop(); ws.close(1000); }
    this.pending.clear();
  }

  setState(s) { this.state = s; this.hooks.state(s); }

  connect() {
    clearTimeout(this.timers.retry);
    this.setState(this.sessions ? 'reconnecting' : 'connecting');
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    this.ws = ws;
    ws.onopen = () => { if (ws === this.ws) this.register(); };
    ws.onmessage = (e) => {
      if (ws !== this.ws) return;
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      this.onFrame(f);
    };
    ws.onclose = (e) => { if (ws === this.ws) this.onClosed(e.code); };
  }

  register() {
    const f = { type: 'RegisterRequest', username: this.username, messageID: newMessageID() };
    if (this.password) f.password = this.password;
    // The first sign-in without a stored resume point replays nothing
    // (history pages cover the past). After that, resume from the newest id
    // seen, or from the very beginning if none was seen: nothing is skipped.
    const since = this.since || (this.sessions ? ZERO_ID : null);
    if (since) f.since = since;
    this.replaying = !!since; // until ReplayComplete
    this.regID = f.messageID;
    this.ws.send(JSON.stringify(f));
  }

  // drop forgets the connection; answers that will not come are given up.
  drop() {
    this.ws = null;
    this.registered = false;
    this.queue = [];
    for (const [id, p] of this.pending) {
      if (!p.durable) { this.pending.delete(id); p.cb(null); }
    }
  }

  onClosed(code) {
    this.drop();
    if (this.state === 'replaced' || this.state === 'offline') return;
    if (!this.sessions) return this.refuse(code === 1006 ? 'Cannot reach the server. Try again.' : 'The connection closed. Try again.', true);
    // Exponential backoff with jitter, so that a restarted server is not hit
    // by every client at once; the first try comes within half a second.
    const delay = Math.min(30000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt++;
    this.setState('reconnecting');
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  refuse(text, first) {
    this.stop();
    this.hooks.refused(text, first);
  }

  // request sends frame with a fresh messageID (or its own, for a retry) and
  // calls cb with the answer. A durable request (a message) survives
  // disconnects and is sent again, with the same messageID, after the next
  // registration: the server deduplicates it. Others get cb(null) when the
  // connection drops.
  request(frame, cb, durable = false) {
    frame.messageID = frame.messageID || newMessageID();
    this.pending.set(frame.messageID, { frame, cb, durable });
    if (this.registered) this.enqueue(frame);
    return frame.messageID;
  }

  // notify sends frame, which gets no answer (TypingRequest), if the
  // connection is up: it is not worth keeping for a later connection. Its
  // messageID is marked ('n' for notification) so that an error it earns
  // is dropped: the person asked for nothing.
  notify(frame) {
    if (!this.registered) return;
    frame.messageID = 'n' + newMessageID().slice(1);
    this.enqueue(frame);
  }

  // Sends are paced a little under the server's limit (20/s, burst 40) so
  // that a reconnect with many queued messages does not earn 429s.
  enqueue(frame) { this.queue.push(frame); this.pump(); }
  pump() {
    const now = performance.now();
    this.tokens = Math.min(30, this.tokens + (now - this.refilled) * 0.015);
    this.refilled = now;
    while (this.queue.length && this.tokens >= 1 && this.ws) {
      this.tokens--;
      this.ws.send(JSON.stringify(this.queue.shift()));
    }
    if (this.queue.length && !this.timers.pump) {
      this.timers.pump = setTimeout(() => { this.timers.pump = 0; this.pump(); }, 70);
    }
  }

  // noteId moves the resume point forward. Any id the server sent is safe to
  // resume from: a connection's frames come in log order, so every message
  // addressed to us with a smaller id reached us before it.
  noteId(id) {
    if (typeof id === 'string' && id.length === 26 && (!this.since || id > this.since)) {
      this.since = id;
      this.hooks.since(id);
    }
  }

  onFrame(f) {
    this.noteId(f.id);
    // Edits and deletions are events of the log too, delivered in its order.
    this.noteId(f.edited_id);
    this.noteId(f.deleted_id);
    // RegisterResponse's last_id is the log position at registration: a
    // resume point at once without a replay, but a replay's messages, all
    // older, come after it.
    if (f.type === 'ReplayComplete') this.replaying = false;
    if (f.type !== 'RegisterResponse' || !this.replaying) this.noteId(f.last_id);
    for (const m of f.messages || []) this.noteId(m.id);
    for (const c of f.chats || []) this.noteId(c.last_id);
    if (f.type === 'RegisterResponse') return this.onRegistered();
    if (f.type === 'SessionReplaced') this.setState('replaced'); // the server closes the socket next
    if (f.messageID === this.regID && f.request === 'RegisterRequest') return this.onRegisterFailed(f);
    const p = this.pending.get(f.messageID);
    if (!p && typeof f.messageID === 'string' && f.messageID[0] === 'n') return; // see notify
    if (!p) return this.hooks.frame(f);
    if (f.status === 429 && p.durable) { // not stored: the same request, a little later
      setTimeout(() => { if (this.registered && this.pending.has(f.messageID)) this.enqueue(p.frame); }, 1000);
      return;
    }
    this.pending.delete(f.messageID);
    p.cb(f);
  }

  onRegistered() {
    const first = !this.sessions;
    this.sessions++;
    this.registered = true;
    this.attempt = 0;
    this.setState('online');
    // Unanswered messages first, in their order; then what the page asks.
    for (const p of this.pending.values()) this.enqueue(p.frame);
    this.hooks.registered(first);
  }

  onRegisterFailed(f) {
    if (!this.sessions) return this.refuse(describe(f), true);
    // A dropped connection may count as online for up to a minute: keep
    // trying. A refused password will not get better: stop.
    if (f.status === 302 || f.status === 429 || f.status === 500) this.ws.close();
    else this.refuse(describe(f), false);
  }
}
