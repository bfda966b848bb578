// Chateau web client, the messages of the conversation shown: each one's
// element, kept across redraws (so that focus and a half-typed edit
// survive them) and brought up to date with the message: sender, time,
// "(edited)", deleted, the sending state, and on one's own stored messages
// Edit and Delete, with the edit form or the deletion's confirmation.
'use strict';
import { $, S, sorted } from './state.js';
import { el, avatar, plainButton, setError } from './render.js';

const DELETED = 'This message was deleted';
const nodes = new WeakMap(); // message → its <li>

// drawMessages brings the list of messages up to date with c, reusing each
// message's element and moving only those out of place.
export function drawMessages(c) {
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
}

// actionButton is Edit or Delete of message m: named by what it shows and,
// for screen readers, the message it acts on.
const actionButton = (act, label) => plainButton('link small-link', { act }, label, el('span', 'sr-only about'));

function buildMessage(m) {
  const li = el('li', 'msg');
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  const tag = el('span', 'tag', 'random');
  tag.hidden = !m.random;
  meta.append(el('span', 'sender'), tag, el('time'));
  const foot = el('div', 'foot');
  const actions = el('span', 'actions');
  actions.append(actionButton('edit', 'Edit'), actionButton('delete', 'Delete'));
  foot.append(el('span', 'edited', '(edited)'), actions);
  body.append(meta, el('div', 'bubble'), foot, el('div', 'status'));
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
  li.classList.toggle('deleted', !!m.deleted);
  if (m.id) li.dataset.id = m.id;
  const t = li.querySelector('time');
  if (m.time && t.dateTime !== m.time) Object.assign(t, { dateTime: m.time, textContent: fmtTime(m.time), title: new Date(m.time).toLocaleString() });
  li.querySelector('.sender').textContent = mine ? 'You' : m.sender;
  li.querySelector('.sender').classList.toggle('sr-only', mine);
  const text = m.deleted ? DELETED : m.content;
  const bubble = li.querySelector('.bubble');
  if (bubble.textContent !== text) bubble.textContent = text;
  updateActions(li, m, mine && !!m.id && !m.deleted);
  const st = li.querySelector('.status');
  st.textContent = m.status === 'sending' ? 'sending…' : m.status === 'failed' ? 'Not sent: ' + m.error + ' ' : '';
  if (m.status === 'failed' && m.retry) st.append(plainButton('link retry', { key: m.key }, 'Retry'));
}

// updateActions shows "(edited)", and on an own stored message either its
// Edit and Delete buttons, its edit form or its deletion's confirmation.
function updateActions(li, m, own) {
  const editing = own && S.editing === m.id;
  const deleting = own && S.deleting === m.id;
  li.querySelector('.edited').hidden = !m.edited || !!m.deleted;
  li.querySelector('.actions').hidden = !own || editing || deleting;
  li.querySelector('.bubble').hidden = editing;
  const about = ' your message: ' + snippet(m.content || '');
  for (const s of li.querySelectorAll('.about')) if (s.textContent !== about) s.textContent = about;
  toggle(li, '.edit-form', editing, () => editForm(m));
  toggle(li, '.confirm', deleting, () => confirmDelete(m));
}

// toggle puts the element that build makes after the bubble, or takes it
// away, unless it is already as wanted (a form keeps what is typed in it).
function toggle(li, css, want, build) {
  const have = li.querySelector(css);
  if (want && !have) li.querySelector('.bubble').after(build());
  if (!want && have) have.remove();
}

const snippet = (s) => (s.length > 40 ? s.slice(0, 40) + '…' : s);

// editForm is the form that edits m in place: Enter or Save stores the
// new content, Escape or Cancel leave it as it was.
function editForm(m) {
  const f = el('form', 'edit-form');
  f.noValidate = true;
  f.dataset.id = m.id;
  const label = el('label', 'sr-only', 'Edit your message');
  const box = el('textarea');
  box.id = label.htmlFor = 'edit-' + m.id;
  box.rows = Math.min(6, m.content.split('\n').length + 1);
  box.value = m.content;
  box.setAttribute('aria-describedby', 'edit-hint-' + m.id);
  const hint = el('span', 'sr-only', 'Enter saves, Shift+Enter adds a line, Escape cancels.');
  hint.id = 'edit-hint-' + m.id;
  const err = el('p', 'error');
  err.setAttribute('role', 'alert');
  setError(err, '');
  const save = el('button', 'primary small-btn', 'Save');
  save.type = 'submit';
  const cancel = plainButton('ghost small-btn', { act: 'edit-cancel' }, 'Cancel');
  cancel.setAttribute('aria-keyshortcuts', 'Escape');
  const row = el('div', 'row tight');
  row.append(save, cancel);
  f.append(label, box, hint, err, row);
  return f;
}

// confirmDelete asks before deleting m, which cannot be undone.
function confirmDelete(m) {
  const d = el('div', 'confirm');
  d.setAttribute('role', 'group');
  const q = el('span', 'question', 'Delete this message for everyone? This cannot be undone.');
  q.id = 'confirm-' + m.id;
  d.setAttribute('aria-labelledby', q.id);
  const row = el('div', 'row tight');
  const keep = plainButton('ghost small-btn', { act: 'delete-keep' }, 'Keep it');
  keep.setAttribute('aria-keyshortcuts', 'Escape');
  row.append(plainButton('danger small-btn', { act: 'delete-yes' }, 'Delete for everyone'), keep);
  d.append(q, row);
  return d;
}

// editButton is the Edit button of the message with id, once drawn.
export const editButton = (id) => document.querySelector('#messages li[data-id="' + id + '"] [data-act="edit"]');

function fmtTime(iso) {
  const d = new Date(iso);
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return d.toDateString() === new Date().toDateString() ? t : d.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ' ' + t;
}
