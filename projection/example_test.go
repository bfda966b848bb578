package projection_test

import (
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/chateau/chateau/projection"
	"github.com/oklog/ulid/v2"
)

// ExampleEncode shows the stored form of an event and reads it back. The
// id is not part of the bytes: the log stores it as the record's key.
func ExampleEncode() {
	id := ulid.MustNew(ulid.Timestamp(time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC)), nil)
	e := projection.Event{
		ID:        id,
		Actor:     "alice",
		RequestID: "7",
		Payload:   projection.GroupMessagePosted{Chat: "general", Content: "hi"},
	}
	data, err := projection.Encode(e)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", data)

	back, err := projection.Decode(id, data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Text())
	js, _ := json.Marshal(back)
	fmt.Println(string(js))

	_, err = projection.Decode(id, data[:len(data)-1])
	fmt.Println(err)
	// Output:
	// 01 03 05 61 6c 69 63 65 01 37 07 67 65 6e 65 72 61 6c 02 68 69
	// 2024-05-17T12:00:00.000Z 01HY36RQG00000000000000000 GroupMessagePosted alice -> #general: "hi"
	// {"id":"01HY36RQG00000000000000000","type":"GroupMessagePosted","time":"2024-05-17T12:00:00.000Z","v":1,"actor":"alice","messageID":7,"data":{"chatname":"general","content":"hi"}}
	// malformed event: 01HY36RQG00000000000000000: bad field length
}

// ExampleState_Apply rebuilds a state from events in log order. An event
// that contradicts the state is refused and changes nothing.
func ExampleState_Apply() {
	at := func(ms uint64) ulid.ULID {
		return ulid.MustNew(ulid.Timestamp(time.Date(2024, 5, 17, 12, 0, 0, 0, time.UTC))+ms, nil)
	}
	s := projection.NewState()
	for _, e := range []projection.Event{
		{ID: at(1), Actor: "alice", Payload: projection.UserRegistered{Username: "alice"}},
		{ID: at(2), Actor: "bob", Payload: projection.UserRegistered{Username: "bob"}},
		{ID: at(3), Actor: "alice", Payload: projection.ChatCreated{Chat: "general", Members: []string{"alice", "bob"}, Content: "welcome"}},
		{ID: at(4), Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "general", Content: "thanks"}},
		{ID: at(5), Actor: "bob", Payload: projection.UserRegistered{Username: "alice"}},
		{ID: at(6), Actor: "bob", Payload: projection.GroupMessagePosted{Chat: "random", Content: "anyone?"}},
	} {
		if err := s.Apply(e); err != nil {
			fmt.Println("refused:", err)
		}
	}
	users, chats, events := s.Counts()
	fmt.Printf("%d users, %d chats, %d events\n", users, chats, events)
	c, _ := s.Chat("general")
	fmt.Println(c.Name, "by", c.Creator, c.Members, "last message is the 4th event:", c.LastID == at(4))
	// Output:
	// refused: apply 01HY36RQG50000000000000000: user "alice" already registered
	// refused: apply 01HY36RQG60000000000000000: no chat "random"
	// 2 users, 1 chats, 4 events
	// general by alice [alice bob] last message is the 4th event: true
}
