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
  online: [],
  registered: false, // signed in on an open connection
  active: null, // key of the conversation shown
  view: 'empty', // empty | conv | new | random
  opener: '', // id of the button that opened the form shown: Cancel and Escape return there
  narrow: false, // phone-sized screen: the sidebar folds away
  sidebarOpen: true,
};
let seq = 0; // orders messages that have no id yet
export const active = () => S.convs.get(S.active);

export function conv(kind, name) {
  const key = (kind === 'chat' ? 'c:' : 'd:') + name;
  let c = S.convs.get(key);
  if (!c) {
    c = { key, kind, name, members: [], msgs: new Map(), byId: new Map(), last: '', preview: null,
      loaded: false, loading: false, more: false, oldest: null, unread: 0, error: '' };
    S.convs.set(key, c);
    if (kind === 'direct') savePeers();
  }
  return c;
}

// The protocol has no list of direct conversations, so the people this
// browser talked with are remembered per username.
function savePeers() {
  const peers = [...S.convs.values()].filter((c) => c.kind === 'direct').map((c) => c.name);
  store.set('chateau:peers:' + S.me, JSON.stringify(peers));
}

// addMessage files m under c unless its id is known; returns whether it is new.
export function addMessage(c, m) {
  if (m.id && c.byId.has(m.id)) return false;
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
