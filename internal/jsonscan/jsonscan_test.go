package jsonscan

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"testing"
)

// TestSpecial checks special's promise on every byte value at every
// position, alone among plain bytes and behind any other byte: the lowest
// flag is the first byte that Str must look at, and there is none if none
// is.
func TestSpecial(t *testing.T) {
	isSpecial := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80 }
	check := func(word [8]byte) {
		first := 8
		for i, c := range word {
			if isSpecial(c) {
				first = i
				break
			}
		}
		m := special(binary.LittleEndian.Uint64(word[:]))
		if got := bits.TrailingZeros64(m) / 8; got != first || m&^0x8080808080808080 != 0 {
			t.Fatalf("%q: flags %#x, first special byte %d", word, m, first)
		}
	}
	for pos := range 8 {
		for c := range 256 {
			word := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
			word[pos] = byte(c)
			check(word)
			// Below it, any byte, so that borrows come from every value.
			for below := range 256 {
				if pos > 0 {
					word[pos-1] = byte(below)
					check(word)
				}
			}
		}
	}
}

func TestScanner_Object(t *testing.T) {
	tests := []struct {
		in   string
		keys string
		ok   bool
	}{
		{`{}`, "", true},
		{` { "a" : 1 , "b":[2,{"c":3}] } `, "a,b", true},
		{`{"a":1}x`, "a", false},
		{`{"a\u0062":1}`, "", false},
		{`{"a":1,}`, "a", false},
		{`[1]`, "", false},
	}
	for _, tt := range tests {
		s := Scanner{Data: []byte(tt.in)}
		var keys []string
		ok := s.Object(func(key []byte) bool {
			keys = append(keys, string(key))
			return s.Skip(0)
		})
		if ok != tt.ok || strings.Join(keys, ",") != tt.keys {
			t.Errorf("Object(%s) = %v with keys %q, want %v with %q", tt.in, ok, keys, tt.ok, tt.keys)
		}
	}
}
