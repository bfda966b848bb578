package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"
)

// tabLimit bounds the Tab presses that look for an element: more means it
// is out of the keyboard's reach, or far down a long tab order.
const tabLimit = 40

// press sends keys to the focused element as key events, as a keyboard
// does: printable ones type, kb.Tab moves the focus, kb.Escape cancels.
func (b *tab) press(what string, keys string, opts ...chromedp.KeyOption) {
	b.t.Helper()
	b.do(what, chromedp.KeyEvent(keys, opts...))
}

// matchesFocus is a JavaScript condition: the focused element matches css.
func matchesFocus(css string) string {
	return `!!document.activeElement && document.activeElement.matches(` + strconv.Quote(css) + `)`
}

// tabTo presses Tab (Shift+Tab with back) until the element css selects
// has the focus, and fails if it is not reached within tabLimit presses.
func (b *tab) tabTo(css string, back bool) {
	b.t.Helper()
	var opts []chromedp.KeyOption
	if back {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	for range tabLimit {
		if evalIn[bool](b, matchesFocus(css)) {
			return
		}
		b.press("Tab to "+css, kb.Tab, opts...)
	}
	b.t.Fatalf("%s: %s not reached in %d Tab presses; the focus is on %s", b.name, css, tabLimit, b.focused())
}

// expectFocus waits until the element css selects has the focus (the page
// may move it after a redraw), then checks the role and name that
// Chromium's accessibility tree gives it, want as `role "name"`: what a
// screen reader says on arriving there.
func (b *tab) expectFocus(step, css, want string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	cond := chromedp.Poll[chromedp.Void](matchesFocus(css), chromedp.WithPollingTimeout(browserWait))
	if err := chromedp.Do(ctx, cond); err != nil {
		b.t.Fatalf("%s, after %s: the focus should be on %s, it is on %s", b.name, step, css, b.focused())
	}
	if got := b.focused(); got != want {
		b.t.Errorf("%s, after %s: the focus is on %s, want %s", b.name, step, got, want)
	}
}

// focused describes the focused element by the role and name that
// Chromium's accessibility tree gives it.
func (b *tab) focused() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	s, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (string, error) {
		nodes, err := axNodes(ctx, t, `document.activeElement`, false)
		if err != nil || len(nodes) == 0 {
			return "", err
		}
		return axText(nodes[0].Role) + " " + strconv.Quote(axText(nodes[0].Name)), nil
	})
	if err != nil {
		b.t.Fatalf("%s: the focused element: %v", b.name, err)
	}
	return s
}

// axNodes returns the accessibility node of the element that expr
// evaluates to or, with subtree, the text nodes below it (those ignored,
// hidden from assistive technology, included and marked so).
func axNodes(ctx context.Context, t *chromedp.Target, expr string, subtree bool) ([]*accessibility.Node, error) {
	obj, err := chromedp.Evaluate[*runtime.RemoteObject](expr)(ctx, t)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Only frees the handle early: the page keeps it until it navigates.
		_, _ = cdp.Call(ctx, t, runtime.ReleaseObject, runtime.ReleaseObjectParams{ObjectID: obj.ObjectID})
	}()
	if subtree {
		r, err := cdp.Call(ctx, t, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{ObjectID: obj.ObjectID, Role: "StaticText"})
		return r.Nodes, err
	}
	r, err := cdp.Call(ctx, t, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{ObjectID: obj.ObjectID, FetchRelatives: new(false)})
	return r.Nodes, err
}

// axText is the string in an accessibility value, or "" for none.
func axText(v *accessibility.Value) string {
	var s string
	if v != nil {
		_ = json.Unmarshal(v.Value, &s) // a non-string stays ""
	}
	return s
}

// spokenMessages returns the text a screen reader reads in each message
// of the open conversation: the text nodes of Chromium's accessibility tree
// below each, skipping the ones hidden from it.
func (b *tab) spokenMessages() []string {
	b.t.Helper()
	n := evalIn[int](b, `document.querySelectorAll('#messages > li').length`)
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	out := make([]string, n)
	for i := range n {
		nodes, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]*accessibility.Node, error) {
			return axNodes(ctx, t, `document.querySelectorAll('#messages > li')[`+strconv.Itoa(i)+`]`, true)
		})
		if err != nil {
			b.t.Fatalf("%s: the accessibility tree of message %d: %v", b.name, i, err)
		}
		var words []string
		for _, node := range nodes {
			if !node.Ignored {
				words = append(words, axText(node.Name))
			}
		}
		out[i] = strings.Join(words, " ")
	}
	return out
}

// TestBrowser_KeyboardOnly drives the web client with key events alone
// (Tab, Shift+Tab, Enter, Space, Escape and typing) and checks after each
// step where the focus is and what a screen reader would say there: sign
// in, a new chat, sending, first opening of a conversation, Cancel, Escape,
// a random message. Then what a screen reader reads: every message with
// its author, and the arrivals in the live region. Last, Escape folds the
// conversation list on a phone-sized screen.
func TestBrowser_KeyboardOnly(t *testing.T) {
	browser := startBrowser(t)
	p := startServe(t, filepath.Join(t.TempDir(), "chateau.db"), "-rate-limit", "0")
	bob := p.dial(t)
	ack(t, bob, map[string]any{"type": "RegisterRequest", "username": "bob"})

	ann := newTab(t, browser, "ann")
	ann.do("open", chromedp.Navigate("http://"+p.addr+"/"))
	ann.expectFocus("loading the page", "#username", `textbox "Username"`)
	ann.press("type the name", "ann")
	ann.do("sign in", pressEnter)
	ann.expectFocus("signing in", "#new-chat-btn", `button "New chat"`)

	keyboardNewChat(ann)
	keyboardCancelAndEscape(ann)
	keyboardOpenConversation(t, ann, bob)
	keyboardRandom(ann)
	screenReaderMessages(t, ann, bob)
	keyboardPhoneSidebar(ann)
}

// keyboardNewChat creates chat "pair" with bob from the New chat form and
// sends a message in it.
func keyboardNewChat(ann *tab) {
	ann.t.Helper()
	ann.do("open the new-chat form", pressEnter)
	ann.expectFocus("New chat", "#chat-name", `textbox "Chat name"`)
	ann.press("name the chat", "pair")
	ann.waitFor("bob is listed", `!!document.querySelector('#recipients input[value="bob"]')`)
	ann.press("go to the people", kb.Tab)
	ann.expectFocus("Tab from the name", `#recipients input[value="bob"]`, `checkbox "bob"`)
	ann.press("tick bob", " ")
	ann.waitFor("bob is ticked", `document.querySelector('#recipients input[value="bob"]').checked`)
	ann.press("go to the other people", kb.Tab)
	ann.expectFocus("Tab from bob", "#other-recipients", `textbox "Other people (names, separated by commas or spaces)"`)
	ann.press("go to the first message", kb.Tab)
	ann.expectFocus("Tab from the other people", "#first-message", `textbox "First message"`)
	ann.press("write it", "hi bob")
	ann.press("go to Create chat", kb.Tab)
	ann.expectFocus("Tab from the message", "#create-chat", `button "Create chat"`)
	ann.do("create the chat", pressEnter)
	ann.expectFocus("Create chat", "#compose-input", `textbox "Message"`)
	ann.waitFor("pair is open", `document.getElementById('conv-title').textContent === '# pair'`)

	ann.press("write in pair", "anyone there?")
	ann.do("send it", pressEnter)
	ann.waitFor("the message is stored", shows("anyone there?"))
	ann.expectFocus("sending", "#compose-input", `textbox "Message"`)
}

// keyboardCancelAndEscape leaves the New chat form by Cancel and the
// random form by Escape: each time the focus goes back to the button that
// opened the form, and the pane to the conversation.
func keyboardCancelAndEscape(ann *tab) {
	ann.t.Helper()
	ann.tabTo("#new-chat-btn", true)
	ann.do("open the new-chat form", pressEnter)
	ann.expectFocus("New chat", "#chat-name", `textbox "Chat name"`)
	ann.tabTo("#view-new .cancel", false)
	ann.do("cancel", pressEnter)
	ann.expectFocus("Cancel", "#new-chat-btn", `button "New chat"`)
	ann.waitFor("pair is shown again", `!document.getElementById('view-conv').hidden && document.getElementById('view-new').hidden`)

	ann.press("go to Random", kb.Tab)
	ann.expectFocus("Tab from New chat", "#random-btn", `button "Random"`)
	ann.do("open the random form", pressEnter)
	ann.expectFocus("Random", "#random-message", `textbox "Message"`)
	ann.press("write something", "never sent")
	ann.press("escape", kb.Escape)
	ann.expectFocus("Escape in the random form", "#random-btn", `button "Random"`)
	ann.waitFor("pair is shown again", `!document.getElementById('view-conv').hidden && document.getElementById('view-random').hidden`)

	ann.tabTo("#new-chat-btn", true)
	ann.do("open the new-chat form", pressEnter)
	ann.expectFocus("New chat", "#chat-name", `textbox "Chat name"`)
	ann.press("escape", kb.Escape)
	ann.expectFocus("Escape in the new-chat form", "#new-chat-btn", `button "New chat"`)
}

// keyboardOpenConversation opens, for the first time, a chat that bob
// started: the focus must wait for the conversation to be drawn.
func keyboardOpenConversation(t *testing.T, ann *tab, bob *websocket.Conn) {
	t.Helper()
	ack(t, bob, map[string]any{"type": "GroupMessageInitRequest", "chatname": "club", "recipients": []string{"ann"}, "content": "welcome"})
	ann.waitFor("club is listed", `!!document.querySelector('.conv-item[data-key="c:club"] .badge')`)
	ann.tabTo(`.conv-item[data-key="c:club"]`, false)
	ann.expectFocus("Tab to club", `.conv-item[data-key="c:club"]`, `button "# club welcome 1 unread"`)
	ann.do("open club", pressEnter)
	ann.expectFocus("opening club", "#compose-input", `textbox "Message"`)
	ann.waitFor("club's history", shows("welcome"))
}

// keyboardRandom sends a message at random (bob is the only one online)
// and opens the conversation it went to from the result.
func keyboardRandom(ann *tab) {
	ann.t.Helper()
	ann.tabTo("#random-btn", true)
	ann.do("open the random form", pressEnter)
	ann.expectFocus("Random", "#random-message", `textbox "Message"`)
	ann.press("write", "hello, stranger")
	ann.press("go to Send", kb.Tab)
	ann.expectFocus("Tab from the message", "#random-send", `button "Send to someone"`)
	ann.do("send at random", pressEnter)
	ann.waitFor("the result", `document.getElementById('random-result').textContent.startsWith('Sent to bob.')`)
	// The result stands above the buttons: back one step.
	ann.press("go to the result's link", kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
	ann.expectFocus("Shift+Tab from Send", "#random-result button", `button "Open the conversation"`)
	ann.do("open the conversation", pressEnter)
	ann.expectFocus("Open the conversation", "#compose-input", `textbox "Message"`)
	ann.waitFor("bob's conversation", `document.getElementById('conv-title').textContent === 'bob' && `+shows("hello, stranger"))
}

// screenReaderMessages checks what a screen reader reads in a conversation
// that has own messages and follow-ups from one sender, visually grouped
// without a name: each message with its author. And that a burst of
// arrivals is announced in one sentence.
func screenReaderMessages(t *testing.T, ann *tab, bob *websocket.Conn) {
	t.Helper()
	ann.press("write again", "are you there?")
	ann.do("send it", pressEnter)
	ann.waitFor("it is stored", shows("are you there?"))
	ack(t, bob, map[string]any{"type": "SingleMessageRequest", "recipient": "ann", "content": "yes"})
	ack(t, bob, map[string]any{"type": "SingleMessageRequest", "recipient": "ann", "content": "just here"})
	ann.waitFor("bob's answers", shows("just here"))
	ann.waitFor("an announcement", `document.getElementById('announce').textContent.startsWith('bob: just here') || document.getElementById('announce').textContent === '2 new messages, from bob.'`)

	got := ann.spokenMessages()
	t.Logf("a screen reader reads the messages as %q", got)
	want := []string{"You random", "You", "bob", "bob"}
	contents := []string{"hello, stranger", "are you there?", "yes", "just here"}
	if len(got) != len(want) {
		t.Fatalf("a screen reader reads %q, want %d messages", got, len(want))
	}
	for i, s := range got {
		if !strings.HasPrefix(s, want[i]+" ") || !strings.Contains(s, contents[i]) {
			t.Errorf("message %d reads %q, want it to start with %q and say %q", i, s, want[i], contents[i])
		}
	}
	if n := evalIn[int](ann, `document.querySelectorAll('#messages li.cont').length`); n != 2 {
		t.Errorf("%d messages are grouped under the one before, want 2 (own and bob's follow-ups)", n)
	}
}

// keyboardPhoneSidebar folds the conversation list, open over a
// phone-sized screen, with Escape: the focus goes to the button that
// unfolds it again.
func keyboardPhoneSidebar(ann *tab) {
	ann.t.Helper()
	ann.do("phone viewport", chromedp.EmulateViewport(390, 760))
	ann.waitFor("the list is unfolded", `getComputedStyle(document.getElementById('sidebar-toggle')).display !== 'none' && !document.body.classList.contains('sidebar-closed')`)
	ann.tabTo("#new-chat-btn", true)
	ann.press("escape", kb.Escape)
	ann.expectFocus("Escape in the list", "#sidebar-toggle", `button "Chats"`)
	ann.waitFor("the list is folded", `document.body.classList.contains('sidebar-closed') && document.getElementById('sidebar-toggle').getAttribute('aria-expanded') === 'false'`)
	ann.do("unfold it", pressEnter)
	ann.waitFor("the list is unfolded", `!document.body.classList.contains('sidebar-closed') && document.getElementById('sidebar-toggle').getAttribute('aria-expanded') === 'true'`)
	ann.expectFocus("Enter on Chats", "#sidebar-toggle", `button "Chats"`)
}
