// Chateau web client, the drawing: the page shows the state (state.js),
// redrawn at most once per burst of frames, always with textContent, never
// from HTML strings. The focus moves only after the redraw that shows its
// target.
'use strict';
import { $, S, sorted } from './state.js';

// ------------------------------------------------------------ rendering

let scheduled = false;
let scrollMode; // 'bottom': show the newest; 'keep': older ones were put above
let focusTarget = ''; // id of the element that gets the focus after the next redraw
export const arrivals = []; // live messages from others not announced yet
// render coalesces the frames of one burst (a replay, say) into one redraw.
export function render(mode) {
  if (mode && scrollMode !== 'bottom') scrollMode = mode;
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => { scheduled = false; const m = scrollMode; scrollMode = undefined; draw(m); }, 0);
}

// focusAfterDraw gives id the focus once the next redraw has shown it: the
// view it is in may still be hidden now, and focus() on a hidden element
// does nothing, leaving the focus behind on what was clicked.
export function focusAfterDraw(id) {
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

export function el(tag, cls, text) {
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
  $('online-count').textContent = S.registered ? String(others.length) : '';
  list.replaceChildren(...others.map((u) => {
    // Named by its content, "Message bob": the visible name is in it.
    return button('person', { user: u }, avatar(u), el('span', 'sr-only', 'Message '), el('span', 'person-name', u), el('span', 'dot'));
  }));
  if (!others.length) list.append(el('li', 'muted small', S.registered ? 'Nobody else is online.' : '…'));
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

export function setError(node, text) { node.textContent = text; node.hidden = !text; }
// refuse shows why a form was not sent and takes the focus to the field at
// fault (the form is on screen: no redraw to wait for).
export function refuse(node, text, field) { setError(node, text); field.focus(); }
export function announce(text) { $('announce').textContent = text; }
// busy marks b as at work (with text) or done (without). aria-disabled, not
// disabled: a disabled button drops the focus, and a keyboard user with it.
export function busy(b, text) {
  b.dataset.label = b.dataset.label || b.textContent;
  b.setAttribute('aria-disabled', String(!!text));
  b.textContent = text || b.dataset.label;
}
export const isBusy = (b) => b.getAttribute('aria-disabled') === 'true';

let alertTimer = 0;
export function showAlert(text) {
  $('alert').textContent = text;
  clearTimeout(alertTimer);
  if (text) alertTimer = setTimeout(() => { $('alert').textContent = ''; }, 6000);
}
