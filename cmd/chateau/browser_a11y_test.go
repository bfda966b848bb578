package main

import (
	"context"
	_ "embed"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
)

// axeSource is axe-core, vendored (see testdata/axe/README.md) so that the
// tests need no network.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// axeRun checks the whole document against the WCAG 2.1 A and AA rules and
// axe's best practices, and returns each violation with the nodes at fault.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})
	.then((r) => r.violations.map((v) => ({id: v.id, impact: v.impact || '', help: v.help,
		nodes: v.nodes.map((n) => JSON.stringify(n.target) + ': ' + n.failureSummary.replace(/\s+/g, ' '))})))`

// axeViolation is one rule that failed on a page.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// checkAxe runs axe-core on b's page as it is now, named view in the
// report, and fails the test with every violation. It returns the
// violations' rule ids (for the tally a test may log).
func (b *tab) checkAxe(view string) []string {
	b.t.Helper()
	// A navigation drops the script: inject it again where it is missing.
	if !evalIn[bool](b, `typeof axe === 'object'`) {
		b.do("inject axe-core", chromedp.Evaluate[chromedp.Void](axeSource))
	}
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: axe on %s: %v", b.name, view, err)
	}
	var ids []string
	for _, v := range found {
		ids = append(ids, v.ID)
		b.t.Errorf("%s, %s: axe %s (%s): %s\n\t%s", b.name, view, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
	return ids
}

// tally counts rule ids, for a summary line in the test's log.
func tally(ids []string) string {
	n := map[string]int{}
	for _, id := range ids {
		n[id]++
	}
	var parts []string
	for id, c := range n {
		parts = append(parts, fmt.Sprintf("%s=%d", id, c))
	}
	if len(parts) == 0 {
		return "none"
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// TestBrowser_AxeEveryView walks the web client through each of its views
// and states, errors included, and runs axe-core on each: none may have a
// violation. bob and cat chat from sockets, so that the page shows several
// senders, grouped follow-ups and its own messages.
func TestBrowser_AxeEveryView(t *testing.T) {
	browser := startBrowser(t)
	data := filepath.Join(t.TempDir(), "chateau.db")
	p := startServe(t, data, "-rate-limit", "0")
	bob, cat := p.dial(t), p.dial(t)
	ack(t, bob, map[string]any{"type": "RegisterRequest", "username": "bob", "password": "bob's password"})
	ack(t, cat, map[string]any{"type": "RegisterRequest", "username": "cat"})

	var found []string
	ann := newTab(t, browser, "ann")
	ann.do("open", chromedp.Navigate("http://"+p.addr+"/"), chromedp.WaitVisible(chromedp.ID("username")))
	found = append(found, ann.checkAxe("sign-in")...)
	ann.do("sign in with a wrong password", clearForm,
		chromedp.SendKeys(chromedp.ID("username"), "bob"),
		chromedp.SendKeys(chromedp.ID("password"), "not bob's password\n"))
	ann.waitFor("the sign-in error", `document.getElementById('login-error').textContent === 'Wrong username or password.'`)
	found = append(found, ann.checkAxe("sign-in error")...)

	ann.do("clear the form", clearForm)
	ann.signIn("")
	found = append(found, ann.checkAxe("main view, nothing open")...)

	found = append(found, axeConversations(t, ann, bob, cat)...)
	found = append(found, axeForms(ann)...)
	found = append(found, axeChanges(t, ann, bob, cat)...)
	found = append(found, axeFailures(t, ann, p, data)...)
	t.Logf("axe violations by rule: %s", tally(found))
}

// axeConversations checks a group conversation (several senders, grouped
// follow-ups, own messages; also on a phone-sized screen) and a direct one.
func axeConversations(t *testing.T, ann *tab, bob, cat *websocket.Conn) []string {
	t.Helper()
	ack(t, bob, map[string]any{"type": "GroupMessageInitRequest", "chatname": "trio", "recipients": []string{"ann", "cat"}, "content": "hello both"})
	ack(t, bob, map[string]any{"type": "GroupMessageRequest", "chatname": "trio", "content": "plans for today?"})
	ack(t, cat, map[string]any{"type": "GroupMessageRequest", "chatname": "trio", "content": "a walk"})
	ann.waitFor("three unread", `document.querySelector('.conv-item[data-key="c:trio"] .badge')?.textContent === '3'`)
	found := ann.checkAxe("a conversation with unread messages")
	ann.click("open trio", `.conv-item[data-key="c:trio"]`)
	ann.waitFor("cat's message", shows("a walk"))
	ann.send("count me in")
	ann.send("at noon?")
	found = append(found, ann.checkAxe("group conversation")...)
	ann.do("phone viewport", chromedp.EmulateViewport(390, 760))
	found = append(found, ann.checkAxe("group conversation on a phone")...)
	ann.do("desktop viewport", chromedp.EmulateViewport(1100, 720))

	ack(t, bob, map[string]any{"type": "SingleMessageRequest", "recipient": "ann", "content": "just you and me"})
	ann.click("open bob", `.conv-item[data-key="d:bob"]`)
	ann.waitFor("bob's direct message", shows("just you and me"))
	ann.send("yes?")
	return append(found, ann.checkAxe("direct conversation")...)
}

// axeForms checks the new-chat and random forms, empty, refused and sent.
func axeForms(ann *tab) []string {
	ann.do("open the new-chat form", chromedp.Click(chromedp.ID("new-chat-btn")), chromedp.WaitVisible(chromedp.ID("chat-name")))
	ann.waitFor("the people online", `!!document.querySelector('#recipients input[value="bob"]')`)
	found := ann.checkAxe("new-chat form")
	ann.do("submit both forms empty", chromedp.Click(chromedp.ID("create-chat")), chromedp.Click(chromedp.ID("dm-open")))
	ann.waitFor("both errors", `!document.getElementById('new-error').hidden && !document.getElementById('dm-error').hidden`)
	found = append(found, ann.checkAxe("new-chat form, refused")...)

	ann.do("open the random form", chromedp.Click(chromedp.ID("random-btn")), chromedp.WaitVisible(chromedp.ID("random-message")))
	found = append(found, ann.checkAxe("random form")...)
	ann.do("send nothing at random", chromedp.Click(chromedp.ID("random-send")))
	ann.waitFor("the error", `document.getElementById('random-error').textContent === 'Write a message first.'`)
	found = append(found, ann.checkAxe("random form, refused")...)
	ann.do("send at random", chromedp.SendKeys(chromedp.ID("random-message"), "hello, stranger"), chromedp.Click(chromedp.ID("random-send")))
	ann.waitFor("the result", `document.getElementById('random-result').textContent.startsWith('Sent to ')`)
	return append(found, ann.checkAxe("random form, sent")...)
}

// axeChanges checks the views of issue 14 in trio: the invite form (also
// refused) and the leave confirmation in the header, "… is typing", the
// edit form and the deletion's confirmation of an own message, and edited
// and deleted messages, own and bob's.
func axeChanges(t *testing.T, ann *tab, bob, cat *websocket.Conn) []string {
	t.Helper()
	ann.click("open trio", `.conv-item[data-key="c:trio"]`)
	ann.waitFor("trio is shown", shows("count me in"))
	ann.do("open the invite form", chromedp.Click(chromedp.ID("invite-btn")), chromedp.WaitVisible(chromedp.ID("invite-names")))
	found := ann.checkAxe("invite form")
	ann.do("invite nobody", chromedp.Click(chromedp.ID("invite-send")))
	ann.waitFor("the error", `!document.getElementById('invite-error').hidden`)
	found = append(found, ann.checkAxe("invite form, refused")...)
	ann.do("cancel", chromedp.Click(chromedp.ID("invite-cancel")))
	ann.do("ask to leave", chromedp.Click(chromedp.ID("leave-btn")), chromedp.WaitVisible(chromedp.ID("leave-yes")))
	found = append(found, ann.checkAxe("leave confirmation")...)
	ann.do("stay", chromedp.Click(chromedp.ID("leave-no")))

	if err := bob.WriteJSON(map[string]any{"type": "TypingRequest", "chatname": "trio"}); err != nil { // no answer
		t.Fatal(err)
	}
	ann.waitFor("bob is typing", `document.getElementById('typing').textContent === 'bob is typing…'`)
	found = append(found, ann.checkAxe("typing indicator")...)

	ann.do("edit", chromedp.Click(chromedp.CSS(`#messages li.mine [data-act="edit"]`), chromedp.NodeVisible))
	ann.waitFor("the edit form", `document.activeElement.matches('.edit-form textarea')`)
	found = append(found, ann.checkAxe("edit form")...)
	ann.do("save", chromedp.SendKeys(chromedp.CSS(`.edit-form textarea`), ", me too"), pressEnter)
	ann.waitFor("the edit", shows("count me in, me too"))
	ann.do("delete", chromedp.Click(chromedp.CSS(`#messages li.mine:last-child [data-act="delete"]`), chromedp.NodeVisible))
	found = append(found, ann.checkAxe("deletion's confirmation")...)
	ann.do("confirm", chromedp.Click(chromedp.CSS(`[data-act="delete-yes"]`), chromedp.NodeVisible))
	plans := mustAnswer(t, cat, map[string]any{"type": "HistoryRequest", "chatname": "trio"})["messages"].([]any)[1].(map[string]any)["id"]
	mustAnswer(t, bob, map[string]any{"type": "DeleteMessageRequest", "id": plans})
	ann.waitFor("own and bob's deleted, own edited", `document.querySelectorAll('#messages li.deleted').length === 2 && !!document.querySelector('#messages li.mine .edited:not([hidden])')`)
	return append(found, ann.checkAxe("edited and deleted messages")...)
}

// axeFailures checks the error states of a conversation: a message too
// long (an alert), a message the server refuses (restarted with a smaller
// -max-content-bytes than the page knows), and the page while the server
// is down, with a message waiting to be sent.
func axeFailures(t *testing.T, ann *tab, p *process, data string) []string {
	t.Helper()
	ann.click("open bob", `.conv-item[data-key="d:bob"]`)
	ann.waitFor("the message box has the focus", `document.activeElement.id === 'compose-input'`)
	ann.do("send too much", chromedp.Evaluate[chromedp.Void](`document.getElementById('compose-input').value = 'x'.repeat(17000)`), pressEnter)
	ann.waitFor("the alert", `document.getElementById('alert').textContent.startsWith('That message is too long')`)
	found := ann.checkAxe("alert")

	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.log())
	}
	p2 := startServe(t, data, "-addr", p.addr, "-rate-limit", "0", "-max-content-bytes", "16")
	ann.waitFor("reconnected", isOnline)
	// The box still holds what was too much for the page: replaced.
	ann.do("write too much for the server", chromedp.Evaluate[chromedp.Void](`document.getElementById('compose-input').value = ''`),
		chromedp.SendKeys(chromedp.ID("compose-input"), "longer than sixteen bytes"), pressEnter)
	ann.waitFor("the message fails", `!!document.querySelector('#messages li.failed')`)
	found = append(found, ann.checkAxe("refused message")...)

	if err := p2.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, p2.log())
	}
	ann.waitFor("the page notices", `document.getElementById('conn-state').dataset.state === 'reconnecting'`)
	ann.do("write while it is down", chromedp.SendKeys(chromedp.ID("compose-input"), "still there?"), pressEnter)
	ann.waitFor("the message waits", `!!document.querySelector('#messages li.pending')`)
	return append(found, ann.checkAxe("server down")...)
}
