package wsapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chateau/chateau/chat"
)

// TestFeatures_ChangePassword: a new password protects the name; the old
// one is checked once there is one.
func TestFeatures_ChangePassword(t *testing.T) {
	eachBackend(t, func(t *testing.T, l chat.Log) {
		ts := startServer(t, l, cheapPasswords)
		ann := signUp(t, ts, "ann")
		ann.ok(msg{"type": "ChangePasswordRequest", "new": "first password"}, "ChangePasswordResponse")
		if m := dial(t, ts).roundTrip(msg{"type": "RegisterRequest", "username": "ann"}); m["status"] != float64(401) {
			t.Fatalf("ann without a password after setting one: %v, want 401", m)
		}
		again := signUpWith(t, ts, "ann", "first password") // takes the session over
		if frames, _ := ann.readUntilClose(); len(frames) != 1 || frames[0]["type"] != "SessionReplaced" {
			t.Errorf("the old session got %v, want SessionReplaced", frames)
		}
		ann = again

		for _, tt := range []struct {
			name   string
			req    msg
			status int
		}{
			{"wrong old", msg{"old": "wrong password", "new": "second password"}, 401},
			{"missing old", msg{"new": "second password"}, 401},
			{"new too short", msg{"old": "first password", "new": "1234567"}, 400},
			{"new too long", msg{"old": "first password", "new": strings.Repeat("p", 257)}, 400},
			{"new missing", msg{"old": "first password"}, 400},
			{"new not a string", msg{"old": "first password", "new": 12345678}, 400},
		} {
			tt.req["type"] = "ChangePasswordRequest"
			ann.refused(tt.name, tt.req, tt.status)
		}
		ann.ok(msg{"type": "ChangePasswordRequest", "old": "first password", "new": "second password"}, "ChangePasswordResponse")
		if m := dial(t, ts).signIn("ann", "first password"); m["status"] != float64(401) {
			t.Errorf("the replaced password: %v, want 401", m)
		}
		signUpWith(t, ts, "ann", "second password")

		// An unprotected name needs no old password; one given is ignored.
		bob := signUp(t, ts, "bob")
		bob.ok(msg{"type": "ChangePasswordRequest", "old": "anything at all", "new": "bob's password"}, "ChangePasswordResponse")
		c := dial(t, ts)
		if m := c.roundTrip(msg{"type": "RegisterRequest", "username": "bob", "password": "bob's password", "messageID": "b"}); m["status"] != float64(200) {
			t.Errorf("bob with his new password: %v", m)
		}
	})
}

// TestFeatures_ChangePassword_Throttled: wrong old passwords are throttled
// like sign-ins: after the free ones, 429 with retry_after.
func TestFeatures_ChangePassword_Throttled(t *testing.T) {
	ts, _ := startWithAnn(t) // a frozen clock: no backoff runs out
	ann := signUpWith(t, ts, "ann", annsPassword)
	statuses := map[float64]int{}
	for i := range 20 {
		m := ann.ask(msg{"type": "ChangePasswordRequest", "old": fmt.Sprint("wrong guess ", i), "new": "a new password", "messageID": i})
		if m["type"] != "ErrorResponse" || m["messageID"] != float64(i) || m["request"] != "ChangePasswordRequest" {
			t.Fatalf("guess %d: %v", i, m)
		}
		statuses[m["status"].(float64)]++
		if m["status"] == float64(429) {
			if ra, _ := m["retry_after"].(float64); ra < 1 {
				t.Fatalf("429 without retry_after: %v", m)
			}
		} else if m["status"] != float64(401) {
			t.Fatalf("guess %d: %v, want 401 or 429", i, m)
		}
	}
	if statuses[429] == 0 || statuses[401] > 10 {
		t.Fatalf("20 wrong old passwords answered %v, want at most 10 401s, then 429s", statuses)
	}
}
