// Chateau web client, what a person changes in a conversation besides
// writing in it: the read marker (moved when a conversation is shown),
// "is typing", members invited and leaving, and editing and deleting
// their own messages. Each form gives the focus back to the button that
// opened it when it closes, by Cancel or Escape.
'use strict';
import { describe, TOO_LONG } from './protocol.js';
import { client, request } from './connection.js';
import { $, USERNAME_RE, tooLong, S, active, shown, field, forget, newestShown, deleteMessage } from './state.js';
import { render, focusAfterDraw, afterDraw, setError, refuse, announce, busy, isBusy } from './render.js';
import { editButton } from './messages.js';

// ------------------------------------------------------------ read marker

// READ_EVERY spaces a conversation's MarkReadRequests: each is an event in
// the log, and a busy chat open on many screens would otherwise store one
// per message per reader. The newest message seen meanwhile is sent when
// the time is up, whatever is on screen then.
const READ_EVERY = 2000;

// markShownRead moves the read marker of the conversation on screen to
// its newest message, when the page is seen: at once, or at the end of
// READ_EVERY after the last move.
function markShownRead() {
  const c = active();
  if (!c || !shown(c) || !S.registered || document.visibilityState !== 'visible') return;
  const id = newestShown(c);
  if (!id || id <= c.read || id <= (c.readPending || '')) return;
  c.unread = 0;
  c.readPending = id;
  const wait = (c.readSentAt ?? -Infinity) + READ_EVERY - performance.now();
  if (wait > 0) {
    c.readTimer ||= setTimeout(() => { c.readTimer = 0; sendRead(c); }, wait);
    return;
  }
  sendRead(c);
}

// sendRead sends c's pending read marker.
function sendRead(c) {
  const id = c.readPending;
  c.readPending = '';
  if (!id || id <= c.read || !S.registered) return;
  c.readSentAt = performance.now();
  const before = c.read;
  c.read = id;
  request({ type: 'MarkReadRequest', [field(c)]: c.name, id }, (f) => {
    if (!f && c.read === id) c.read = before; // the connection dropped: again after the next sign-in
  });
}
afterDraw(markShownRead);
document.addEventListener('visibilitychange', () => render());

// ------------------------------------------------------------ typing

const TYPING_EVERY = 2000; // the server forwards one TypingRequest per 2 s anyway

// typed tells the others that this person types in the conversation shown,
// at most once per TYPING_EVERY.
export function typed() {
  const c = active();
  const now = performance.now();
  if (!c || !$('compose-input').value.trim() || (c.typingSent && now - c.typingSent < TYPING_EVERY)) return;
  c.typingSent = now;
  client.notify({ type: 'TypingRequest', [field(c)]: c.name });
}

// ------------------------------------------------------------ invite and leave

// openPanel unfolds the chat header's invite form or leave confirmation.
function openPanel(panel, target) {
  S.panel = panel;
  setError($('invite-error'), '');
  setError($('leave-error'), '');
  focusAfterDraw(target);
}

// closePanel folds it and gives the focus back to the button that opened it.
function closePanel() {
  const opener = S.panel === 'invite' ? 'invite-btn' : 'leave-btn';
  $('invite-form').reset();
  S.panel = '';
  focusAfterDraw(opener);
}

function invite(e) {
  e.preventDefault();
  const c = active();
  if (!c || isBusy($('invite-send'))) return;
  const err = $('invite-error');
  const picked = [...$('invite-online').querySelectorAll('input:checked')].map((i) => i.value);
  const names = [...new Set(picked.concat($('invite-names').value.split(/[\s,]+/).filter(Boolean)))];
  const bad = names.find((n) => !USERNAME_RE.test(n));
  if (!names.length) return refuse(err, 'Type or pick at least one person.', $('invite-names'));
  if (bad) return refuse(err, '“' + bad + '” is not a valid username.', $('invite-names'));
  busy($('invite-send'), 'Inviting…');
  request({ type: 'ChatInviteRequest', chatname: c.name, usernames: names }, (f) => {
    busy($('invite-send'));
    if (!f || f.status !== 200) return refuse(err, f ? describe(f) : 'Not connected. Try again.', $('invite-names'));
    c.members = f.members;
    announce('Invited ' + names.join(', ') + ' to # ' + c.name + '.');
    closePanel();
  });
}

function leave() {
  const c = active();
  if (!c || isBusy($('leave-yes'))) return;
  busy($('leave-yes'), 'Leaving…');
  request({ type: 'ChatLeaveRequest', chatname: c.name }, (f) => {
    busy($('leave-yes'));
    if (!f || f.status !== 200) return refuse($('leave-error'), f ? describe(f) : 'Not connected. Try again.', $('leave-yes'));
    S.panel = '';
    forget(c.key);
    announce('You left # ' + c.name + '.');
    focusAfterDraw('new-chat-btn');
  });
}

// ------------------------------------------------------------ edit and delete

const messageOf = (id) => active() && active().byId.get(id);

function startEdit(id) {
  Object.assign(S, { editing: id, deleting: '' });
  focusAfterDraw(() => $('edit-' + id));
}

// endEdit closes the edit form; the focus goes back to the message's Edit.
function endEdit(id) {
  S.editing = '';
  focusAfterDraw(() => editButton(id));
}

function saveEdit(form) {
  const m = messageOf(form.dataset.id);
  const box = form.querySelector('textarea');
  const err = form.querySelector('.error');
  const save = form.querySelector('[type=submit]');
  if (!m || isBusy(save)) return;
  const text = box.value.trim();
  if (!text) return refuse(err, 'Write something, or delete the message.', box);
  if (tooLong(text)) return refuse(err, TOO_LONG, box);
  if (text === m.content) return endEdit(m.id);
  busy(save, 'Saving…');
  request({ type: 'EditMessageRequest', id: m.id, content: text }, (f) => {
    busy(save);
    if (!f || f.status !== 200) return refuse(err, f ? describe(f) : 'Not connected. Try again.', box);
    Object.assign(m, { content: text, edited: true });
    announce('Message edited.');
    endEdit(m.id);
  });
}

// keep drops the deletion of message id: the focus goes back to its Delete.
function keep(id) {
  S.deleting = '';
  focusAfterDraw(() => editButton(id)?.nextElementSibling);
}

function confirmDelete(b) {
  const m = messageOf(S.deleting);
  if (!m || isBusy(b)) return;
  busy(b, 'Deleting…');
  request({ type: 'DeleteMessageRequest', id: m.id }, (f) => {
    busy(b);
    if (!f || f.status !== 200) {
      refuse(b.closest('.confirm').querySelector('.question'), f ? describe(f) : 'Not connected. Try again.', b);
      return;
    }
    deleteMessage(m);
    announce('Message deleted.');
    focusAfterDraw('compose-input'); // its buttons are gone with its content
  });
}

// onMessageAction handles the buttons of a message and of its forms.
function onMessageAction(e) {
  const b = e.target.closest('button[data-act]');
  const li = b && b.closest('li[data-id]');
  if (!li) return;
  const id = li.dataset.id;
  switch (b.dataset.act) {
    case 'edit': return startEdit(id);
    case 'edit-cancel': return endEdit(id);
    case 'delete':
      Object.assign(S, { deleting: id, editing: '' });
      return focusAfterDraw(() => li.querySelector('[data-act="delete-keep"]'));
    case 'delete-keep': return keep(id);
    case 'delete-yes': return confirmDelete(b);
  }
}

// closeChange closes what Escape closes here, the innermost first, and
// says whether there was something.
export function closeChange() {
  if (S.editing) endEdit(S.editing);
  else if (S.deleting) keep(S.deleting);
  else if (S.panel) closePanel();
  else return false;
  return true;
}

// leaveConversation forgets the open forms of the conversation shown
// when another is shown.
export function leaveConversation() {
  Object.assign(S, { editing: '', deleting: '', panel: '' });
  $('invite-form').reset();
  setError($('invite-error'), '');
  setError($('leave-error'), '');
}

// ------------------------------------------------------------ wiring

const on = (id, type, fn) => $(id).addEventListener(type, fn);
on('invite-btn', 'click', () => (S.panel === 'invite' ? closePanel() : openPanel('invite', 'invite-names')));
on('leave-btn', 'click', () => (S.panel === 'leave' ? closePanel() : openPanel('leave', 'leave-no')));
on('invite-cancel', 'click', closePanel);
on('leave-no', 'click', closePanel);
on('leave-yes', 'click', leave);
on('invite-form', 'submit', invite);
on('messages', 'click', onMessageAction);
on('messages', 'submit', (e) => { e.preventDefault(); saveEdit(e.target); });
on('messages', 'keydown', (e) => { // in the edit box, Enter saves and Shift+Enter is a new line
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.target.matches('.edit-form textarea')) {
    e.preventDefault();
    e.target.form.requestSubmit();
  }
});
