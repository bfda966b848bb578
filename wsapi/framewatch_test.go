package wsapi

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestFrameWatch feeds frames whole and one byte at a time: the watch
// sees a close frame only once it is complete, and a 1-byte close payload.
func TestFrameWatch(t *testing.T) {
	text := clientFrame(0x81, "hello")
	long := append([]byte{0x81, 0x80 | 126}, binary.BigEndian.AppendUint16(nil, 300)...)
	long = append(append(long, 0, 0, 0, 0), bytes.Repeat([]byte{0x88}, 300)...) // payload bytes that look like close headers
	huge := append([]byte{0x82, 0x80 | 127}, binary.BigEndian.AppendUint64(nil, 70000)...)
	huge = append(append(huge, 0, 0, 0, 0), make([]byte, 70000)...)
	closeFrame := clientFrame(0x88, "\x03\xe8")
	tests := []struct {
		name             string
		sent             []byte
		closed, badClose bool
	}{
		{"text", text, false, false},
		{"close", closeFrame, true, false},
		{"close without code", clientFrame(0x88, ""), true, false},
		{"close with a 1-byte payload", clientFrame(0x88, "\x03"), true, true},
		{"part of a close", closeFrame[:len(closeFrame)-1], false, false},
		{"text, 16-bit length, then close", append(append(append([]byte{}, text...), long...), closeFrame...), true, false},
		{"64-bit length, then close", append(append([]byte{}, huge...), closeFrame...), true, false},
		{"unmasked close", []byte{0x88, 0}, true, false},
		{"inside a frame with the top length bit", append([]byte{0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, closeFrame...), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var whole, bytewise frameWatch
			whole.feed(tt.sent)
			for i := range tt.sent {
				bytewise.feed(tt.sent[i : i+1])
			}
			for _, w := range []frameWatch{whole, bytewise} {
				if w.closeSeen != tt.closed || w.badClose != tt.badClose {
					t.Fatalf("closeSeen %v, badClose %v; want %v, %v", w.closeSeen, w.badClose, tt.closed, tt.badClose)
				}
			}
		})
	}
}

// FuzzFrameWatch checks that no input makes the watch panic and that it
// sees the same whatever the reads the bytes come in.
func FuzzFrameWatch(f *testing.F) {
	f.Add(clientFrame(0x88, "\x03\xe8"), uint16(1))
	f.Add(append(clientFrame(0x81, "hi"), clientFrame(0x88, "\x03")...), uint16(7))
	f.Add([]byte{0x81, 0xFE, 0x01, 0x00, 0, 0, 0, 0}, uint16(3))
	f.Fuzz(func(t *testing.T, sent []byte, split uint16) {
		var whole, parts frameWatch
		whole.feed(sent)
		at := int(split) % (len(sent) + 1)
		parts.feed(sent[:at])
		parts.feed(sent[at:])
		if whole != parts {
			t.Fatalf("whole %+v, split at %d %+v", whole, at, parts)
		}
	})
}
