package loadgen

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// maxScanDepth bounds the nesting the scanner follows in values it skips;
// deeper frames go to encoding/json, which allows more.
const maxScanDepth = 32

// scanner reads JSON from data at i. Its methods return false, with i
// anywhere, when the input is invalid or not for the fast path.
type scanner struct {
	data []byte
	i    int
}

// integer reads an integer of at most 18 digits, negative only if not
// unsigned, or null; any other number is left to encoding/json. A negative
// n is in two's complement, for the caller to convert to int.
func (s *scanner) integer(unsigned bool) (n uint64, null, ok bool) {
	if s.literal("null") {
		return 0, true, true
	}
	tok, ok := s.number()
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

// space skips JSON whitespace.
func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat consumes c if it is next.
func (s *scanner) eat(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.data)
}

// literal consumes lit if it is next. A letter run on ("nullx") is left
// for the caller to reject as a missing separator.
func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.i >= len(lit) && string(s.data[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// str consumes a string and returns what is between its quotes. plain
// reports whether that is its value as is: no escapes, valid UTF-8.
func (s *scanner) str() (raw []byte, plain, ok bool) {
	if !s.eat('"') {
		return nil, false, false
	}
	start := s.i
	plain = true
	ascii := true
	for {
		// Most bytes are printable ASCII other than a quote or backslash:
		// go to the next other byte eight bytes at a time, then one at a
		// time near the end.
		for s.i+8 <= len(s.data) {
			if m := special(binary.LittleEndian.Uint64(s.data[s.i:])); m != 0 {
				s.i += bits.TrailingZeros64(m) / 8
				break
			}
			s.i += 8
		}
		for s.i < len(s.data) {
			if c := s.data[s.i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			s.i++
		}
		if s.i >= len(s.data) {
			return nil, false, false
		}
		switch c := s.data[s.i]; {
		case c == '"':
			raw = s.data[start:s.i]
			s.i++
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
			s.i++
		}
	}
}

// special flags the bytes among the eight of v (little-endian) that str
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

// escape consumes one valid escape sequence, backslash included.
func (s *scanner) escape() bool {
	s.i++
	if s.i >= len(s.data) {
		return false
	}
	switch s.data[s.i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i++
		return true
	case 'u':
		if s.i+5 > len(s.data) {
			return false
		}
		for _, c := range s.data[s.i+1 : s.i+5] {
			if !isHex(c) {
				return false
			}
		}
		s.i += 5
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number consumes a number as JSON's grammar has it and returns its text.
func (s *scanner) number() ([]byte, bool) {
	start := s.i
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.i < len(s.data) && '1' <= s.data[s.i] && s.data[s.i] <= '9':
		s.digits()
	default:
		return nil, false
	}
	if s.eat('.') && !s.digits() {
		return nil, false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if !s.digits() {
			return nil, false
		}
	}
	return s.data[start:s.i], true
}

// digits consumes a run of digits and reports whether there was one.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.data) && '0' <= s.data[s.i] && s.data[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// skip consumes any valid value, nested at most maxScanDepth deep.
func (s *scanner) skip(depth int) bool {
	if s.i >= len(s.data) || depth > maxScanDepth {
		return false
	}
	switch s.data[s.i] {
	case '"':
		_, _, ok := s.str()
		return ok
	case '{':
		return s.skipContainer('}', depth)
	case '[':
		return s.skipContainer(']', depth)
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, ok := s.number()
		return ok
	}
}

// skipContainer consumes an object or an array, as closing says, whose
// opening bracket is next.
func (s *scanner) skipContainer(closing byte, depth int) bool {
	s.i++
	s.space()
	if s.eat(closing) {
		return true
	}
	for {
		if closing == '}' {
			if _, _, ok := s.str(); !ok {
				return false
			}
			s.space()
			if !s.eat(':') {
				return false
			}
			s.space()
		}
		if !s.skip(depth + 1) {
			return false
		}
		s.space()
		if s.eat(closing) {
			return true
		}
		if !s.eat(',') {
			return false
		}
		s.space()
	}
}
