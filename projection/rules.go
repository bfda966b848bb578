package projection

import (
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on names, fixed by the protocol.
const (
	// MaxUsernameBytes is the longest username, in bytes (all ASCII).
	MaxUsernameBytes = 32
	// MaxChatnameRunes is the longest chat name, in characters.
	MaxChatnameRunes = 64
)

// TimeFormat is how times appear on the wire and in `events dump`:
// RFC 3339 in UTC with milliseconds, the precision of an event id.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime formats t in TimeFormat, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ValidUsername reports whether s is 1-32 characters of A-Z a-z 0-9 _ . -.
func ValidUsername(s string) bool {
	if len(s) < 1 || len(s) > MaxUsernameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidChatname reports whether s is 1-64 characters of valid UTF-8 with no
// control characters.
func ValidChatname(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxChatnameRunes {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}
