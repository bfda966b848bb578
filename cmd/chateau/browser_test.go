package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// browserWait bounds every wait on a page. Generous because the pages
// reconnect with a backoff after the server restarts.
const browserWait = 15 * time.Second

// tab is one user's page in its own browser context (its own storage, as
// for two people on two machines).
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu       sync.Mutex
	failures []string // uncaught exceptions and console.error calls
}

// newTab opens a tab in a fresh browser context of browser and records what
// its page writes to the console until the test ends.
func newTab(t *testing.T, browser context.Context, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	b := &tab{t: t, name: name, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		t.Fatalf("%s: open tab: %v", name, err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch {
			case m.IsException(), m.Type == chromedp.ConsoleError && m.Source == "":
				b.mu.Lock()
				b.failures = append(b.failures, fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m))
				b.mu.Unlock()
			case m.Type == chromedp.ConsoleError:
				// The browser's own log, such as the failed WebSocket
				// connections while the server restarts: expected.
				t.Logf("%s: browser log (%s): %s", name, m.Source, m.Text)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		b.checkConsole() // also after a t.Fatal, where it helps to explain it
	})
	return b
}

// do runs actions within browserWait and fails the test if they fail.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %s: %v\npage: %s", b.name, what, err, b.snapshot())
	}
}

// click clicks the element that selector finds, once there is one, in the
// same evaluation that finds it: the page redraws its lists as frames
// arrive, and a node found before a redraw is gone when it is clicked.
func (b *tab) click(what, selector string) {
	b.t.Helper()
	b.waitFor(what, `(() => { const e = document.querySelector(`+strconv.Quote(selector)+`); if (!e) return false; e.click(); return true; })()`)
}

// waitFor polls the JavaScript expression cond until it is true.
func (b *tab) waitFor(what, cond string) {
	b.t.Helper()
	b.do("wait until "+what, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingTimeout(browserWait), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// evalIn returns the value of a JavaScript expression in b's page.
func evalIn[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// snapshot describes the page for a failure message.
func (b *tab) snapshot() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

// checkConsole fails the test on any exception or console error not
// reported yet.
func (b *tab) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range b.failures {
		b.t.Errorf("%s: console: %s", b.name, f)
	}
	b.failures = nil
}

// screenshot saves the visible page as name.png in dir and logs its path.
func (b *tab) screenshot(dir, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("%s: screenshot: %v", b.name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot of %s's page: %s", b.name, path)
}

// Conditions on the page, as JavaScript expressions.
const bubbles = `[...document.querySelectorAll('#messages li[data-id] .bubble')].map((e) => e.textContent)`

const isOnline = `document.getElementById('conn-state').dataset.state === 'online'`

// shows is true once the open conversation has content as a stored message
// (one with an id: acknowledged or received, not "sending…").
func shows(content string) string {
	return bubbles + `.includes(` + strconv.Quote(content) + `)`
}

// clearForm empties the sign-in form (the page fills in the last username).
var clearForm = chromedp.Evaluate[chromedp.Void](`document.getElementById('username').value = document.getElementById('password').value = ''`)

// signIn fills the sign-in form and waits until the page is online.
func (b *tab) signIn(password string) {
	b.t.Helper()
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), b.name),
	}
	if password != "" {
		actions = append(actions, chromedp.SendKeys(chromedp.ID("password"), password))
	}
	// Enter in the form submits it, as a keyboard user would.
	actions = append(actions, chromedp.SendKeys(chromedp.ID("username"), "\n"))
	b.do("sign in", actions...)
	b.waitFor("online after sign-in", isOnline)
}

// pressEnter presses Enter on the focused element as a keyboard does: a
// keyDown that carries its text, so that Chromium makes the keypress
// itself, only if the page did not cancel the keydown. (SendKeys("\n")
// sends a separate char event, which would insert a line break even where
// the page cancels the keydown; a keyDown without text makes no keypress,
// so it would neither submit a form nor press a button.)
var pressEnter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		p := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if typ == input.DispatchKeyEventTypeKeyDown {
			p.Text, p.UnmodifiedText = "\r", "\r"
		}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, p); err != nil {
			return err
		}
	}
	return nil
})

// send types content in the message box, presses Enter and waits for the
// server's acknowledgement.
func (b *tab) send(content string) {
	b.t.Helper()
	b.do("send "+content, chromedp.SendKeys(chromedp.ID("compose-input"), content), pressEnter)
	b.waitFor(content+" is acknowledged", shows(content))
	if v := evalIn[string](b, `document.getElementById('compose-input').value`); v != "" {
		b.t.Errorf("%s: the message box holds %q after sending", b.name, v)
	}
}

// conversation returns the stored messages of the open conversation.
func (b *tab) conversation() []string {
	b.t.Helper()
	return evalIn[[]string](b, bubbles)
}

// startBrowser starts headless Chromium, stopped when the test ends, and
// returns its context. Without Chromium the test is skipped, except on CI.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: CI must install it (scripts/install-chromium.sh)", chromiumPath)
		}
		t.Skipf("%s is missing: install it with `apt-get install -y chromium` (or scripts/install-chromium.sh) to run the browser tests", chromiumPath)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 720),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// TestBrowser_ChatAcrossRestart drives the web client in headless Chromium:
// ann and bob sign in, chat, the server restarts on the same file and
// address, both pages reconnect by themselves with nothing lost or doubled,
// and they chat on. Set CHATEAU_SCREENSHOTS to a directory to keep the
// screenshots (they go to a temporary one otherwise).
func TestBrowser_ChatAcrossRestart(t *testing.T) {
	browser := startBrowser(t)
	shots := os.Getenv("CHATEAU_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	data := filepath.Join(t.TempDir(), "chateau.db")
	p := startServe(t, data)
	url := "http://" + p.addr + "/"

	ann := newTab(t, browser, "ann")
	bob := newTab(t, browser, "bob")
	// bob is on a phone-sized screen: the conversation list sits above the messages.
	bob.do("phone viewport", chromedp.EmulateViewport(390, 760))
	ann.do("open", chromedp.Navigate(url))
	bob.do("open", chromedp.Navigate(url))
	ann.signIn("ann's secret")
	bob.signIn("")

	// ann starts a chat with bob, picking him from the people online.
	ann.do("open the new-chat form", chromedp.Click(chromedp.ID("new-chat-btn")))
	ann.do("pick bob",
		chromedp.WaitVisible(chromedp.CSS(`#recipients input[value="bob"]`)),
		chromedp.Click(chromedp.CSS(`#recipients input[value="bob"]`)),
		chromedp.SendKeys(chromedp.ID("chat-name"), "duo"),
		chromedp.SendKeys(chromedp.ID("first-message"), "hello bob"),
		chromedp.Click(chromedp.ID("create-chat")),
	)
	ann.waitFor("the chat is open", `document.getElementById('conv-title').textContent === '# duo'`)
	ann.waitFor("hello bob is stored", shows("hello bob"))

	// bob sees the new chat arrive, opens it and answers.
	bob.waitFor("duo arrives", `!!document.querySelector('.conv-item[data-key="c:duo"] .badge')`)
	bob.click("open duo", `.conv-item[data-key="c:duo"]`)
	bob.waitFor("hello bob arrives", shows("hello bob"))
	bob.send("hi ann 👋")
	ann.waitFor("bob's answer arrives", shows("hi ann 👋"))

	// ann messages someone at random: bob is the only other one online.
	ann.do("send at random",
		chromedp.Click(chromedp.ID("random-btn")),
		chromedp.SendKeys(chromedp.ID("random-message"), "a random hello"),
		chromedp.Click(chromedp.ID("random-send")),
	)
	ann.waitFor("the random message went to bob", `document.getElementById('random-result').textContent.startsWith('Sent to bob.')`)
	bob.do("see the random message", chromedp.Click(chromedp.ID("sidebar-toggle")))
	bob.waitFor("ann's conversation appears", `!!document.querySelector('.conv-item[data-key="d:ann"] .badge')`)
	ann.click("back to duo", `.conv-item[data-key="c:duo"]`)
	ann.waitFor("duo is shown", shows("hi ann 👋"))

	// Restart the server on the same file and address; nobody touches the pages.
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.log())
	}
	ann.waitFor("the page notices the restart", `document.getElementById('conn-state').dataset.state !== 'online'`)
	bob.waitFor("the page notices the restart", `document.getElementById('conn-state').dataset.state !== 'online'`)
	// What ann writes meanwhile waits as "sending…" and goes out after the
	// reconnect.
	ann.do("write while the server is down", chromedp.SendKeys(chromedp.ID("compose-input"), "sent while you were down"), pressEnter)
	ann.waitFor("the message waits", `[...document.querySelectorAll('#messages li:not([data-id]) .status')].some((e) => e.textContent === 'sending…')`)
	p2 := startServe(t, data, "-addr", p.addr) // the later -addr wins over the harness's
	if p2.addr != p.addr {
		t.Fatalf("restarted on %s, want %s", p2.addr, p.addr)
	}
	ann.waitFor("reconnected", isOnline)
	bob.waitFor("reconnected", isOnline)
	ann.waitFor("the waiting message is sent", shows("sent while you were down"))
	bob.waitFor("the waiting message arrives", shows("sent while you were down"))
	want := []string{"hello bob", "hi ann 👋", "sent while you were down"}
	for _, b := range []*tab{ann, bob} {
		if got := b.conversation(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s after the restart shows %q, want %q", b.name, got, want)
		}
	}

	// They chat on after the restart: ann's password was kept for it.
	ann.send("still there?")
	bob.waitFor("the message after the restart arrives", shows("still there?"))
	bob.send("yes!")
	ann.waitFor("bob's answer after the restart arrives", shows("yes!"))
	want = append(want, "still there?", "yes!")
	for _, b := range []*tab{ann, bob} {
		if got := b.conversation(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("%s shows %q, want %q", b.name, got, want)
		}
		if n := evalIn[int](b, `document.querySelectorAll('#messages li:not([data-id])').length`); n != 0 {
			t.Errorf("%s has %d messages still sending", b.name, n)
		}
	}

	ann.screenshot(shots, "chat")
	bob.screenshot(shots, "chat-phone")
	ann.checkConsole()
	bob.checkConsole()
	if err := p2.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stop: %v\n%s", err, p2.log())
	}
}

// TestBrowser_HistoryReplayAndErrors covers what the first test does not:
// sign-in errors in words, history pages loaded by the button and by
// scrolling to the top, and the replay of what arrived while the page was
// closed, resumed from the id the page kept in localStorage.
func TestBrowser_HistoryReplayAndErrors(t *testing.T) {
	browser := startBrowser(t)
	p := startServe(t, filepath.Join(t.TempDir(), "chateau.db"), "-rate-limit", "0")

	// carl (with a password) fills chat "big" with dave, who is offline.
	carl := p.dial(t)
	if m := call(t, carl, map[string]any{"type": "RegisterRequest", "username": "carl", "password": "carl's password"}); m["status"] != float64(200) {
		t.Fatal(m)
	}
	dave := p.dial(t) // dave must exist before a chat names him
	call(t, dave, map[string]any{"type": "RegisterRequest", "username": "dave"})
	dave.Close()
	const total = 120
	if m := call(t, carl, map[string]any{"type": "GroupMessageInitRequest", "chatname": "big", "recipients": []string{"dave"}, "content": "m001"}); m["status"] != float64(200) {
		t.Fatal(m)
	}
	for i := 2; i <= total; i++ {
		if m := call(t, carl, map[string]any{"type": "GroupMessageRequest", "chatname": "big", "content": fmt.Sprintf("m%03d", i)}); m["status"] != float64(200) {
			t.Fatal(m)
		}
	}
	// erin stays online from elsewhere.
	erin := p.dial(t)
	call(t, erin, map[string]any{"type": "RegisterRequest", "username": "erin"})

	b := newTab(t, browser, "dave")
	b.do("open", chromedp.Navigate("http://"+p.addr+"/"))
	loginError := func(name, password, want string) {
		t.Helper()
		b.do("sign in as "+name,
			chromedp.WaitVisible(chromedp.ID("username")),
			clearForm,
			chromedp.SendKeys(chromedp.ID("username"), name),
			chromedp.SendKeys(chromedp.ID("password"), password),
			chromedp.Click(chromedp.ID("login-submit")),
		)
		b.waitFor("the error "+want, `document.getElementById('login-error').textContent === `+strconv.Quote(want))
	}
	loginError("carl", "not carl's password", "Wrong username or password.")
	loginError("erin", "", "That name is already online.")
	loginError("bad name", "", "Use 1–32 letters, digits, _ . or - for the username.")
	b.do("clear the form", clearForm)
	b.signIn("")

	// The newest page, then older ones by the button and by scrolling up.
	count := `document.querySelectorAll('#messages li[data-id]').length`
	b.click("open big", `.conv-item[data-key="c:big"]`)
	b.waitFor("the newest page", count+` === 50 && !document.getElementById('older').hidden`)
	b.do("load older", chromedp.Click(chromedp.ID("older")))
	b.waitFor("the second page", count+` === 100`)
	b.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`document.getElementById('scroller').scrollTop = 0`))
	b.waitFor("the last page", count+` === 120 && document.getElementById('older').hidden`)
	got := b.conversation()
	for i, c := range got {
		if want := fmt.Sprintf("m%03d", i+1); c != want {
			t.Fatalf("message %d is %q, want %q (all: %q)", i, c, want, got)
		}
	}

	// The page goes away; carl writes to dave twice; the page comes back and
	// gets both from the replay.
	b.do("leave", chromedp.Navigate("about:blank"))
	// The page closed its socket when it was hidden, so dave went offline.
	// (Polled: the server learns it asynchronously.)
	for deadline := time.Now().Add(browserWait); ; {
		m := call(t, carl, map[string]any{"type": "ClientListRequest"})
		if !slices.Contains(m["clients"].([]any), any("dave")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dave is still online after the page went away: %v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	call(t, carl, map[string]any{"type": "GroupMessageRequest", "chatname": "big", "content": "while you were away"})
	call(t, carl, map[string]any{"type": "SingleMessageRequest", "recipient": "dave", "content": "psst, dave"})
	b.do("come back", chromedp.Navigate("http://"+p.addr+"/"))
	b.do("sign in again", chromedp.WaitVisible(chromedp.ID("username")), clearForm)
	b.signIn("")
	b.waitFor("the replay is announced", `document.getElementById('announce').textContent === '2 messages arrived while you were away.'`)
	b.click("open carl", `.conv-item[data-key="d:carl"] .badge`)
	b.waitFor("carl's direct message", shows("psst, dave"))
	b.checkConsole()
}
