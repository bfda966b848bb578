package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/gorilla/websocket"
)

// startBrowsing starts Chromium and a server without a rate limit on a
// fresh data file.
func startBrowsing(t *testing.T) (context.Context, *process) {
	t.Helper()
	browser := startBrowser(t)
	return browser, startServe(t, filepath.Join(t.TempDir(), "chateau.db"), "-rate-limit", "0")
}

// answer sends req on ws under a fresh messageID and returns the frame
// that answers it, passing over the pushes (deliveries, presence, typing,
// members) that arrive meanwhile.
func answer(t *testing.T, ws *websocket.Conn, req map[string]any) map[string]any {
	t.Helper()
	id := "t" + rand.Text()
	req["messageID"] = id
	if err := ws.WriteJSON(req); err != nil {
		t.Fatal(err)
	}
	for {
		if m := read(t, ws); m["messageID"] == id {
			return m
		}
	}
}

// mustAnswer is answer that fails the test unless the answer is a 200.
func mustAnswer(t *testing.T, ws *websocket.Conn, req map[string]any) map[string]any {
	t.Helper()
	m := answer(t, ws, req)
	if m["status"] != float64(200) {
		t.Fatalf("%v: %v", req["type"], m)
	}
	return m
}

// signedIn dials p and registers name on the new connection.
func signedIn(t *testing.T, p *process, name string) *websocket.Conn {
	t.Helper()
	ws := p.dial(t)
	mustAnswer(t, ws, map[string]any{"type": "RegisterRequest", "username": name})
	return ws
}

// awaitOffline polls ClientListRequest on ws until name is not online.
// (Polled: the server learns asynchronously that a page went away.)
func awaitOffline(t *testing.T, ws *websocket.Conn, name string) {
	t.Helper()
	for deadline := time.Now().Add(browserWait); ; {
		m := mustAnswer(t, ws, map[string]any{"type": "ClientListRequest"})
		if !slices.Contains(m["clients"].([]any), any(name)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is still online: %v", name, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reload takes b's page away and back, and signs in again once watcher
// sees that b's name went offline.
func (b *tab) reload(url string, watcher *websocket.Conn) {
	b.t.Helper()
	b.do("leave", chromedp.Navigate("about:blank"))
	awaitOffline(b.t, watcher, b.name)
	b.do("come back", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("username")), clearForm)
	b.signIn("")
}

// countSends makes b's pages count the frames they send, by type, in
// window.sent: a test can tell that a page does not poll.
func (b *tab) countSends() {
	b.t.Helper()
	const js = `window.sent = {};
	const send = WebSocket.prototype.send;
	WebSocket.prototype.send = function (data) {
		try { const t = JSON.parse(data).type; window.sent[t] = (window.sent[t] || 0) + 1; } catch {}
		return send.call(this, data);
	};`
	b.do("count the frames sent", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		return err
	}))
}

// badge is a condition: the conversation with key shows unread count n
// (0: no badge).
func badge(key, n string) string {
	b := `document.querySelector('.conv-item[data-key="` + key + `"] .badge')`
	if n == "0" {
		return `!!document.querySelector('.conv-item[data-key="` + key + `"]') && !` + b
	}
	return b + `?.textContent === '` + n + `'`
}

// TestBrowser_PresenceLive signs bob in and out beside ann's page: the
// dot of their direct conversation and the list of people online change
// from the PresenceChanged pushes, with the online list asked for once.
func TestBrowser_PresenceLive(t *testing.T) {
	browser, p := startBrowsing(t)
	ann := signedIn(t, p, "ann")
	ann.Close()
	bob := signedIn(t, p, "bob")
	mustAnswer(t, bob, map[string]any{"type": "SingleMessageRequest", "recipient": "ann", "content": "are you around?"})
	bob.Close()
	carl := signedIn(t, p, "carl")
	awaitOffline(t, carl, "bob")
	awaitOffline(t, carl, "ann")

	b := newTab(t, browser, "ann")
	b.countSends()
	b.do("open", chromedp.Navigate("http://"+p.addr+"/"))
	b.signIn("")
	offline := `!!document.querySelector('.conv-item[data-key="d:bob"] .presence:not(.on)')`
	online := `!!document.querySelector('.conv-item[data-key="d:bob"] .presence.on')`
	inList := `!!document.querySelector('#online-list .person[data-user="bob"]')`
	b.waitFor("bob's conversation, offline", offline+` && !`+inList)

	bob = signedIn(t, p, "bob")
	b.waitFor("bob online", online+` && `+inList)
	bob.Close()
	b.waitFor("bob offline again", offline+` && !`+inList)
	bob = signedIn(t, p, "bob")
	b.waitFor("bob online again", online+` && `+inList)
	if n := evalIn[int](b, `window.sent.ClientListRequest`); n != 1 {
		t.Errorf("the page sent %d ClientListRequests, want 1 (at sign-in)", n)
	}
	if got := evalIn[string](b, `document.querySelector('.conv-item[data-key="d:bob"] .presence + .sr-only').textContent`); got != " online" {
		t.Errorf("bob's conversation says %q to a screen reader, want \" online\"", got)
	}
	b.checkConsole()
}

// TestBrowser_UnreadBadges checks that the unread counts come from the
// server (a fresh page, nothing in its storage, shows them), that opening
// a conversation clears its badge for good (after a reload too), and that
// a live message to a conversation not shown counts.
func TestBrowser_UnreadBadges(t *testing.T) {
	browser, p := startBrowsing(t)
	signedIn(t, p, "ann").Close()
	bob := signedIn(t, p, "bob")
	for _, content := range []string{"one", "two"} {
		mustAnswer(t, bob, map[string]any{"type": "SingleMessageRequest", "recipient": "ann", "content": content})
	}
	mustAnswer(t, bob, map[string]any{"type": "GroupMessageInitRequest", "chatname": "club", "recipients": []string{"ann"}, "content": "welcome"})
	mustAnswer(t, bob, map[string]any{"type": "GroupMessageRequest", "chatname": "club", "content": "to the club"})
	awaitOffline(t, bob, "ann")

	url := "http://" + p.addr + "/"
	ann := newTab(t, browser, "ann")
	ann.do("open", chromedp.Navigate(url))
	ann.signIn("")
	ann.waitFor("the unread counts", badge("d:bob", "2")+` && `+badge("c:club", "2"))
	ann.click("open bob", `.conv-item[data-key="d:bob"]`)
	ann.waitFor("bob's messages, the badge gone", shows("two")+` && `+badge("d:bob", "0"))
	// A message sent after the MarkReadRequest, once answered, tells that
	// the server has handled the marker too (one connection's requests are
	// handled in order).
	ann.send("read them")
	ann.reload(url, bob)
	ann.waitFor("after a reload, only club is unread", badge("c:club", "2")+` && `+badge("d:bob", "0"))

	ann.click("open club", `.conv-item[data-key="c:club"]`)
	ann.waitFor("club's messages, the badge gone", shows("to the club")+` && `+badge("c:club", "0"))
	mustAnswer(t, bob, map[string]any{"type": "SingleMessageRequest", "recipient": "ann", "content": "three"})
	ann.waitFor("a live message counts", badge("d:bob", "1")+` && `+badge("c:club", "0"))
	mustAnswer(t, bob, map[string]any{"type": "GroupMessageRequest", "chatname": "club", "content": "seen at once"})
	ann.waitFor("the message in the chat shown", shows("seen at once"))
	if b := evalIn[bool](ann, badge("c:club", "0")); !b {
		t.Errorf("the chat shown has a badge")
	}
	ann.checkConsole()
}

// TestBrowser_InviteAndLeave: bob invites ann to a chat with history; it
// appears on her page without a reload, with the history; she invites cat
// from the chat's header, and leaves: the chat goes from her list, and bob
// is told.
func TestBrowser_InviteAndLeave(t *testing.T) {
	browser, p := startBrowsing(t)
	cat := signedIn(t, p, "cat")
	bob := signedIn(t, p, "bob")
	mustAnswer(t, bob, map[string]any{"type": "GroupMessageInitRequest", "chatname": "team", "recipients": []string{"cat"}, "content": "before ann"})
	mustAnswer(t, bob, map[string]any{"type": "GroupMessageRequest", "chatname": "team", "content": "still before ann"})

	ann := newTab(t, browser, "ann")
	ann.do("open", chromedp.Navigate("http://"+p.addr+"/"))
	ann.signIn("")
	mustAnswer(t, bob, map[string]any{"type": "ChatInviteRequest", "chatname": "team", "usernames": []string{"ann"}})
	ann.waitFor("team appears", `!!document.querySelector('.conv-item[data-key="c:team"]')`)
	ann.click("open team", `.conv-item[data-key="c:team"]`)
	ann.waitFor("its history", shows("before ann")+` && `+shows("still before ann"))
	ann.waitFor("its members", `document.getElementById('conv-sub').textContent === 'ann, bob, cat'`)
	ann.send("thanks for having me")

	// bob leaves; ann sees the members change.
	mustAnswer(t, bob, map[string]any{"type": "ChatLeaveRequest", "chatname": "team"})
	ann.waitFor("bob left", `document.getElementById('conv-sub').textContent === 'ann, cat'`)
	// ann invites bob back from the header, by name.
	ann.do("invite bob", chromedp.Click(chromedp.ID("invite-btn")), chromedp.WaitVisible(chromedp.ID("invite-names")),
		chromedp.SendKeys(chromedp.ID("invite-names"), "bob"), chromedp.Click(chromedp.ID("invite-send")))
	ann.waitFor("bob is back", `document.getElementById('conv-sub').textContent === 'ann, bob, cat' && document.getElementById('invite-form').hidden`)
	if m := mustAnswer(t, bob, map[string]any{"type": "HistoryRequest", "chatname": "team"}); len(m["messages"].([]any)) != 3 {
		t.Errorf("bob, invited back, reads %v", m)
	}

	ann.do("leave", chromedp.Click(chromedp.ID("leave-btn")), chromedp.WaitVisible(chromedp.ID("leave-yes")), chromedp.Click(chromedp.ID("leave-yes")))
	ann.waitFor("team is gone", `!document.querySelector('.conv-item[data-key="c:team"]') && !document.getElementById('view-empty').hidden`)
	ann.expectFocus("leaving", "#new-chat-btn", `button "New chat"`)
	m := mustAnswer(t, cat, map[string]any{"type": "ChatListRequest"})
	for _, c := range m["chats"].([]any) {
		if c := c.(map[string]any); c["chatname"] == "team" && fmt.Sprint(c["members"]) != "[bob cat]" {
			t.Errorf("after ann left, team's members are %v", c["members"])
		}
	}
	ann.checkConsole()
}

// TestBrowser_EditDeleteTyping: ann edits and deletes her messages; bob's
// page shows it live, and after a reload. bob types: ann's page says so,
// then not.
func TestBrowser_EditDeleteTyping(t *testing.T) {
	browser, p := startBrowsing(t)
	watcher := signedIn(t, p, "watcher")
	url := "http://" + p.addr + "/"
	ann := newTab(t, browser, "ann")
	bob := newTab(t, browser, "bob")
	ann.do("open", chromedp.Navigate(url))
	bob.do("open", chromedp.Navigate(url))
	// bob first: ann learns who is online at sign-in, and of strangers
	// only then (PresenceChanged is for those who share a conversation).
	bob.signIn("")
	ann.signIn("")
	ann.click("open bob", `#online-list .person[data-user="bob"]`)
	ann.send("helo bob")
	ann.send("sent by mistake")
	bob.click("open ann", `.conv-item[data-key="d:ann"]`)
	bob.waitFor("ann's messages", shows("helo bob")+` && `+shows("sent by mistake"))

	ann.do("edit", chromedp.Click(chromedp.CSS(`#messages li.mine:first-child [data-act="edit"]`), chromedp.NodeVisible))
	ann.waitFor("the edit form", `document.activeElement.matches('.edit-form textarea')`)
	ann.do("correct it", chromedp.Evaluate[chromedp.Void](`document.activeElement.value = ''`),
		chromedp.SendKeys(chromedp.CSS(`.edit-form textarea`), "hello bob"), pressEnter)
	ann.waitFor("the edit is stored", shows("hello bob")+` && !document.querySelector('.edit-form')`)
	ann.do("delete", chromedp.Click(chromedp.CSS(`#messages li.mine:last-child [data-act="delete"]`), chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS(`[data-act="delete-yes"]`), chromedp.NodeVisible))
	ann.waitFor("the deletion is stored", `document.querySelector('#messages li.mine:last-child').classList.contains('deleted')`)

	edited := `[...document.querySelectorAll('#messages li')].some((li) => li.querySelector('.bubble').textContent === 'hello bob' && !li.querySelector('.edited').hidden)`
	deleted := `[...document.querySelectorAll('#messages li.deleted .bubble')].map((e) => e.textContent).join('|') === 'This message was deleted' && !document.body.innerText.includes('sent by mistake')`
	for _, b := range []*tab{bob, ann} {
		b.waitFor("the edit and the deletion", edited+` && `+deleted)
	}
	bob.reload(url, watcher)
	bob.click("open ann", `.conv-item[data-key="d:ann"]`)
	bob.waitFor("after a reload, the edit and the deletion", edited+` && `+deleted)

	// bob types without sending: ann's page says so for a while.
	bob.do("type", chromedp.SendKeys(chromedp.ID("compose-input"), "let me think"))
	ann.waitFor("bob is typing", `document.getElementById('typing').textContent === 'bob is typing…'`)
	ann.waitFor("bob is not typing any more", `document.getElementById('typing').textContent === ''`)
	ann.checkConsole()
	bob.checkConsole()
}

// TestBrowser_KeyboardInviteAndEdit drives the invite form, the edit form
// and the deletion's confirmation with keys alone, checking where the
// focus lands after each step: Escape cancels and gives the focus back to
// the button that opened what it closes.
func TestBrowser_KeyboardInviteAndEdit(t *testing.T) {
	browser, p := startBrowsing(t)
	signedIn(t, p, "ann").Close()
	bob := signedIn(t, p, "bob")
	cat := signedIn(t, p, "cat")
	mustAnswer(t, bob, map[string]any{"type": "GroupMessageInitRequest", "chatname": "pair", "recipients": []string{"ann"}, "content": "hi ann"})

	ann := newTab(t, browser, "ann")
	awaitOffline(t, bob, "ann")
	ann.do("open", chromedp.Navigate("http://"+p.addr+"/"))
	ann.expectFocus("loading the page", "#username", `textbox "Username"`)
	ann.press("type the name", "ann")
	ann.do("sign in", pressEnter)
	ann.expectFocus("signing in", "#new-chat-btn", `button "New chat"`)
	ann.tabTo(`.conv-item[data-key="c:pair"]`, false)
	ann.do("open pair", pressEnter)
	ann.expectFocus("opening pair", "#compose-input", `textbox "Message"`)

	ann.tabTo("#invite-btn", true)
	ann.expectFocus("Shift+Tab to Invite", "#invite-btn", `button "Invite people"`)
	ann.do("open the invite form", pressEnter)
	ann.expectFocus("Invite people", "#invite-names", `textbox "People to invite (names, separated by commas or spaces)"`)
	ann.press("escape", kb.Escape)
	ann.expectFocus("Escape in the invite form", "#invite-btn", `button "Invite people"`)
	ann.waitFor("the form is closed", `document.getElementById('invite-form').hidden`)
	ann.do("open the invite form", pressEnter)
	ann.expectFocus("Invite people", "#invite-names", `textbox "People to invite (names, separated by commas or spaces)"`)
	ann.press("name cat", "cat")
	ann.do("invite", pressEnter)
	ann.expectFocus("inviting", "#invite-btn", `button "Invite people"`)
	ann.waitFor("cat is a member", `document.getElementById('conv-sub').textContent === 'ann, bob, cat'`)
	if m := mustAnswer(t, cat, map[string]any{"type": "HistoryRequest", "chatname": "pair"}); len(m["messages"].([]any)) != 1 {
		t.Errorf("cat, invited, reads %v", m)
	}

	ann.tabTo("#compose-input", false)
	ann.press("write", "first try")
	ann.do("send", pressEnter)
	ann.waitFor("it is stored", shows("first try"))
	edit := `#messages li.mine [data-act="edit"]`
	ann.tabTo(edit, true)
	ann.expectFocus("Shift+Tab to Edit", edit, `button "Edit your message: first try"`)
	ann.do("edit", pressEnter)
	ann.expectFocus("Edit", ".edit-form textarea", `textbox "Edit your message"`)
	ann.press("escape", kb.Escape)
	ann.expectFocus("Escape in the edit form", edit, `button "Edit your message: first try"`)
	ann.do("edit again", pressEnter)
	ann.expectFocus("Edit", ".edit-form textarea", `textbox "Edit your message"`)
	ann.press("rub it out", strings.Repeat(kb.Backspace, len("first try")))
	ann.press("rewrite", "second try")
	ann.do("save", pressEnter)
	ann.expectFocus("saving", edit, `button "Edit your message: second try"`)
	ann.waitFor("the edit is shown", shows("second try")+` && !document.querySelector('#messages li.mine .edited').hidden`)

	del := `#messages li.mine [data-act="delete"]`
	ann.press("go to Delete", kb.Tab)
	ann.expectFocus("Tab from Edit", del, `button "Delete your message: second try"`)
	ann.do("delete", pressEnter)
	ann.expectFocus("Delete", `[data-act="delete-keep"]`, `button "Keep it"`)
	ann.press("escape", kb.Escape)
	ann.expectFocus("Escape in the confirmation", del, `button "Delete your message: second try"`)
	ann.do("delete", pressEnter)
	ann.expectFocus("Delete", `[data-act="delete-keep"]`, `button "Keep it"`)
	ann.press("back to the confirmation", kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
	ann.expectFocus("Shift+Tab from Keep it", `[data-act="delete-yes"]`, `button "Delete for everyone"`)
	ann.do("confirm", pressEnter)
	ann.expectFocus("deleting", "#compose-input", `textbox "Message"`)
	ann.waitFor("the message is deleted", `!!document.querySelector('#messages li.mine.deleted') && !`+shows("second try"))
	ann.checkConsole()
}

// TestBrowser_ChangePassword: ann, signed in without a password, sets one
// from the Password form; a wrong current password is refused in words;
// after signing out, her name needs the new password.
func TestBrowser_ChangePassword(t *testing.T) {
	browser, p := startBrowsing(t)
	watcher := signedIn(t, p, "watcher")
	ann := newTab(t, browser, "ann")
	ann.do("open", chromedp.Navigate("http://"+p.addr+"/"))
	ann.signIn("")
	ann.do("set a password", chromedp.Click(chromedp.ID("password-btn")), chromedp.WaitVisible(chromedp.ID("new-password")),
		chromedp.SendKeys(chromedp.ID("new-password"), "ann's new password"), chromedp.Click(chromedp.ID("password-save")))
	ann.waitFor("it is set", `document.getElementById('password-result').textContent.startsWith('Password changed.')`)
	ann.checkAxe("password form, changed")
	ann.do("change it with a wrong one", chromedp.SendKeys(chromedp.ID("old-password"), "not ann's password"),
		chromedp.SendKeys(chromedp.ID("new-password"), "another password"), chromedp.Click(chromedp.ID("password-save")))
	ann.waitFor("the refusal", `document.getElementById('password-error').textContent === 'That is not your current password.'`)
	ann.checkAxe("password form, refused")

	ann.do("sign out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("username")))
	awaitOffline(t, watcher, "ann")
	if m := answer(t, p.dial(t), map[string]any{"type": "RegisterRequest", "username": "ann"}); m["status"] != float64(401) {
		t.Errorf("ann without a password: %v, want 401", m)
	}
	ann.do("clear the form", clearForm)
	ann.signIn("ann's new password")
	ann.checkConsole()
}
