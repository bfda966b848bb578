// Package jetlog is Chateau's event log in a NATS JetStream stream, shared
// by several Chateau nodes.
//
// The log knows ids, bytes and NATS; it knows nothing of chat. Each record
// is one message of the stream; the stream's sequence is the log's order.
// Every node runs a tail: a consumer that reads the whole stream from
// sequence 1 and keeps going, indexes the id of every sequence and buffers
// the records for Read. The tail checks the order itself, like nats.go's
// ordered consumer, and when its consumer fails (a skipped delivery,
// missed heartbeats, a reconnect) it makes a new one that starts after
// the last sequence it read.
//
// # Ids
//
// A record's id is not stored: every tail computes it, the same on every
// node, from the message and the id of the record before it. Publish
// proposes an id in the header Chateau-Id of each message: a ULID from the
// publisher's clock, greater than any id the publisher proposed or read
// before. The id of a message is
//
//   - its proposal, if the header holds a valid ULID greater than the
//     previous record's id;
//   - else the previous record's id plus one.
//
// A message without a valid header proposes the ULID of its JetStream
// timestamp's millisecond with a zero random part, and follows the same
// rule. Plus one adds one to the 80-bit random part; when that overflows,
// the carry moves the id to the next millisecond with a zero random part.
// So ids strictly increase in stream order and depend on nothing but the
// stream; and a stream whose proposals already increase, such as one
// copied from a bbolt log with each record's id as its proposal, keeps its
// ids exactly.
//
// # Writes
//
// Publish stores a call's entries as one JetStream atomic batch, all or
// none, in one durable write: Chateau's group commit. Keys and dedup ids of
// eventlog.Entry are checked by the server against everything stored by
// any node.
package jetlog
