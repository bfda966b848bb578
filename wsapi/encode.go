package wsapi

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// frameBase is what encode allocates for a frame beside its reason and
// content: enough for a delivery's type, status, names, id and time, so
// that it is written without growing.
const frameBase = 192

// encode writes f's non-empty fields in a fixed order, as encoding/json
// writes the equivalent tagged struct (TestEncode checks; HTML characters
// are not escaped, which JSON does not need). Every answer and delivery
// goes through it, so it appends by hand rather than through reflection:
// a third of the cost of a message's frames. A RandomMessageResponse's
// chosen user is "clients", as in the seed's protocol.
func encode(f *chat.Frame) []byte {
	recipient, chosen := f.Recipient, ""
	if f.Type == chat.FrameRandomMessage {
		recipient, chosen = "", f.Recipient
	}
	b := make([]byte, 0, frameBase+len(f.Reason)+len(f.Content))
	b = append(b, `{"type":`...)
	b = appendString(b, f.Type)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(f.Status), 10)
	if len(f.MessageID) > 0 {
		b = append(b, `,"messageID":`...)
		b = append(b, f.MessageID...)
	}
	b = appendField(b, "reason", f.Reason)
	b = appendField(b, "request", f.Request)
	b = appendField(b, "username", f.Username)
	b = appendField(b, "chatname", f.Chatname)
	if len(f.Members) > 0 {
		b = append(b, `,"members":`...)
		b = appendStrings(b, f.Members)
	}
	b = appendField(b, "sender", f.Sender)
	b = appendField(b, "recipient", recipient)
	if f.Type == chat.FrameGroupMessageRecv || f.Type == chat.FrameSingleMessageRecv {
		b = append(b, `,"content":`...)
		b = appendString(b, f.Content)
	}
	b = appendID(b, "id", f.ID)
	b = appendTime(b, "time", f.Time)
	if f.Random {
		b = append(b, `,"random":true`...)
	}
	if f.Replay {
		b = append(b, `,"replay":true`...)
	}
	b = appendID(b, "last_id", f.LastID)
	b = appendField(b, "clients", chosen)
	if f.Type == chat.FrameClientList {
		b = append(b, `,"clients":`...)
		b = appendStrings(b, f.Clients)
	}
	if f.RetryAfter != 0 {
		b = append(b, `,"retry_after":`...)
		b = strconv.AppendInt(b, int64(f.RetryAfter), 10)
	}
	return append(b, '}')
}

// appendID appends ,"name":"id" unless id is zero.
func appendID(b []byte, name string, id ulid.ULID) []byte {
	if id == (ulid.ULID{}) {
		return b
	}
	b = appendName(b, name)
	b = append(b, '"')
	n := len(b)
	b = append(b, make([]byte, ulid.EncodedSize)...)
	_ = id.MarshalTextTo(b[n:]) // cannot fail: the size is right
	return append(b, '"')
}

// appendTime appends ,"name":"time" in projection.TimeFormat unless t is
// zero.
func appendTime(b []byte, name string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = appendName(b, name)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, projection.TimeFormat)
	return append(b, '"')
}

// appendName appends ,"name":.
func appendName(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// appendField appends ,"name":"value" unless value is empty (omitempty).
func appendField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	return appendString(appendName(b, name), value)
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping as encoding/json does
// apart from HTML characters: quotes, backslashes, control characters,
// U+2028 and U+2029; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
