// Chateau web client, the state: the conversations, their messages and
// who is online, as the connection (app.js) fills them and the drawing
// (render.js) reads them. Nothing here touches the network or the DOM
// besides looking up elements.
'use strict';

export const $ = (id) => document.getElementById(id);
const MAX_CONTENT = 16384; // the server's default --max-content-bytes
export const PAGE = 50;
export const USERNAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
export const encoder = new TextEncoder();
export const tooLong = (text) => encoder.encode(text).length > MAX_CONTENT; // the limit is in bytes

// localStorage may be unavailable (private modes, quotas): the client then
// only forgets its resume point across reloads.
export const store = {
  get(k) { try { return localStorage.getItem(k); } catch { return null; } },
  set(k, v) { try { localStorage.setItem(k, v); } catch { /* see above */ } },
};

// ---------------------------------------------------------------- state

export const S = {
  me: '',
  convs: new Map(), // key ('c:'+chat or 'd:'+user) → conversation
  online: [], // who is online, sorted: ClientListResponse, then PresenceChanged
  registered: false, // signed in on an open connection
  active: null, // key of the conversation shown
  view: 'empty', // empty | conv | new | random
  opener: '', // id of the button that opened the form shown: Cancel and Escape return there
  panel: '', // '' | 'invite' | 'leave': what the chat's header has unfolded
  editing: '', // id of the own message whose edit form is open
  deleting: '', // id of the own message whose deletion asks for confirmation
  narrow: false, // phone-sized screen: the sidebar folds away
  sidebarOpen: true,
};
let seq = 0; // orders messages that have no id yet
export const active = () => S.convs.get(S.active);
// shown is whether c is the conversation on screen.
export const shown = (c) => S.view === 'conv' && S.active === c.key;
// field names c in a request: chats by chatname, direct ones by recipient.
export const field = (c) => (c.kind === 'chat' ? 'chatname' : 'recipient');

// conv returns the conversation, made empty if it is new. Direct
// conversations are named by the other party.
export function conv(kind, name) {
  const key = (kind === 'chat' ? 'c:' : 'd:') + name;
  let c = S.convs.get(key);
  if (!c) {
    c = { key, kind, name, members: [], msgs: new Map(), byId: new Map(), last: '', preview: null,
      loaded: false, loading: false, more: false, oldest: null, unread: 0, error: '',
      created: performance.now(), // a chat list asked for before this may not name it
      read: '', // the newest id this page marked read (or learnt was)
      typing: new Map(), // who is typing → the timer that forgets it
      typingSent: 0 }; // when this page last said it types here
    S.convs.set(key, c);
  }
  return c;
}

// keyOf is the key of the conversation a push is about: a chat's, or the
// direct one with the other party (sender or recipient, whichever is not
// this user).
export function keyOf(f) {
  if (f.chatname) return 'c:' + f.chatname;
  return 'd:' + (f.sender && f.sender !== S.me ? f.sender : f.recipient);
}

// forget drops a conversation (a chat left); if it was shown, the pane
// empties.
export function forget(key) {
  S.convs.delete(key);
  if (S.active === key) Object.assign(S, { active: null, view: S.view === 'conv' ? 'empty' : S.view, panel: '' });
}

// addMessage files m under c unless its id is known; returns whether it is new.
export function addMessage(c, m) {
  const known = m.id && c.byId.get(m.id);
  if (known) { // a page or a replay has its current state
    if (m.deleted) deleteMessage(known);
    else if (m.edited) Object.assign(known, { content: m.content, edited: true });
    return false;
  }
  m.key = m.key || m.id;
  m.seq = ++seq;
  c.msgs.set(m.key, m);
  if (m.id) {
    c.byId.set(m.id, m);
    if (m.id > c.last) c.last = m.id;
  }
  // The preview is the newest message: an older page must not replace it.
  if (!c.preview || !m.id || (c.preview.id && m.id > c.preview.id)) c.preview = m;
  return true;
}

// ULIDs in Crockford base32 sort like their time; unsent ones ('~' > 'Z') last.
const sortKey = (m) => m.id || '~' + String(m.seq).padStart(12, '0');
export const sorted = (c) => [...c.msgs.values()].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));

// newestShown is the id of the newest message of c that is stored and not
// deleted: what a MarkReadRequest can name.
export function newestShown(c) {
  let id = '';
  for (const m of c.byId.values()) if (!m.deleted && m.id > id) id = m.id;
  return id;
}

// deleteMessage keeps of m what a deleted message shows: who, when.
export function deleteMessage(m) {
  Object.assign(m, { deleted: true, content: '' });
  delete m.edited;
  if (S.editing === m.id) S.editing = '';
  if (S.deleting === m.id) S.deleting = '';
}
