// Chateau web client, the page's part: the connection's hooks that feed
// the state (state.js), and the actions of the person. The drawing is in
// render.js. No framework: the DOM is index.html plus what the draw
// functions build.
'use strict';
import { describe, TOO_LONG } from './protocol.js';
import { hooks, client, request } from './connection.js';
import { $, PAGE, USERNAME_RE, encoder, tooLong, store, S, active, shown, field, conv, keyOf, forget, addMessage, deleteMessage } from './state.js';
import { render, focusAfterDraw, arrivals, el, setError, refuse, announce, unannounce, busy, isBusy, showAlert } from './render.js';
import { typed, closeChange, leaveConversation } from './changes.js';

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


// ------------------------------------------------------------ connection

// The password stays in the client's memory for re-registering; it is
// never written to storage.
let replayed = 0; // messages of the replay under way
Object.assign(hooks, {
  state(s) {
    S.registered = s === 'online';
    $('conn-state').dataset.state = s;
    $('conn-state').textContent = { connecting: 'Connecting…', online: 'Online', reconnecting: 'Reconnecting…',
      replaced: 'Signed in elsewhere', offline: 'Offline' }[s];
    render();
  },
  since(id) { store.set('chateau:since:' + S.me, id); },
  // After each registration the page asks once for who is online and for
  // its conversations; PresenceChanged and the deliveries keep them current.
  registered(first) {
    if (first) showApp();
    replayed = 0;
    refreshChats();
    refreshOnline();
    const c = active();
    if (c && S.view === 'conv') loadHistory(c, false); // also own messages sent elsewhere
  },
  refused(text, first) { if (first) loginFailed(text); else signOut(text); },
  frame(f) {
    const on = pushes[f.type];
    if (on && f.status < 300) on(f); // a new chat's first message comes as 201
    else if (f.type === 'SessionReplaced') showAlert('You signed in somewhere else, so this window stopped. Sign out and in again to use it here.');
    else if (f.status >= 400) showAlert(describe(f));
  },
});

// pushes handles the frames that come unasked, live or (with "replay":
// true) in the replay after a reconnect, the same way.
const pushes = {
  GroupMessageRecv: onDelivery,
  SingleMessageRecv: onDelivery,
  ReplayComplete() {
    if (replayed) announce(replayed + (replayed === 1 ? ' message' : ' messages') + ' arrived while you were away.');
    if (replayed) refreshChats(); // the unread counts, now that the replay is in
    replayed = 0;
  },
  PresenceChanged(f) {
    const was = S.online.includes(f.username);
    if (f.online && !was) S.online = [...S.online, f.username].sort();
    if (!f.online && was) S.online = S.online.filter((u) => u !== f.username);
    render();
  },
  ChatMembersChanged(f) {
    const key = 'c:' + f.chatname;
    if ((f.removed || []).includes(S.me)) { forget(key); render(); return; }
    const isNew = !S.convs.has(key);
    const c = conv('chat', f.chatname);
    c.members = f.members || c.members;
    if (f.id > c.last) c.last = f.id; // a chat one was invited to goes to the top
    if (!f.replay && isNew) announce(f.by + ' added you to # ' + f.chatname + '.');
    else if (!f.replay && shown(c)) announce(f.removed ? f.removed.join(', ') + ' left.' : f.by + ' added ' + (f.added || []).join(', ') + '.');
    render();
  },
  MessageEdited(f) {
    const m = S.convs.get(keyOf(f))?.byId.get(f.id);
    if (m && !m.deleted) { Object.assign(m, { content: f.content, edited: true }); render(); }
  },
  MessageDeleted(f) {
    const c = S.convs.get(keyOf(f));
    const m = c?.byId.get(f.id);
    if (m) {
      unannounce(m.content);
      deleteMessage(m);
    }
    if (c && c.unread && !shown(c)) refreshChats(); // it may have been one of the unread
    render();
  },
  Typing(f) {
    const c = S.convs.get(f.chatname ? 'c:' + f.chatname : 'd:' + f.sender);
    if (!c || f.username === S.me) return;
    clearTimeout(c.typing.get(f.username));
    c.typing.set(f.username, setTimeout(() => { c.typing.delete(f.username); render(); }, TYPING_SHOWN));
    render();
  },
  ReadMarker(f) { // this user read up to f.id on another page
    const c = S.convs.get(f.chatname ? 'c:' + f.chatname : 'd:' + f.recipient);
    if (!c || f.id <= c.read) return;
    c.read = f.id;
    c.unread = [...c.byId.values()].filter((m) => m.id > f.id && m.sender !== S.me && !m.deleted).length;
    render();
  },
};
const TYPING_SHOWN = 3000; // "… is typing" lasts this long after the last Typing frame

// ------------------------------------------------------------ actions

// refreshOnline asks who is online: at each registration, and when the
// new-chat form opens (its people to pick from). Between, PresenceChanged
// tells of those who share a conversation with this user.
let listing = false; // a ClientListRequest is out: one at a time is enough
function refreshOnline() {
  if (listing || !client.registered) return;
  listing = true;
  request({ type: 'ClientListRequest' }, (f) => {
    listing = false;
    if (f && f.status === 200) { S.online = (f.clients || []).slice().sort(); render(); }
  });
}

// refreshChats takes the conversations and their unread counts from the
// server; chats this user is no longer in go.
function refreshChats() {
  const asked = performance.now();
  request({ type: 'ChatListRequest' }, (f) => {
    if (!f || f.status !== 200) return;
    const listed = new Set();
    const take = (c, last, unread) => {
      listed.add(c.key);
      if (last > c.last) c.last = last;
      if (typeof unread === 'number' && !shown(c)) c.unread = unread;
    };
    for (const ch of f.chats) {
      const c = conv('chat', ch.chatname);
      c.members = ch.members;
      take(c, ch.last_id, ch.unread);
    }
    for (const d of f.direct || []) take(conv('direct', d.username), d.last_id, d.unread);
    for (const c of [...S.convs.values()]) if (c.kind === 'chat' && !listed.has(c.key) && c.created < asked) forget(c.key);
    render();
  });
}

function onDelivery(f) {
  const c = f.type === 'GroupMessageRecv' ? conv('chat', f.chatname) : conv('direct', f.sender);
  if (f.members) c.members = f.members;
  clearTimeout(c.typing.get(f.sender)); // what they typed has come
  c.typing.delete(f.sender);
  if (!addMessage(c, { id: f.id, sender: f.sender, content: f.content, time: f.time, random: !!f.random })) return;
  if (!shown(c) && f.sender !== S.me) c.unread++;
  // Whoever sends is online (PresenceChanged told only if they shared a
  // conversation with this user before).
  if (!f.replay && !S.online.includes(f.sender)) S.online = [...S.online, f.sender].sort();
  // Replayed ones are summed up at the end, not read out one by one; own
  // ones (sent from another window) are no news.
  if (f.replay) replayed++;
  else if (f.sender !== S.me) arrivals.push({ sender: f.sender, where: c.kind === 'chat' ? ' in ' + c.name : '', random: f.random, content: f.content });
  render();
}

// applyPage adds a HistoryResponse to c. Only pages set oldest and more:
// live messages that came before the first page say nothing about what
// precedes them.
function applyPage(c, r, older) {
  for (const m of r.messages) {
    addMessage(c, { id: m.id, sender: m.sender, content: m.deleted ? '' : m.content, time: m.time, random: !!m.random,
      edited: !!m.edited, deleted: !!m.deleted, status: 'sent' });
  }
  if (r.messages.length && (!c.oldest || r.messages[0].id < c.oldest)) c.oldest = r.messages[0].id;
  if (older || !c.loaded) c.more = r.more;
  c.loaded = true;
  c.error = '';
}

// loadHistory fetches the newest page of c, or with older the page before
// the oldest one loaded.
function loadHistory(c, older) {
  if (c.loading || !client.registered || (older && !c.more)) return;
  const f = { type: 'HistoryRequest', limit: PAGE, [field(c)]: c.name };
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
  if (S.active !== key) leaveConversation();
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

// changePassword protects the name with a new password (or changes it);
// the client signs in with it from then on.
function changePassword(e) {
  e.preventDefault();
  if (isBusy($('password-save'))) return;
  const err = $('password-error');
  const old = $('old-password').value;
  const pw = $('new-password').value;
  const n = encoder.encode(pw).length;
  if (n < 8 || n > 256) return refuse(err, 'The new password needs 8–256 characters.', $('new-password'));
  setError(err, '');
  setError($('password-result'), '');
  busy($('password-save'), 'Changing…');
  const f = { type: 'ChangePasswordRequest', new: pw };
  if (old) f.old = old;
  request(f, (r) => {
    busy($('password-save'));
    if (!r || r.status !== 200) return refuse(err, r ? describe(r) : 'Not connected. Try again.', $('old-password'));
    client.password = pw;
    $('password-form').reset();
    setError($('password-result'), 'Password changed. Use it the next time you sign in.');
  });
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
  Object.assign(S, { me: name, convs: new Map(), online: [] });
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
  leaveConversation();
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

// ------------------------------------------------------------ wiring

const on = (id, type, fn) => $(id).addEventListener(type, fn);

on('login-form', 'submit', signIn);
$('username').value = store.get('chateau:lastUser') || '';
($('username').value ? $('password') : $('username')).focus();
on('logout', 'click', () => signOut(''));
on('password-btn', 'click', () => {
  openForm('password', 'password-btn', 'old-password');
  setError($('password-error'), '');
  setError($('password-result'), '');
});
on('password-form', 'submit', changePassword);
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
  else if (S.view === 'conv' && closeChange()) { /* an edit, a deletion, the invite or leave panel */ }
  else if (S.view === 'new' || S.view === 'random' || S.view === 'password') closeForm();
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
on('compose-input', 'input', () => { grow(); typed(); });
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
