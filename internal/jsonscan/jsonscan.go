// Package jsonscan reads JSON objects without reflection or allocation, for
// the hot paths that only need a few fields of small, flat frames. A
// caller falls back to encoding/json whenever the scanner says no: it
// refuses what it is not sure of rather than guess.
package jsonscan

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// MaxDepth bounds the nesting the scanner follows in values it skips;
// deeper frames go to encoding/json, which allows more.
const MaxDepth = 32

// Scanner reads JSON from Data at I. Its methods that report ok return
// false, with I left anywhere, when the input is invalid or not for the
// fast path. Only Space, End and Object consume whitespace before what
// they read; the others expect their token at I. The zero value with Data
// set is ready; it is not safe for concurrent use.
type Scanner struct {
	Data []byte
	I    int
}

// Integer consumes an integer of at most 18 digits (so that it cannot
// overflow an int64), negative only if not unsigned, or null, which sets
// null. Anything else gives false; so does any other number (longer, with
// a fraction or an exponent), which is left to encoding/json. A negative n
// is in two's complement, for the caller to convert to int.
func (s *Scanner) Integer(unsigned bool) (n uint64, null, ok bool) {
	if s.Literal("null") {
		return 0, true, true
	}
	tok, ok := s.Number()
	if !ok {
		return 0, false, false
	}
	neg := tok[0] == '-'
	if neg {
		if unsigned {
			return 0, false, false
		}
		tok = tok[1:]
	}
	if len(tok) > 18 {
		return 0, false, false
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false, false // a fraction or exponent
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, false, true
}

// Space consumes any JSON whitespace at I.
func (s *Scanner) Space() {
	for s.I < len(s.Data) {
		switch s.Data[s.I] {
		case ' ', '\t', '\n', '\r':
			s.I++
		default:
			return
		}
	}
}

// Eat consumes the byte c if it is next and reports whether it was.
func (s *Scanner) Eat(c byte) bool {
	if s.I < len(s.Data) && s.Data[s.I] == c {
		s.I++
		return true
	}
	return false
}

// End consumes whitespace and reports whether that reached the end of Data.
func (s *Scanner) End() bool {
	s.Space()
	return s.I == len(s.Data)
}

// Literal consumes lit if it is next and reports whether it was. It does
// not look past lit: of "nullx" it consumes "null" and leaves the x for the
// caller to reject as a missing separator.
func (s *Scanner) Literal(lit string) bool {
	if len(s.Data)-s.I >= len(lit) && string(s.Data[s.I:s.I+len(lit)]) == lit {
		s.I += len(lit)
		return true
	}
	return false
}

// Str consumes a string, whose opening quote must be next, and returns
// what is between its quotes, a slice of Data. plain reports whether that
// is the string's value as is: no escapes, valid UTF-8. ok is false for an
// unterminated string, a control character or an invalid escape.
func (s *Scanner) Str() (raw []byte, plain, ok bool) {
	if !s.Eat('"') {
		return nil, false, false
	}
	start := s.I
	plain = true
	ascii := true
	for {
		// Most bytes are printable ASCII other than a quote or backslash:
		// go to the next other byte eight bytes at a time, then one at a
		// time near the end.
		for s.I+8 <= len(s.Data) {
			if m := special(binary.LittleEndian.Uint64(s.Data[s.I:])); m != 0 {
				s.I += bits.TrailingZeros64(m) / 8
				break
			}
			s.I += 8
		}
		for s.I < len(s.Data) {
			if c := s.Data[s.I]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			s.I++
		}
		if s.I >= len(s.Data) {
			return nil, false, false
		}
		switch c := s.Data[s.I]; {
		case c == '"':
			raw = s.Data[start:s.I]
			s.I++
			if !ascii && plain {
				// encoding/json turns invalid UTF-8 into U+FFFD.
				plain = utf8.Valid(raw)
			}
			return raw, plain, true
		case c == '\\':
			plain = false
			if !s.escape() {
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default:
			ascii = false
			s.I++
		}
	}
}

// special flags the bytes among the eight of v (little-endian) that Str
// must look at: control characters, quotes, backslashes and non-ASCII
// bytes. Each flag is a byte's high bit. A byte above a flagged one may be
// flagged wrongly, by a borrow; the lowest flagged byte is always the first
// such byte, and with none, none is flagged.
func special(v uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// (x - ones*n) & ^x flags the bytes of x below n (n <= 0x80); with
	// n = 1, the zero bytes, that is, those equal to what was xored in.
	below := (v - ones*0x20) & ^v
	q := v ^ (ones * '"')
	quote := (q - ones) & ^q
	b := v ^ (ones * '\\')
	backslash := (b - ones) & ^b
	return (below | quote | backslash | v) & highs
}

// escape consumes one valid escape sequence, whose backslash is at I, and
// reports whether it was valid.
func (s *Scanner) escape() bool {
	s.I++
	if s.I >= len(s.Data) {
		return false
	}
	switch s.Data[s.I] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.I++
		return true
	case 'u':
		if s.I+5 > len(s.Data) {
			return false
		}
		for _, c := range s.Data[s.I+1 : s.I+5] {
			if !isHex(c) {
				return false
			}
		}
		s.I += 5
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Number consumes a number as JSON's grammar has it and returns its text, a
// slice of Data. It stops where the grammar does: of "01" it consumes "0"
// and leaves the 1 for the caller to reject.
func (s *Scanner) Number() ([]byte, bool) {
	start := s.I
	s.Eat('-')
	switch {
	case s.Eat('0'):
	case s.I < len(s.Data) && '1' <= s.Data[s.I] && s.Data[s.I] <= '9':
		s.digits()
	default:
		return nil, false
	}
	if s.Eat('.') && !s.digits() {
		return nil, false
	}
	if s.Eat('e') || s.Eat('E') {
		if !s.Eat('+') {
			s.Eat('-')
		}
		if !s.digits() {
			return nil, false
		}
	}
	return s.Data[start:s.I], true
}

// digits consumes a run of digits and reports whether there was one.
func (s *Scanner) digits() bool {
	start := s.I
	for s.I < len(s.Data) && '0' <= s.Data[s.I] && s.Data[s.I] <= '9' {
		s.I++
	}
	return s.I > start
}

// Skip consumes one valid value of any kind. depth is how deeply that value
// is nested: 0 for a member's value in Object. A value nested deeper than
// MaxDepth gives false, for encoding/json to read.
func (s *Scanner) Skip(depth int) bool {
	if s.I >= len(s.Data) || depth > MaxDepth {
		return false
	}
	switch s.Data[s.I] {
	case '"':
		_, _, ok := s.Str()
		return ok
	case '{':
		return s.skipContainer('}', depth)
	case '[':
		return s.skipContainer(']', depth)
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	default:
		_, ok := s.Number()
		return ok
	}
}

// skipContainer consumes an object or an array, as closing says, whose
// opening bracket is next.
func (s *Scanner) skipContainer(closing byte, depth int) bool {
	s.I++
	s.Space()
	if s.Eat(closing) {
		return true
	}
	for {
		if closing == '}' {
			if _, _, ok := s.Str(); !ok {
				return false
			}
			s.Space()
			if !s.Eat(':') {
				return false
			}
			s.Space()
		}
		if !s.Skip(depth + 1) {
			return false
		}
		s.Space()
		if s.Eat(closing) {
			return true
		}
		if !s.Eat(',') {
			return false
		}
		s.Space()
	}
}

// Object reads a whole JSON object from Data at I, with nothing but
// whitespace after it. For each member it calls value with the member's
// key, with the scanner at the member's value, which value must consume. Keys
// must be plain (no escapes: an escaped key could spell any name). It
// reports false if Data is not such an object or value returns false.
func (s *Scanner) Object(value func(key []byte) bool) bool {
	s.Space()
	if !s.Eat('{') {
		return false
	}
	s.Space()
	if s.Eat('}') {
		return s.End()
	}
	for {
		key, plain, ok := s.Str()
		if !ok || !plain {
			return false
		}
		s.Space()
		if !s.Eat(':') {
			return false
		}
		s.Space()
		if !value(key) {
			return false
		}
		s.Space()
		if s.Eat('}') {
			return s.End()
		}
		if !s.Eat(',') {
			return false
		}
		s.Space()
	}
}
