package wsapi

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/chateau/chateau/chat"
	"github.com/chateau/chateau/internal/jsonscan"
	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// maxMessageIDBytes bounds the echoed messageID.
const maxMessageIDBytes = 128

// Indexes of the fields any request may carry, in rawRequest.
const (
	fieldType = iota
	fieldMessageID
	fieldUsername
	fieldPassword
	fieldChatname
	fieldContent
	fieldRecipient
	fieldRecipients
	fieldSince
	fieldBefore
	fieldAfter
	fieldLimit
	fieldID
	fieldUsernames
	fieldOld
	fieldNew
	numFields
)

// requestFields names the fields: the one table behind the scanner, the
// encoding/json fallback and the checks that a key is known.
var requestFields = [numFields]string{
	fieldType: "type", fieldMessageID: "messageID", fieldUsername: "username", fieldPassword: "password",
	fieldChatname: "chatname", fieldContent: "content", fieldRecipient: "recipient", fieldRecipients: "recipients",
	fieldSince: "since", fieldBefore: "before", fieldAfter: "after", fieldLimit: "limit",
	fieldID: "id", fieldUsernames: "usernames", fieldOld: "old", fieldNew: "new",
}

// rawRequest holds every field any request may carry, undecoded, so that a
// wrongly typed field that the request does not use is ignored.
type rawRequest [numFields]json.RawMessage

// decodeRequest parses one text frame. maxContent bounds "content" in bytes.
func decodeRequest(frame []byte, maxContent int) *chat.Request {
	r := &chat.Request{}
	var raw rawRequest
	kind, err := decodeEnvelope(frame, &raw, r)
	if err != nil {
		r.Err = err
		return r
	}
	d := fieldDecoder{}
	if !d.fields(kind, &raw, r) {
		r.Err = chat.Reasonf(chat.ErrUnknownType, "unknown request type %q", chat.Truncate(kind, chat.MaxQuoted))
		return r
	}
	r.Kind = kind
	r.Err = d.err
	if r.Err == nil && r.Password != "" && (len(r.Password) < projection.MinPasswordBytes || len(r.Password) > projection.MaxPasswordBytes) {
		r.Err = chat.Reasonf(chat.ErrBadRequest, "password must be %d-%d bytes", projection.MinPasswordBytes, projection.MaxPasswordBytes)
	}
	if r.Err == nil && len(r.Content) > maxContent {
		r.Err = chat.Reasonf(chat.ErrTooLarge, "content is %d bytes; the limit is %d", len(r.Content), maxContent)
	}
	return r
}

// decodeEnvelope checks that frame is a JSON object, fills raw, sets r's
// messageID and returns the request's type.
func decodeEnvelope(frame []byte, raw *rawRequest, r *chat.Request) (string, error) {
	if !utf8.Valid(frame) {
		return "", chat.Reasonf(chat.ErrBadRequest, "frame is not valid UTF-8")
	}
	if err := unmarshalRequest(frame, raw); err != nil {
		if _, ok := err.(*json.UnmarshalTypeError); ok {
			return "", chat.Reasonf(chat.ErrBadRequest, "request must be a JSON object")
		}
		return "", chat.Reasonf(chat.ErrBadRequest, "invalid JSON: %v", err)
	}
	if id := raw[fieldMessageID]; isPresent(id) {
		if err := checkMessageID(id); err != nil {
			return "", err
		}
		r.MessageID = id // a string or a number has no whitespace to compact
	}
	if !isPresent(raw[fieldType]) {
		return "", chat.Reasonf(chat.ErrBadRequest, "missing field \"type\"")
	}
	kind, ok := unquote(raw[fieldType])
	if !ok {
		return "", chat.Reasonf(chat.ErrBadRequest, "field \"type\" must be a string")
	}
	return kind, nil
}

// checkMessageID accepts a string or a number a client can read back.
func checkMessageID(id json.RawMessage) error {
	switch {
	case len(id) > maxMessageIDBytes:
		return chat.Reasonf(chat.ErrBadRequest, "messageID is longer than %d bytes", maxMessageIDBytes)
	case id[0] != '"' && id[0] != '-' && (id[0] < '0' || id[0] > '9'):
		return chat.Reasonf(chat.ErrBadRequest, "messageID must be a string or a number")
	case id[0] != '"':
		// Echo only numbers every client can read back.
		if _, err := strconv.ParseFloat(string(id), 64); err != nil {
			return chat.Reasonf(chat.ErrBadRequest, "messageID is not a representable number")
		}
	}
	return nil
}

// fieldDecoder decodes fields until the first error.
type fieldDecoder struct{ err error }

// fields decodes the fields of a request of kind into r, and reports false
// if kind names no request.
func (d *fieldDecoder) fields(kind string, raw *rawRequest, r *chat.Request) bool {
	switch kind {
	case chat.TypeRegister:
		r.Username = d.string(raw, fieldUsername, true)
		r.Password = d.string(raw, fieldPassword, false)
		r.Since, r.HasSince = d.id(raw, fieldSince)
	case chat.TypeGroupMessageInit:
		r.Recipients = d.strings(raw, fieldRecipients)
		r.Content = d.string(raw, fieldContent, true)
		r.Chatname = d.string(raw, fieldChatname, true)
	case chat.TypeGroupMessage:
		r.Chatname = d.string(raw, fieldChatname, true)
		r.Content = d.string(raw, fieldContent, true)
	case chat.TypeClientList, chat.TypeChatList:
	case chat.TypeHistory:
		d.history(raw, r)
	case chat.TypeRandomMessage:
		r.Content = d.string(raw, fieldContent, true)
	case chat.TypeSingleMessage:
		r.Recipient = d.string(raw, fieldRecipient, true)
		r.Content = d.string(raw, fieldContent, true)
	default:
		return d.changeFields(kind, raw, r)
	}
	return true
}

// changeFields decodes the fields of the requests that change what was
// stored before, and reports false if kind names no request.
func (d *fieldDecoder) changeFields(kind string, raw *rawRequest, r *chat.Request) bool {
	switch kind {
	case chat.TypeMarkRead:
		d.conversation(raw, r)
		r.ID = d.requiredID(raw, fieldID)
	case chat.TypeChatInvite:
		r.Chatname = d.string(raw, fieldChatname, true)
		r.Usernames = d.strings(raw, fieldUsernames)
	case chat.TypeChatLeave:
		r.Chatname = d.string(raw, fieldChatname, true)
	case chat.TypeEditMessage:
		r.ID = d.requiredID(raw, fieldID)
		r.Content = d.string(raw, fieldContent, true)
	case chat.TypeDeleteMessage:
		r.ID = d.requiredID(raw, fieldID)
	case chat.TypeTyping:
		d.conversation(raw, r)
	case chat.TypeChangePassword:
		r.OldPassword = d.string(raw, fieldOld, false)
		r.NewPassword = d.string(raw, fieldNew, true)
		d.passwords(r)
	default:
		return false
	}
	return true
}

// conversation decodes exactly one of "chatname" and "recipient".
func (d *fieldDecoder) conversation(raw *rawRequest, r *chat.Request) {
	r.Chatname = d.string(raw, fieldChatname, false)
	r.Recipient = d.string(raw, fieldRecipient, false)
	if d.err == nil && (r.Chatname == "") == (r.Recipient == "") {
		d.err = chat.Reasonf(chat.ErrBadRequest, "give exactly one of \"chatname\" or \"recipient\"")
	}
}

// passwords checks a ChangePasswordRequest's lengths: the new one as a
// registration's, the old one no longer than any.
func (d *fieldDecoder) passwords(r *chat.Request) {
	switch {
	case d.err != nil:
	case len(r.NewPassword) < projection.MinPasswordBytes || len(r.NewPassword) > projection.MaxPasswordBytes:
		d.err = chat.Reasonf(chat.ErrBadRequest, "new password must be %d-%d bytes", projection.MinPasswordBytes, projection.MaxPasswordBytes)
	case len(r.OldPassword) > projection.MaxPasswordBytes:
		d.err = chat.Reasonf(chat.ErrBadRequest, "old password is longer than %d bytes", projection.MaxPasswordBytes)
	}
}

// requiredID decodes a message id that must be given.
func (d *fieldDecoder) requiredID(raw *rawRequest, field int) ulid.ULID {
	if d.err == nil && !isPresent(raw[field]) {
		d.err = chat.Reasonf(chat.ErrBadRequest, "missing field %q", requestFields[field])
	}
	id, _ := d.id(raw, field)
	return id
}

// history decodes a HistoryRequest's fields.
func (d *fieldDecoder) history(raw *rawRequest, r *chat.Request) {
	d.conversation(raw, r)
	r.Before, _ = d.id(raw, fieldBefore)
	r.After, _ = d.id(raw, fieldAfter)
	r.Limit = d.int(raw, fieldLimit, chat.DefaultHistoryLimit)
	switch {
	case d.err != nil:
	case isPresent(raw[fieldBefore]) && isPresent(raw[fieldAfter]):
		d.err = chat.Reasonf(chat.ErrBadRequest, "give at most one of \"before\" or \"after\"")
	case r.Limit < 1 || r.Limit > chat.MaxHistoryLimit:
		d.err = chat.Reasonf(chat.ErrBadRequest, "limit must be 1-%d", chat.MaxHistoryLimit)
	}
}

func (d *fieldDecoder) string(raw *rawRequest, field int, required bool) string {
	if d.err != nil {
		return ""
	}
	if !isPresent(raw[field]) {
		if required {
			d.err = chat.Reasonf(chat.ErrBadRequest, "missing field %q", requestFields[field])
		}
		return ""
	}
	s, ok := unquote(raw[field])
	if !ok {
		d.err = chat.Reasonf(chat.ErrBadRequest, "field %q must be a string", requestFields[field])
	}
	return s
}

// unquote decodes a JSON string value, from a document that the scanner or
// encoding/json has checked; one without escapes is just its bytes.
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

func (d *fieldDecoder) strings(raw *rawRequest, field int) []string {
	if d.err != nil {
		return nil
	}
	if !isPresent(raw[field]) {
		d.err = chat.Reasonf(chat.ErrBadRequest, "missing field %q", requestFields[field])
		return nil
	}
	var s []string
	if err := json.Unmarshal(raw[field], &s); err != nil {
		d.err = chat.Reasonf(chat.ErrBadRequest, "field %q must be an array of strings", requestFields[field])
	}
	return s
}

// id decodes an optional message id (a ULID string).
func (d *fieldDecoder) id(raw *rawRequest, field int) (ulid.ULID, bool) {
	s := d.string(raw, field, false)
	if d.err != nil || !isPresent(raw[field]) {
		return ulid.ULID{}, false
	}
	id, err := ulid.ParseStrict(s)
	if err != nil {
		d.err = chat.Reasonf(chat.ErrBadRequest, "field %q must be a message id", requestFields[field])
		return ulid.ULID{}, false
	}
	return id, true
}

// int decodes an optional integer, def when absent.
func (d *fieldDecoder) int(raw *rawRequest, field int, def int) int {
	if d.err != nil {
		return 0
	}
	if !isPresent(raw[field]) {
		return def
	}
	var n int
	if err := json.Unmarshal(raw[field], &n); err != nil {
		d.err = chat.Reasonf(chat.ErrBadRequest, "field %q must be an integer", requestFields[field])
	}
	return n
}

// isPresent reports whether a field was given with a non-null value.
func isPresent(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
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
	return unmarshalJSON(frame, raw)
}

// unmarshalJSON fills raw from frame with encoding/json.
func unmarshalJSON(frame []byte, raw *rawRequest) error {
	fallback := reflect.New(fallbackRequest)
	if err := json.Unmarshal(frame, fallback.Interface()); err != nil {
		return err
	}
	for i := range raw {
		raw[i] = fallback.Elem().Field(i).Interface().(json.RawMessage)
	}
	return nil
}

// fallbackRequest is a struct with a json.RawMessage field tagged with each
// of requestFields, in order, for encoding/json to fill by its own rules
// (letter case, duplicate keys, errors).
var fallbackRequest = func() reflect.Type {
	fields := make([]reflect.StructField, numFields)
	for i, name := range requestFields {
		fields[i] = reflect.StructField{Name: "F" + strconv.Itoa(i), Type: reflect.TypeFor[json.RawMessage](),
			Tag: reflect.StructTag(`json:"` + name + `"`)}
	}
	return reflect.StructOf(fields)
}()

// scanRequest fills raw if frame is a JSON object whose keys are plain and
// either spelled exactly as one of requestFields or unlike all of them
// (encoding/json would match "Type" to "type"), and reports whether it did.
func scanRequest(frame []byte, raw *rawRequest) bool {
	s := jsonscan.Scanner{Data: frame}
	return s.Object(func(key []byte) bool {
		start := s.I
		if !s.Skip(0) {
			return false
		}
		field, known := fieldOf(key)
		switch {
		case field >= 0:
			raw[field] = frame[start:s.I]
		case known:
			return false // a known field in another spelling
		}
		return true
	})
}

// fieldOf returns the index of the field key names exactly, or -1; known
// reports whether key names a field in any letter case.
func fieldOf(key []byte) (field int, known bool) {
	for i, name := range requestFields {
		if string(key) == name {
			return i, true
		}
	}
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return -1, true // Unicode folding: leave it to encoding/json
		}
	}
	for _, name := range requestFields {
		if bytes.EqualFold(key, []byte(name)) {
			return -1, true
		}
	}
	return -1, false
}
