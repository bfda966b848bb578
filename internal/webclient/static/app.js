// Chateau web client, the page's part: the state that the protocol client
// (protocol.js) feeds, conversations, messages and who is online, the
// actions of the person, and the rendering of that state. No framework: the
// DOM is index.html plus what the draw functions build, always with
// textContent, never from HTML strings.
'use strict';
import { Client, describe, TOO_LONG } from './protocol.js';

const $ = (id) => document.getElementById(id);
const MAX_CONTENT = 16384; // the server's default --max-content-bytes
const PAGE = 50;
const USERNAME_RE = /^[A-Za-z0-9_.-]{1,32}$/;
const encoder = new TextEncoder();
const tooLong = (text) => encoder.encode(text).length > MAX_CONTENT; // the limit is in bytes

// localStorage may be unavailable (private modes, quotas): the client then
// only forgets its resume point across reloads.
const store = {
  get(k) { try { return localStorage.getItem(k); } catch { return null; } },
  set(k, v) { try { localStorage.setItem(k, v); } catch { /* see above */ } },
};

// ---------------------------------------------------------------- state

const S = {
  me: '',
  convs: new Map(), // key ('c:'+chat or 'd:'+user) → conversation
  online: [],
  active: null, // key of the conversation shown
  view: 'empty', // empty | conv | new | random
  opener: '', // id of the button that opened the form shown: Cancel and Escape return there
  narrow: false, // phone-sized screen: the sidebar folds away
  sidebarOpen: true,
};
let seq = 0; // orders messages that have no id yet
const active = () => S.convs.get(S.active);

function conv(kind, name) {
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
function addMessage(c, m) {
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

// settle records the answer to an own message: the id and time it was
// stored under, or why not.
function settle(c, m, f) {
  if (f.status !== 200) {
    Object.assign(m, { status: 'failed', error: describe(f), retry: f.status === 500 });
    showAlert('Not sent: ' + m.error);
  } else if (c.byId.has(f.id)) {
    c.msgs.delete(m.key); // a history page brought it first
  } else {
    Object.assign(m, { status: 'sent', id: f.id, time: f.time });
    c.byId.set(m.id, m);
    if (m.id > c.last) c.last = m.id;
  }
  render();
}

// ULIDs in Crockford base32 sort like their time; unsent ones ('~' > 'Z') last.
const sortKey = (m) => m.id || '~' + String(m.seq).padStart(12, '0');
const sorted = (c) => [...c.msgs.values()].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));

// ------------------------------------------------------------ connection

// The password stays in the client's memory for re-registering; it is
// never written to storage.
let listTimer = 0;
const client = new Client({
  state(s) {
    $('conn-state').dataset.state = s;
    $('conn-state').textContent = { connecting: 'Connecting…', online: 'Online', reconnecting: 'Reconnecting…',
      replaced: 'Signed in elsewhere', offline: 'Offline' }[s];
    if (s !== 'online') clearInterval(listTimer);
    render();
  },
  since(id) { store.set('chateau:since:' + S.me, id); },
  registered(first) {
    if (first) showApp();
    refreshChats();
    refreshOnline();
    clearInterval(listTimer);
    listTimer = setInterval(refreshOnline, 5000); // who is online, without flooding
    const c = active();
    if (c && S.view === 'conv') loadHistory(c, false); // also own messages sent elsewhere
  },
  refused(text, first) { if (first) loginFailed(text); else signOut(text); },
  frame(f) {
    if (f.type === 'GroupMessageRecv' || f.type === 'SingleMessageRecv') onDelivery(f);
    else if (f.type === 'ReplayComplete' && f.count) announce(f.count + (f.count === 1 ? ' message' : ' messages') + ' arrived while you were away.');
    else if (f.type === 'SessionReplaced') showAlert('You signed in somewhere else, so this window stopped. Sign out and in again to use it here.');
    else if (f.status >= 400) showAlert(describe(f));
  },
});
const request = (frame, cb, durable) => client.request(frame, cb, durable);

// ------------------------------------------------------------ actions

let listing = false; // a ClientListRequest is out: one at a time is enough
function refreshOnline() {
  if (listing || !client.registered) return;
  listing = true;
  request({ type: 'ClientListRequest' }, (f) => {
    listing = false;
    if (f && f.status === 200) { S.online = f.clients || []; render(); }
  });
}

function refreshChats() {
  request({ type: 'ChatListRequest' }, (f) => {
    if (!f || f.status !== 200) return;
    for (const ch of f.chats) {
      const c = conv('chat', ch.chatname);
      c.members = ch.members;
      if (ch.last_id > c.last) c.last = ch.last_id;
    }
    render();
  });
}

function onDelivery(f) {
  const c = f.type === 'GroupMessageRecv' ? conv('chat', f.chatname) : conv('direct', f.sender);
  if (f.members) c.members = f.members;
  if (!addMessage(c, { id: f.id, sender: f.sender, content: f.content, time: f.time, random: !!f.random })) return;
  if (c.key !== S.active || S.view !== 'conv') c.unread++;
  if (!f.replay && !S.online.includes(f.sender)) refreshOnline(); // they are online now
  // Replayed ones are summed up at the end, not read out one by one; own
  // ones (sent from another window) are no news.
  if (!f.replay && f.sender !== S.me) arrivals.push({ sender: f.sender, where: c.kind === 'chat' ? ' in ' + c.name : '', random: f.random, content: f.content });
  render();
}

// applyPage adds a HistoryResponse to c. Only pages set oldest and more:
// live messages that came before the first page say nothing about what
// precedes them.
function applyPage(c, r, older) {
  for (const m of r.messages) addMessage(c, { id: m.id, sender: m.sender, content: m.content, time: m.time, random: !!m.random, status: 'sent' });
  if (r.messages.length && (!c.oldest || r.messages[0].id < c.oldest)) c.oldest = r.messages[0].id;
  if (older || !c.loaded) c.more = r.more;
  c.loaded = true;
  c.error = '';
}

// loadHistory fetches the newest page of c, or with older the page before
// the oldest one loaded.
function loadHistory(c, older) {
  if (c.loading || !client.registered || (older && !c.more)) return;
  const f = { type: 'HistoryRequest', limit: PAGE, [c.kind === 'chat' ? 'chatname' : 'recipient']: c.name };
  if (older) f.before = c.oldest;
  c.loading = true;
  request(f, (r) => {
    c.loading = false;
    if (r && r.status === 200) applyPage(c, r, older);
    else if (r) c.error = describe(r);
    render(older ? 'keep' : undefined);
  });
  render();
}

function sendTo(c, text) {
  const m = { sender: S.me, content: text, status: 'sending' };
  m.frame = c.kind === 'chat'
    ? { type: 'GroupMessageRequest', chatname: c.name, content: text }
    : { type: 'SingleMessageRequest', recipient: c.name, content: text };
  m.key = request(m.frame, (f) => settle(c, m, f), true);
  addMessage(c, m);
  render('bottom');
}

// retry sends a failed message again under the same messageID, so that
// the server stores it at most once.
function retry(c, m) {
  m.status = 'sending';
  request(m.frame, (f) => settle(c, m, f), true);
  focusAfterDraw('compose-input'); // the Retry button goes away
}

function openConv(key) {
  const c = S.convs.get(key);
  if (!c) return;
  Object.assign(S, { active: key, view: 'conv', sidebarOpen: !S.narrow && S.sidebarOpen });
  c.unread = 0;
  if (!c.loaded) loadHistory(c, false);
  render('bottom');
  focusAfterDraw('compose-input');
}

function showView(view) {
  Object.assign(S, { view, sidebarOpen: !S.narrow && S.sidebarOpen });
  render();
}

// openForm shows the form view with its first field focused, and notes
// the button that opened it, for closeForm.
function openForm(view, opener, field) {
  S.opener = opener;
  showView(view);
  focusAfterDraw(field);
}

// closeForm (Cancel, Escape) drops what the form holds, goes back to what
// the pane showed before and gives the focus back to the button that
// opened the form. On a phone that button is in the folded sidebar, so the
// sidebar opens again.
function closeForm() {
  for (const f of $('view-' + S.view).querySelectorAll('form')) f.reset();
  if (S.narrow) S.sidebarOpen = true;
  Object.assign(S, { view: S.active ? 'conv' : 'empty' });
  render();
  focusAfterDraw(S.opener || 'new-chat-btn');
}

function createChat(e) {
  e.preventDefault();
  if (isBusy($('create-chat'))) return;
  const err = $('new-error');
  const name = $('chat-name').value.trim();
  const picked = [...$('recipients').querySelectorAll('input:checked')].map((i) => i.value);
  const recipients = [...new Set(picked.concat($('other-recipients').value.split(/[\s,]+/).filter(Boolean)))].filter((n) => n !== S.me);
  const text = $('first-message').value.trim();
  const bad = recipients.find((n) => !USERNAME_RE.test(n));
  // Each refusal takes the focus to the field at fault.
  if (!name || name.length > 64) return refuse(err, 'Give the chat a name (up to 64 characters).', $('chat-name'));
  if (!recipients.length) return refuse(err, 'Pick at least one other person.', $('recipients').querySelector('input') || $('other-recipients'));
  if (bad) return refuse(err, '“' + bad + '” is not a valid username.', $('other-recipients'));
  if (!text) return refuse(err, 'Write a first message.', $('first-message'));
  if (tooLong(text)) return refuse(err, TOO_LONG, $('first-message'));
  setError(err, '');
  busy($('create-chat'), 'Creating…');
  request({ type: 'GroupMessageInitRequest', chatname: name, recipients, content: text }, (f) => {
    busy($('create-chat'));
    if (f.status !== 200) return setError(err, describe(f));
    const c = conv('chat', f.chatname);
    c.members = f.members;
    addMessage(c, { id: f.id, sender: S.me, content: text, time: f.time, status: 'sent' });
    $('new-form').reset();
    openConv(c.key);
  }, true);
}

// openDirect opens the conversation with a typed name once its first
// history page says the user exists, so that typos leave no conversation.
function openDirect(e) {
  e.preventDefault();
  if (isBusy($('dm-open'))) return;
  const name = $('dm-name').value.trim();
  if (S.convs.has('d:' + name)) return openConv('d:' + name);
  if (!USERNAME_RE.test(name) || name === S.me) return refuse($('dm-error'), 'Type the username of someone else.', $('dm-name'));
  busy($('dm-open'), 'Opening…');
  request({ type: 'HistoryRequest', recipient: name, limit: PAGE }, (r) => {
    busy($('dm-open'));
    if (!r || r.status !== 200) return setError($('dm-error'), r ? describe(r) : 'Not connected. Try again.');
    setError($('dm-error'), '');
    $('dm-form').reset();
    applyPage(conv('direct', name), r, false);
    openConv('d:' + name);
  });
}

function sendRandom(e) {
  e.preventDefault();
  const err = $('random-error');
  const result = $('random-result');
  const text = $('random-message').value.trim();
  if (!text) return refuse(err, 'Write a message first.', $('random-message'));
  if (tooLong(text)) return refuse(err, TOO_LONG, $('random-message'));
  setError(err, '');
  setError(result, 'Sending…');
  request({ type: 'RandomMessageRequest', content: text }, (f) => {
    if (f.status !== 200) { setError(result, ''); return setError(err, describe(f)); }
    const c = conv('direct', f.clients);
    addMessage(c, { id: f.id, sender: S.me, content: text, time: f.time, random: true, status: 'sent' });
    $('random-message').value = '';
    setError(result, 'Sent to ' + f.clients + '. ');
    const open = el('button', 'link', 'Open the conversation');
    open.type = 'button';
    open.addEventListener('click', () => openConv(c.key));
    result.append(open);
    announce('Your message went to ' + f.clients + '.');
    render();
  }, true);
}

// ------------------------------------------------------------ sign-in

function signIn(e) {
  e.preventDefault();
  if (isBusy($('login-submit'))) return;
  const name = $('username').value.trim();
  const pw = $('password').value;
  const pwBytes = encoder.encode(pw).length;
  if (!USERNAME_RE.test(name)) return loginFailed('Use 1–32 letters, digits, _ . or - for the username.', 'username');
  if (pw && (pwBytes < 8 || pwBytes > 256)) return loginFailed('The password needs 8–256 characters, or leave it empty.', 'password');
  Object.assign(S, { me: name, convs: new Map() });
  let peers = [];
  try { peers = JSON.parse(store.get('chateau:peers:' + name) || '[]'); } catch { /* start afresh */ }
  for (const p of peers) if (typeof p === 'string' && USERNAME_RE.test(p)) conv('direct', p);
  store.set('chateau:lastUser', name);
  setError($('login-error'), '');
  busy($('login-submit'), 'Joining…');
  client.start(name, pw, store.get('chateau:since:' + name));
}

function loginFailed(text, field) {
  busy($('login-submit'));
  setError($('login-error'), text);
  $(field || 'username').focus();
}

function showApp() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('me').textContent = S.me;
  $('password').value = '';
  busy($('login-submit'));
  $('new-chat-btn').focus();
}

function signOut(message) {
  client.stop();
  Object.assign(S, { active: null, view: 'empty', online: [], convs: new Map(), opener: '' });
  // Nothing of this person's stays for the next one to read or send.
  for (const f of document.querySelectorAll('#app form')) f.reset();
  for (const e of document.querySelectorAll('#app .error, #app .ok')) setError(e, '');
  arrivals.length = 0;
  announce('');
  showAlert('');
  $('app').hidden = true;
  $('login').hidden = false;
  setError($('login-error'), message || '');
  $('username').focus();
}

// ------------------------------------------------------------ rendering

let scheduled = false;
let scrollMode; // 'bottom': show the newest; 'keep': older ones were put above
let focusTarget = ''; // id of the element that gets the focus after the next redraw
const arrivals = []; // live messages from others not announced yet
// render coalesces the frames of one burst (a replay, say) into one redraw.
function render(mode) {
  if (mode && scrollMode !== 'bottom') scrollMode = mode;
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => { scheduled = false; const m = scrollMode; scrollMode = undefined; draw(m); }, 0);
}

// focusAfterDraw gives id the focus once the next redraw has shown it: the
// view it is in may still be hidden now, and focus() on a hidden element
// does nothing, leaving the focus behind on what was clicked.
function focusAfterDraw(id) {
  focusTarget = id;
  render();
}

function draw(mode) {
  announceArrivals();
  document.body.classList.toggle('sidebar-closed', S.narrow && !S.sidebarOpen);
  $('sidebar-toggle').setAttribute('aria-expanded', String(!S.narrow || S.sidebarOpen));
  keepFocus($('conv-list'), 'key', drawConvList);
  keepFocus($('online-list'), 'user', drawOnline);
  const view = S.view === 'conv' && !S.active ? 'empty' : S.view;
  for (const v of ['empty', 'conv', 'new', 'random']) $('view-' + v).hidden = v !== view;
  if (view === 'new') drawRecipients();
  if (view === 'conv') drawConv(S.convs.get(S.active), mode);
  if (focusTarget) { $(focusTarget).focus(); focusTarget = ''; }
}

// announceArrivals reads out the messages that came since the last redraw:
// one in full, a burst as one sentence, so that the live region does not
// chatter or drop messages that replace each other before being read.
function announceArrivals() {
  if (!arrivals.length) return;
  const a = arrivals[0];
  if (arrivals.length === 1) announce(a.sender + a.where + (a.random ? ' (random)' : '') + ': ' + a.content.slice(0, 200));
  else announce(arrivals.length + ' new messages, from ' + [...new Set(arrivals.map((x) => x.sender))].join(', ') + '.');
  arrivals.length = 0;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function button(cls, data, ...children) {
  const b = el('button', cls);
  b.type = 'button';
  Object.assign(b.dataset, data);
  b.append(...children);
  const li = el('li');
  li.append(b);
  return li;
}

// avatar: the initial on a colour derived from the name, the same everywhere.
function avatar(name) {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)) % 360;
  const a = el('span', 'avatar', name.slice(0, 1).toUpperCase());
  a.style.background = 'hsl(' + h + ' 55% 42%)';
  a.setAttribute('aria-hidden', 'true');
  return a;
}

// keepFocus rebuilds a list with build and, if a button in it had the
// focus, gives it to the new button with the same data-attr value.
function keepFocus(list, attr, build) {
  const had = list.contains(document.activeElement) ? document.activeElement.dataset[attr] : null;
  build(list);
  if (had != null) for (const b of list.querySelectorAll('button')) if (b.dataset[attr] === had) b.focus();
}

function drawConvList(list) {
  const byRecent = (a, b) => (a.last === b.last ? (a.name < b.name ? -1 : 1) : a.last > b.last ? -1 : 1);
  list.replaceChildren(...[...S.convs.values()].sort(byRecent).map((c) => {
    const label = (c.kind === 'chat' ? '# ' : '') + c.name;
    const text = el('span', 'conv-text');
    const preview = c.preview ? (c.preview.sender === S.me ? 'You: ' : '') + c.preview.content : c.members.join(', ');
    text.append(el('span', 'conv-name', label), el('span', 'conv-preview', preview));
    const li = button('conv-item', { key: c.key }, avatar(c.kind === 'chat' ? '#' + c.name : c.name), text);
    const b = li.firstChild;
    if (c.key === S.active && S.view === 'conv') b.setAttribute('aria-current', 'true');
    // The name comes from what the row shows (so it contains the visible
    // text), the unread count said in words.
    if (c.unread) b.append(el('span', 'badge', String(c.unread)), el('span', 'sr-only', ' unread'));
    return li;
  }));
  $('conv-empty').hidden = S.convs.size > 0;
  const unread = [...S.convs.values()].reduce((n, c) => n + c.unread, 0);
  $('sidebar-toggle').textContent = unread ? 'Chats (' + unread + ')' : 'Chats';
  document.title = unread ? '(' + unread + ') Chateau' : 'Chateau';
}

function drawOnline(list) {
  const others = S.online.filter((u) => u !== S.me);
  $('online-count').textContent = client.registered ? String(others.length) : '';
  list.replaceChildren(...others.map((u) => {
    // Named by its content, "Message bob": the visible name is in it.
    return button('person', { user: u }, avatar(u), el('span', 'sr-only', 'Message '), el('span', 'person-name', u), el('span', 'dot'));
  }));
  if (!others.length) list.append(el('li', 'muted small', client.registered ? 'Nobody else is online.' : '…'));
}

function drawRecipients() {
  const box = $('recipients');
  const others = S.online.filter((u) => u !== S.me);
  // Rebuilt only when the people change, so that a focused box keeps focus.
  if (box.dataset.names === others.join(' ')) return;
  box.dataset.names = others.join(' ');
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  const had = box.contains(document.activeElement) ? document.activeElement.value : null;
  box.querySelectorAll('.check').forEach((n) => n.remove());
  for (const u of others) {
    const label = el('label', 'check');
    const input = Object.assign(el('input'), { type: 'checkbox', name: 'recipient', value: u, checked: checked.has(u) });
    label.append(input, ' ' + u);
    box.append(label);
    if (u === had) input.focus();
  }
  $('recipients-empty').hidden = others.length > 0;
}

function fmtTime(iso) {
  const d = new Date(iso);
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? t : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + t;
}

const nodes = new WeakMap(); // message → its <li>, kept across redraws
function drawConv(c, mode) {
  $('conv-title').textContent = (c.kind === 'chat' ? '# ' : '') + c.name;
  $('conv-sub').textContent = c.kind === 'chat' ? c.members.join(', ') : S.online.includes(c.name) ? 'online' : 'offline';
  // The last page loaded takes the button away: its focus goes to the
  // messages rather than to nowhere.
  if (!c.more && document.activeElement === $('older')) $('scroller').focus();
  $('older').hidden = !c.more;
  $('older').setAttribute('aria-disabled', String(c.loading)); // not disabled: see busy
  setError($('history-state'), c.error || (c.loading ? 'Loading…' : c.loaded && !c.more && c.msgs.size ? 'Beginning of the conversation' : ''));

  const sc = $('scroller');
  const atBottom = sc.scrollHeight - sc.scrollTop - sc.clientHeight < 40;
  const fromBottom = sc.scrollHeight - sc.scrollTop;
  // Reuse each message's element and move only those out of place, so
  // that a redraw keeps focus and costs little.
  const list = $('messages');
  let cursor = list.firstChild;
  let prev = null;
  for (const m of sorted(c)) {
    let li = nodes.get(m);
    if (!li) nodes.set(m, (li = buildMessage(m)));
    updateMessage(li, m, prev);
    if (li !== cursor) list.insertBefore(li, cursor); else cursor = cursor.nextSibling;
    prev = m;
  }
  while (cursor) { const next = cursor.nextSibling; cursor.remove(); cursor = next; }
  if (mode === 'keep') sc.scrollTop = sc.scrollHeight - fromBottom;
  else if (mode === 'bottom' || atBottom) sc.scrollTop = sc.scrollHeight;
}

function buildMessage(m) {
  const li = el('li', 'msg');
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  const tag = el('span', 'tag', 'random');
  tag.hidden = !m.random;
  meta.append(el('span', 'sender'), tag, el('time'));
  body.append(meta, el('div', 'bubble', m.content), el('div', 'status'));
  li.append(avatar(m.sender), body);
  return li;
}

function updateMessage(li, m, prev) {
  const mine = m.sender === S.me;
  li.classList.toggle('mine', mine);
  // Consecutive messages of one sender within five minutes form a group.
  const cont = !!prev && prev.sender === m.sender && !!m.time && !!prev.time && Date.parse(m.time) - Date.parse(prev.time) < 300000;
  li.classList.toggle('cont', cont);
  // What the grouping hides from sight (the sender of own messages and of
  // follow-ups, their time) stays for screen readers: each message is read
  // with its author.
  li.querySelector('.meta').classList.toggle('sr-only', cont);
  li.classList.toggle('pending', m.status === 'sending');
  li.classList.toggle('failed', m.status === 'failed');
  if (m.id) li.dataset.id = m.id;
  const t = li.querySelector('time');
  if (m.time && t.dateTime !== m.time) Object.assign(t, { dateTime: m.time, textContent: fmtTime(m.time), title: new Date(m.time).toLocaleString() });
  li.querySelector('.sender').textContent = mine ? 'You' : m.sender;
  li.querySelector('.sender').classList.toggle('sr-only', mine);
  const st = li.querySelector('.status');
  st.textContent = m.status === 'sending' ? 'sending…' : m.status === 'failed' ? 'Not sent: ' + m.error + ' ' : '';
  if (m.status === 'failed' && m.retry) st.append(button('link retry', { key: m.key }, 'Retry').firstChild);
}

function setError(node, text) { node.textContent = text; node.hidden = !text; }
// refuse shows why a form was not sent and takes the focus to the field at
// fault (the form is on screen: no redraw to wait for).
function refuse(node, text, field) { setError(node, text); field.focus(); }
function announce(text) { $('announce').textContent = text; }
// busy marks b as at work (with text) or done (without). aria-disabled, not
// disabled: a disabled button drops the focus, and a keyboard user with it.
function busy(b, text) {
  b.dataset.label = b.dataset.label || b.textContent;
  b.setAttribute('aria-disabled', String(!!text));
  b.textContent = text || b.dataset.label;
}
const isBusy = (b) => b.getAttribute('aria-disabled') === 'true';

let alertTimer = 0;
function showAlert(text) {
  $('alert').textContent = text;
  clearTimeout(alertTimer);
  if (text) alertTimer = setTimeout(() => { $('alert').textContent = ''; }, 6000);
}

// ------------------------------------------------------------ wiring

const on = (id, type, fn) => $(id).addEventListener(type, fn);

on('login-form', 'submit', signIn);
$('username').value = store.get('chateau:lastUser') || '';
($('username').value ? $('password') : $('username')).focus();
on('logout', 'click', () => signOut(''));
on('new-chat-btn', 'click', () => {
  openForm('new', 'new-chat-btn', 'chat-name');
  refreshOnline();
  setError($('new-error'), '');
});
on('random-btn', 'click', () => {
  openForm('random', 'random-btn', 'random-message');
  setError($('random-error'), '');
  setError($('random-result'), '');
});
for (const b of document.querySelectorAll('.cancel')) b.addEventListener('click', closeForm);
// Escape closes what is on top: the alert, else a form (as Cancel does),
// else the sidebar folded out over a phone's screen.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || e.isComposing || $('app').hidden) return;
  if ($('alert').textContent) showAlert('');
  else if (S.view === 'new' || S.view === 'random') closeForm();
  else if (S.narrow && S.sidebarOpen && $('sidebar').contains(document.activeElement)) {
    S.sidebarOpen = false;
    focusAfterDraw('sidebar-toggle');
  } else return;
  e.preventDefault();
});
on('sidebar-toggle', 'click', () => { S.sidebarOpen = !S.sidebarOpen; render(); });
on('conv-list', 'click', (e) => { const b = e.target.closest('.conv-item'); if (b) openConv(b.dataset.key); });
on('online-list', 'click', (e) => { const b = e.target.closest('.person'); if (b) openConv(conv('direct', b.dataset.user).key); });
on('messages', 'click', (e) => {
  const b = e.target.closest('.retry');
  const m = b && active() && active().msgs.get(b.dataset.key);
  if (m) retry(active(), m);
});
on('older', 'click', () => active() && loadHistory(active(), true));
on('scroller', 'scroll', () => { if (active() && $('scroller').scrollTop < 60) loadHistory(active(), true); });

const input = $('compose-input');
const grow = () => { input.style.height = 'auto'; input.style.height = Math.min(input.scrollHeight, 160) + 'px'; };
on('compose-input', 'input', grow);
on('compose-input', 'keydown', (e) => { // Enter sends, Shift+Enter is a new line
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('compose').requestSubmit(); }
});
on('compose', 'submit', (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!active() || !text) return;
  if (tooLong(text)) return showAlert(TOO_LONG);
  sendTo(active(), text);
  input.value = '';
  grow();
});
on('new-form', 'submit', createChat);
on('dm-form', 'submit', openDirect);
on('random-form', 'submit', sendRandom);

const narrow = matchMedia('(max-width: 600px)');
const onWidth = () => { S.narrow = narrow.matches; render(); };
narrow.addEventListener('change', onWidth);
onWidth();
