package sytest

import (
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestMautrixDirectoryAndLifecycle drives the directory, user search,
// knock, forget and timestamp endpoints with a real client library, so
// their request and response shapes are checked against it.
func TestMautrixDirectoryAndLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		ctx := t.Context()
		alice, bob := mautrixUser(t, s, "alice"), mautrixUser(t, s, "bob")
		created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Plaza", Visibility: "public"})
		if err != nil {
			t.Fatalf("CreateRoom: %v", err)
		}
		plaza := created.RoomID
		rooms, err := bob.PublicRooms(ctx, &mautrix.ReqPublicRooms{Limit: 5})
		if err != nil || len(rooms.Chunk) != 1 || rooms.Chunk[0].RoomID != plaza || rooms.Chunk[0].Name != "Plaza" || rooms.Chunk[0].NumJoinedMembers != 1 {
			t.Fatalf("PublicRooms: %+v %v", rooms, err)
		}
		found, err := bob.SearchUserDirectory(ctx, "alice", 5)
		if err != nil || len(found.Results) != 1 || found.Results[0].UserID != alice.UserID {
			t.Fatalf("SearchUserDirectory: %+v %v", found, err)
		}

		before := time.Now().Add(-time.Second)
		if _, err := bob.JoinRoomByID(ctx, plaza); err != nil {
			t.Fatalf("JoinRoomByID: %v", err)
		}
		sent, err := bob.SendMessageEvent(ctx, plaza, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: "hello"})
		if err != nil {
			t.Fatalf("SendMessageEvent: %v", err)
		}
		near, err := alice.TimestampToEvent(ctx, plaza, time.Now().Add(time.Minute), mautrix.DirectionBackward)
		if err != nil || near.EventID != sent.EventID {
			t.Errorf("TimestampToEvent backwards: %+v %v", near, err)
		}
		if _, err := alice.TimestampToEvent(ctx, plaza, before, mautrix.DirectionForward); err != nil {
			t.Errorf("TimestampToEvent forwards: %v", err)
		}
		if _, err := bob.LeaveRoom(ctx, plaza); err != nil {
			t.Fatalf("LeaveRoom: %v", err)
		}
		if _, err := bob.ForgetRoom(ctx, plaza); err != nil {
			t.Errorf("ForgetRoom: %v", err)
		}

		knockable, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{InitialState: []*event.Event{{
			Type: event.StateJoinRules, StateKey: ptrTo(""), Content: event.Content{Parsed: &event.JoinRulesEventContent{JoinRule: event.JoinRuleKnock}},
		}}})
		if err != nil {
			t.Fatalf("CreateRoom (knock): %v", err)
		}
		knocked, err := bob.KnockRoom(ctx, knockable.RoomID.String(), &mautrix.ReqKnockRoom{Reason: "hello?"})
		if err != nil || knocked.RoomID != knockable.RoomID {
			t.Errorf("KnockRoom: %+v %v", knocked, err)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }
