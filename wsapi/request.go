package wsapi

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/chateau/chateau/internal/jsonscan"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// Request type names, as clients send them in "type".
const (
	typeRegister         = "RegisterRequest"
	typeGroupMessageInit = "GroupMessageInitRequest"
	typeGroupMessage     = "GroupMessageRequest"
	typeClientList       = "ClientListRequest"
	typeRandomMessage    = "RandomMessageRequest"
	typeSingleMessage    = "SingleMessageRequest"
	typeChatList         = "ChatListRequest"
	typeHistory          = "HistoryRequest"
)

// Limits of the protocol that are not configurable.
const (
	// maxRecipients bounds a GroupMessageInitRequest's recipients.
	maxRecipients = 256
	// maxMessageIDBytes bounds the echoed messageID.
	maxMessageIDBytes = 128
	// History page sizes.
	defaultHistoryLimit = 50
	maxHistoryLimit     = 200
)

// request is one decoded client frame. Decoding never fails outright: a
// frame whose type is known but whose fields are bad keeps the error in err,
// so that an unregistered connection still gets 301 first.
type request struct {
	received  time.Time       // when the reader had the frame
	kind      string          // the "type", if it is a known request type
	messageID json.RawMessage // echoed in every direct answer
	err       error           // decoding error, answered as-is

	username   string
	chatname   string
	content    string
	recipient  string
	recipients []string
	since      ulid.ULID // RegisterRequest: replay what came after it
	hasSince   bool
	before     ulid.ULID // HistoryRequest
	after      ulid.ULID
	limit      int

	// Set by the reader for a RegisterRequest with a password, so that the
	// slow hashing happens outside the sequencer.
	password     string
	passwordHash []byte // a new hash, for a name that did not exist
	verifiedHash []byte // the stored hash that password matched
}

// rawRequest holds every field any request may carry, undecoded, so that a
// wrongly typed field that the request does not use is ignored.
type rawRequest struct {
	Type       json.RawMessage `json:"type"`
	MessageID  json.RawMessage `json:"messageID"`
	Username   json.RawMessage `json:"username"`
	Password   json.RawMessage `json:"password"`
	Chatname   json.RawMessage `json:"chatname"`
	Content    json.RawMessage `json:"content"`
	Recipient  json.RawMessage `json:"recipient"`
	Recipients json.RawMessage `json:"recipients"`
	Since      json.RawMessage `json:"since"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	Limit      json.RawMessage `json:"limit"`
}

// decodeRequest parses one text frame. maxContent bounds "content" in bytes.
func decodeRequest(frame []byte, maxContent int) *request {
	r := &request{}
	var raw rawRequest
	if !utf8.Valid(frame) {
		r.err = reasonf(ErrBadRequest, "frame is not valid UTF-8")
		return r
	}
	if err := unmarshalRequest(frame, &raw); err != nil {
		if _, ok := err.(*json.UnmarshalTypeError); ok {
			r.err = reasonf(ErrBadRequest, "request must be a JSON object")
		} else {
			r.err = reasonf(ErrBadRequest, "invalid JSON: %v", err)
		}
		return r
	}
	if id := raw.MessageID; isPresent(id) {
		switch {
		case len(id) > maxMessageIDBytes:
			r.err = reasonf(ErrBadRequest, "messageID is longer than %d bytes", maxMessageIDBytes)
			return r
		case id[0] != '"' && id[0] != '-' && (id[0] < '0' || id[0] > '9'):
			r.err = reasonf(ErrBadRequest, "messageID must be a string or a number")
			return r
		case id[0] != '"':
			// Echo only numbers every client can read back.
			var f float64
			if err := json.Unmarshal(id, &f); err != nil {
				r.err = reasonf(ErrBadRequest, "messageID is not a representable number")
				return r
			}
		}
		r.messageID = id // a string or a number has no whitespace to compact
	}
	if !isPresent(raw.Type) {
		r.err = reasonf(ErrBadRequest, "missing field \"type\"")
		return r
	}
	kind, ok := unquote(raw.Type)
	if !ok {
		r.err = reasonf(ErrBadRequest, "field \"type\" must be a string")
		return r
	}
	d := fieldDecoder{}
	switch kind {
	case typeRegister:
		r.username = d.string("username", raw.Username, true)
		r.password = d.string("password", raw.Password, false)
		r.since, r.hasSince = d.id("since", raw.Since)
	case typeGroupMessageInit:
		r.recipients = d.strings("recipients", raw.Recipients)
		r.content = d.string("content", raw.Content, true)
		r.chatname = d.string("chatname", raw.Chatname, true)
	case typeGroupMessage:
		r.chatname = d.string("chatname", raw.Chatname, true)
		r.content = d.string("content", raw.Content, true)
	case typeClientList, typeChatList:
	case typeHistory:
		r.chatname = d.string("chatname", raw.Chatname, false)
		r.recipient = d.string("recipient", raw.Recipient, false)
		r.before, _ = d.id("before", raw.Before)
		r.after, _ = d.id("after", raw.After)
		r.limit = d.int("limit", raw.Limit, defaultHistoryLimit)
		switch {
		case d.err != nil:
		case (r.chatname == "") == (r.recipient == ""):
			d.err = reasonf(ErrBadRequest, "give exactly one of \"chatname\" or \"recipient\"")
		case isPresent(raw.Before) && isPresent(raw.After):
			d.err = reasonf(ErrBadRequest, "give at most one of \"before\" or \"after\"")
		case r.limit < 1 || r.limit > maxHistoryLimit:
			d.err = reasonf(ErrBadRequest, "limit must be 1-%d", maxHistoryLimit)
		}
	case typeRandomMessage:
		r.content = d.string("content", raw.Content, true)
	case typeSingleMessage:
		r.recipient = d.string("recipient", raw.Recipient, true)
		r.content = d.string("content", raw.Content, true)
	default:
		r.err = reasonf(ErrUnknownType, "unknown request type %q", truncate(kind, 64))
		return r
	}
	r.kind = kind
	r.err = d.err
	if r.err == nil && r.password != "" && (len(r.password) < projection.MinPasswordBytes || len(r.password) > projection.MaxPasswordBytes) {
		r.err = reasonf(ErrBadRequest, "password must be %d-%d bytes", projection.MinPasswordBytes, projection.MaxPasswordBytes)
	}
	if r.err == nil && len(r.content) > maxContent {
		r.err = reasonf(ErrTooLarge, "content is %d bytes; the limit is %d", len(r.content), maxContent)
	}
	return r
}

// fieldDecoder decodes fields until the first error.
type fieldDecoder struct{ err error }

func (d *fieldDecoder) string(name string, raw json.RawMessage, required bool) string {
	if d.err != nil {
		return ""
	}
	if !isPresent(raw) {
		if required {
			d.err = reasonf(ErrBadRequest, "missing field %q", name)
		}
		return ""
	}
	s, ok := unquote(raw)
	if !ok {
		d.err = reasonf(ErrBadRequest, "field %q must be a string", name)
	}
	return s
}

// unquote decodes a JSON string value of a document json.Unmarshal has
// already checked; one without escapes is just its bytes.
func unquote(raw json.RawMessage) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err == nil
}

func (d *fieldDecoder) strings(name string, raw json.RawMessage) []string {
	if d.err != nil {
		return nil
	}
	if !isPresent(raw) {
		d.err = reasonf(ErrBadRequest, "missing field %q", name)
		return nil
	}
	var s []string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.err = reasonf(ErrBadRequest, "field %q must be an array of strings", name)
	}
	return s
}

// id decodes an optional message id (a ULID string).
func (d *fieldDecoder) id(name string, raw json.RawMessage) (ulid.ULID, bool) {
	s := d.string(name, raw, false)
	if d.err != nil || !isPresent(raw) {
		return ulid.ULID{}, false
	}
	id, err := ulid.ParseStrict(s)
	if err != nil {
		d.err = reasonf(ErrBadRequest, "field %q must be a message id", name)
		return ulid.ULID{}, false
	}
	return id, true
}

// int decodes an optional integer, def when absent.
func (d *fieldDecoder) int(name string, raw json.RawMessage, def int) int {
	if d.err != nil {
		return 0
	}
	if !isPresent(raw) {
		return def
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		d.err = reasonf(ErrBadRequest, "field %q must be an integer", name)
	}
	return n
}

// isPresent reports whether a field was given with a non-null value.
func isPresent(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// unmarshalRequest fills raw from frame: by scanning, for the usual flat
// object with the protocol's own spelling of its keys, else with
// encoding/json, which the scan must agree with (FuzzDecodeRequest
// checks). Scanning skips reflection and its deep stack: decoding was half
// of a message's cost, and the reader goroutine's stack most of an idle
// connection's memory.
func unmarshalRequest(frame []byte, raw *rawRequest) error {
	if scanRequest(frame, raw) {
		return nil
	}
	*raw = rawRequest{}
	return json.Unmarshal(frame, raw)
}

// scanRequest fills raw if frame is a JSON object whose keys are plain and
// either spelled exactly as one of raw's or unlike all of them (encoding/json
// would match "Type" to "type"), and reports whether it did.
func scanRequest(frame []byte, raw *rawRequest) bool {
	s := jsonscan.Scanner{Data: frame}
	return s.Object(func(key []byte) bool {
		start := s.I
		if !s.Skip(0) {
			return false
		}
		dst, known := raw.field(key)
		switch {
		case dst != nil:
			*dst = frame[start:s.I]
		case known:
			return false // a known field in another spelling
		}
		return true
	})
}

// field returns where the value of key goes, or nil; known reports whether
// key names a field in any letter case.
func (raw *rawRequest) field(key []byte) (dst *json.RawMessage, known bool) {
	switch string(key) {
	case "type":
		return &raw.Type, true
	case "messageID":
		return &raw.MessageID, true
	case "username":
		return &raw.Username, true
	case "password":
		return &raw.Password, true
	case "chatname":
		return &raw.Chatname, true
	case "content":
		return &raw.Content, true
	case "recipient":
		return &raw.Recipient, true
	case "recipients":
		return &raw.Recipients, true
	case "since":
		return &raw.Since, true
	case "before":
		return &raw.Before, true
	case "after":
		return &raw.After, true
	case "limit":
		return &raw.Limit, true
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return nil, true // Unicode folding: leave it to encoding/json
		}
	}
	for _, name := range [...]string{"type", "messageID", "username", "password", "chatname", "content",
		"recipient", "recipients", "since", "before", "after", "limit"} {
		if bytes.EqualFold(key, []byte(name)) {
			return nil, true
		}
	}
	return nil, false
}
