package projection

import (
	"fmt"

	"github.com/oklog/ulid/v2"
)

// Erase returns the stored form of the event stored as data under id with
// its content removed: a message's, or an edit's. It is how a deletion
// rewrites the events that held the deleted message's words, in the same
// transaction that stores the MessageDeleted (the log's one rewrite). The
// result has the same type, actor, messageID and other fields, and an
// empty content, which no stored message has otherwise (a message must
// have some non-space content), so a reader can tell an erased one. An
// event without content is returned as it is.
func Erase(id ulid.ULID, data []byte) ([]byte, error) {
	e, err := Decode(id, data)
	if err != nil {
		return nil, fmt.Errorf("erase: %w", err)
	}
	switch p := e.Payload.(type) {
	case ChatCreated:
		p.Content = ""
		e.Payload = p
	case GroupMessagePosted:
		p.Content = ""
		e.Payload = p
	case DirectMessageSent:
		p.Content = ""
		e.Payload = p
	case MessageEdited:
		p.Content = ""
		e.Payload = p
	default:
		return data, nil
	}
	return Encode(e)
}
