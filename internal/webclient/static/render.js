// Chateau web client, the drawing: the page shows the state (state.js),
// redrawn at most once per burst of frames, always with textContent, never
// from HTML strings. The focus moves only after the redraw that shows its
// target.
'use strict';
import { $, S } from './state.js';
import { drawMessages } from './messages.js';

// ------------------------------------------------------------ rendering

let scheduled = false;
let scrollMode; // 'bottom': show the newest; 'keep': older ones were put above
let focusTarget = null; // what gets the focus after the next redraw: an id, or a function finding it
const drawn = []; // functions called after each redraw
export const arrivals = []; // live messages from others not announced yet
// render coalesces the frames of one burst (a replay, say) into one redraw.
export function render(mode) {
  if (mode && scrollMode !== 'bottom') scrollMode = mode;
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => { scheduled = false; const m = scrollMode; scrollMode = undefined; draw(m); }, 0);
}

// focusAfterDraw gives target (an id, or a function that finds the
// element) the focus once the next redraw has shown it: the view it is in
// may still be hidden now, and focus() on a hidden element does nothing,
// leaving the focus behind on what was clicked.
export function focusAfterDraw(target) {
  focusTarget = target;
  render();
}

// afterDraw has fn called after every redraw, with what is shown drawn.
export function afterDraw(fn) { drawn.push(fn); }

function draw(mode) {
  announceArrivals();
  document.body.classList.toggle('sidebar-closed', S.narrow && !S.sidebarOpen);
  $('sidebar-toggle').setAttribute('aria-expanded', String(!S.narrow || S.sidebarOpen));
  keepFocus($('conv-list'), 'key', drawConvList);
  keepFocus($('online-list'), 'user', drawOnline);
  const view = S.view === 'conv' && !S.active ? 'empty' : S.view;
  for (const v of ['empty', 'conv', 'new', 'random', 'password']) $('view-' + v).hidden = v !== view;
  if (view === 'new') drawChecks($('recipients'), $('recipients-empty'), S.online.filter((u) => u !== S.me));
  if (view === 'conv') drawConv(S.convs.get(S.active), mode);
  if (focusTarget) {
    const t = typeof focusTarget === 'function' ? focusTarget() : $(focusTarget);
    focusTarget = null;
    if (t) t.focus();
  }
  for (const fn of drawn) fn();
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

// plainButton is a button (not a submit) with data attributes.
export function plainButton(cls, data, ...children) {
  const b = el('button', cls);
  b.type = 'button';
  Object.assign(b.dataset, data);
  b.append(...children);
  return b;
}

// button is a plainButton in a list item.
function button(cls, data, ...children) {
  const li = el('li');
  li.append(plainButton(cls, data, ...children));
  return li;
}

// avatar: the initial on a colour derived from the name, the same everywhere.
export function avatar(name) {
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
    const p = c.preview;
    const preview = p ? (p.sender === S.me ? 'You: ' : '') + (p.deleted ? 'This message was deleted' : p.content) : c.members.join(', ');
    text.append(el('span', 'conv-name', label), el('span', 'conv-preview', preview));
    const li = button('conv-item', { key: c.key }, avatar(c.kind === 'chat' ? '#' + c.name : c.name), text);
    const b = li.firstChild;
    // A direct conversation shows whether the other party is online: a
    // dot, said in words.
    if (c.kind === 'direct') {
      const on = S.online.includes(c.name);
      b.append(el('span', 'presence' + (on ? ' on' : '')), el('span', 'sr-only', on ? ' online' : ' offline'));
    }
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

// drawChecks puts a checkbox for each of names into box (a fieldset), or
// shows empty when there are none.
function drawChecks(box, empty, names) {
  // Rebuilt only when the people change, so that a focused box keeps focus.
  if (box.dataset.names === names.join(' ')) return;
  box.dataset.names = names.join(' ');
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  const had = box.contains(document.activeElement) ? document.activeElement.value : null;
  box.querySelectorAll('.check').forEach((n) => n.remove());
  for (const u of names) {
    const label = el('label', 'check');
    const input = Object.assign(el('input'), { type: 'checkbox', value: u, checked: checked.has(u) });
    label.append(input, ' ' + u);
    box.append(label);
    if (u === had) input.focus();
  }
  empty.hidden = names.length > 0;
}

function drawConv(c, mode) {
  $('conv-title').textContent = (c.kind === 'chat' ? '# ' : '') + c.name;
  $('conv-sub').textContent = c.kind === 'chat' ? c.members.join(', ') : S.online.includes(c.name) ? 'online' : 'offline';
  drawPanels(c);
  // The last page loaded takes the button away: its focus goes to the
  // messages rather than to nowhere.
  if (!c.more && document.activeElement === $('older')) $('scroller').focus();
  $('older').hidden = !c.more;
  $('older').setAttribute('aria-disabled', String(c.loading)); // not disabled: see busy
  setError($('history-state'), c.error || (c.loading ? 'Loading…' : c.loaded && !c.more && c.msgs.size ? 'Beginning of the conversation' : ''));

  const sc = $('scroller');
  const atBottom = sc.scrollHeight - sc.scrollTop - sc.clientHeight < 40;
  const fromBottom = sc.scrollHeight - sc.scrollTop;
  drawMessages(c);
  if (mode === 'keep') sc.scrollTop = sc.scrollHeight - fromBottom;
  else if (mode === 'bottom' || atBottom) sc.scrollTop = sc.scrollHeight;
  drawTyping(c);
}

// drawPanels shows a chat's Invite and Leave buttons in its header and,
// unfolded below them, the invite form or the leave confirmation.
function drawPanels(c) {
  const chat = c.kind === 'chat';
  $('chat-actions').hidden = !chat;
  const panel = chat ? S.panel : '';
  $('invite-form').hidden = panel !== 'invite';
  $('leave-confirm').hidden = panel !== 'leave';
  $('invite-btn').setAttribute('aria-expanded', String(panel === 'invite'));
  $('leave-btn').setAttribute('aria-expanded', String(panel === 'leave'));
  $('leave-name').textContent = '# ' + c.name;
  if (panel === 'invite') {
    drawChecks($('invite-online'), $('invite-online-empty'), S.online.filter((u) => u !== S.me && !c.members.includes(u)));
  }
}

// drawTyping says who is typing in c; the text changes only when the
// people do, so that the live region speaks once.
function drawTyping(c) {
  const names = [...c.typing.keys()];
  const text = names.length === 0 ? '' : names.length === 1 ? names[0] + ' is typing…'
    : names.length === 2 ? names[0] + ' and ' + names[1] + ' are typing…' : 'Several people are typing…';
  if ($('typing').textContent !== text) $('typing').textContent = text;
}

export function setError(node, text) { node.textContent = text; node.hidden = !text; }
// refuse shows why a form was not sent and takes the focus to the field at
// fault (the form is on screen: no redraw to wait for).
export function refuse(node, text, field) { setError(node, text); field.focus(); }
export function announce(text) { $('announce').textContent = text; }

// unannounce empties the live region if it still reads out text: the words
// of a message deleted since must not stay on the page.
export function unannounce(text) {
  if (text && $('announce').textContent.includes(text.slice(0, 200))) announce('');
}
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
