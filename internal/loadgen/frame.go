package loadgen

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/chateau/chateau/internal/jsonscan"
)

// frame is the part of a server frame the load generator reads. Its byte
// slices point into the data it was decoded from, so they are valid only
// until the reader reuses that buffer for the next frame.
type frame struct {
	Type   []byte
	Status int
	// MessageID is numeric because the generator only ever sends numbers:
	// setup requests carry none (0) and load requests their sequence number.
	MessageID uint64
	Reason    []byte
	Sender    []byte
	Chatname  []byte
	Content   []byte
	ID        []byte
}

// jsonFrame is frame as encoding/json decodes it: the decoder of last
// resort, and the reference that the scanner must agree with.
type jsonFrame struct {
	Type      string `json:"type"`
	Status    int    `json:"status"`
	MessageID uint64 `json:"messageID"`
	Reason    string `json:"reason"`
	Sender    string `json:"sender"`
	Chatname  string `json:"chatname"`
	Content   string `json:"content"`
	ID        string `json:"id"`
}

// decodeFrame decodes data into f exactly as json.Unmarshal into a
// jsonFrame would, and fails where it would. The frames the server
// normally sends go through scanFrame, about ten times as fast and without
// allocating; anything else goes to encoding/json. (With encoding/json for
// every frame, decoding took half the generator's CPU: a run receives 9
// deliveries per message sent.)
func decodeFrame(data []byte, f *frame) error {
	if scanFrame(data, f) {
		return nil
	}
	var j jsonFrame
	err := json.Unmarshal(data, &j)
	if err != nil {
		*f = frame{}
		return err
	}
	*f = frame{
		Type: []byte(j.Type), Status: j.Status, MessageID: j.MessageID, Reason: []byte(j.Reason),
		Sender: []byte(j.Sender), Chatname: []byte(j.Chatname), Content: []byte(j.Content), ID: []byte(j.ID),
	}
	return nil
}

// scanFrame decodes data into f if data is one JSON object, valid as a
// whole, whose fields that f holds are plain: strings without escapes in
// valid UTF-8, integers in range, or null (which, as for encoding/json,
// leaves the field as it was). Other fields are validated and skipped.
// It reports false, leaving f undefined, for anything else, including a
// key that only encoding/json's case-insensitive matching would map to a
// field of f, rather than decide what encoding/json decides there.
func scanFrame(data []byte, f *frame) bool {
	*f = frame{}
	s := jsonscan.Scanner{Data: data}
	return s.Object(func(key []byte) bool { return field(&s, key, f) })
}

// field reads key's value into f, or skips it if f has no such field.
func field(s *jsonscan.Scanner, key []byte, f *frame) bool {
	var dst *[]byte
	switch string(key) {
	case "type":
		dst = &f.Type
	case "reason":
		dst = &f.Reason
	case "sender":
		dst = &f.Sender
	case "chatname":
		dst = &f.Chatname
	case "content":
		dst = &f.Content
	case "id":
		dst = &f.ID
	case "status":
		n, null, ok := s.Integer(false)
		if ok && !null {
			f.Status = int(n)
		}
		return ok
	case "messageID":
		n, null, ok := s.Integer(true)
		if ok && !null {
			f.MessageID = n
		}
		return ok
	default:
		if foldsToField(key) {
			return false
		}
		return s.Skip(0)
	}
	if s.Literal("null") {
		return true
	}
	v, plain, ok := s.Str()
	if !ok || !plain {
		return false
	}
	*dst = v
	return true
}

// foldsToField reports whether key, not itself a field's name, is one up
// to case, as encoding/json matches names (Unicode folding included).
func foldsToField(key []byte) bool {
	ascii := true
	for _, c := range key {
		ascii = ascii && c < utf8.RuneSelf
	}
	for _, name := range [...]string{"type", "status", "messageID", "reason", "sender", "chatname", "content", "id"} {
		// An ASCII key folds only to a name of its length; another may
		// fold to a shorter one ("ſ", two bytes, to "s").
		if (!ascii || len(key) == len(name)) && bytes.EqualFold(key, []byte(name)) {
			return true
		}
	}
	return false
}
