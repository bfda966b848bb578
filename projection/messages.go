package projection

import (
	"slices"

	"github.com/oklog/ulid/v2"
)

// messageBlock is how many messages a block of the message index holds.
const messageBlock = 4096

// messageIndex finds a message by id: every message's id in log order,
// beside its conversation and sender, 24 bytes a message and no pointers
// for the garbage collector to follow. It is kept in blocks of
// messageBlock, so that growing it never copies what it holds: a single
// slice of a million messages would copy megabytes, in the sequencer,
// each time it doubled.
type messageIndex struct {
	blocks [][]indexedMessage
}

type indexedMessage struct {
	id           ulid.ULID
	conv, sender uint32
}

// add appends a message, whose id is greater than every id added before.
func (x *messageIndex) add(m indexedMessage) {
	n := len(x.blocks)
	if n == 0 || len(x.blocks[n-1]) == messageBlock {
		x.blocks = append(x.blocks, make([]indexedMessage, 0, messageBlock))
		n++
	}
	x.blocks[n-1] = append(x.blocks[n-1], m)
}

// find returns the message with id: two binary searches.
func (x *messageIndex) find(id ulid.ULID) (indexedMessage, bool) {
	// The last block whose first id is not after id.
	b, found := slices.BinarySearchFunc(x.blocks, id, func(blk []indexedMessage, id ulid.ULID) int { return blk[0].id.Compare(id) })
	if !found {
		b--
	}
	if b < 0 {
		return indexedMessage{}, false
	}
	blk := x.blocks[b]
	i, found := slices.BinarySearchFunc(blk, id, func(m indexedMessage, id ulid.ULID) int { return m.id.Compare(id) })
	if !found {
		return indexedMessage{}, false
	}
	return blk[i], true
}
