package sytest

import (
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// mautrixUser logs a registered user in with mautrix-go.
func mautrixUser(t *testing.T, s *harness.Server, localpart string) *mautrix.Client {
	t.Helper()
	s.RegisterUser(localpart, localpart+"-pw", false)
	cli, err := mautrix.NewClient(s.ClientURL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.Login(t.Context(), &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: localpart},
		Password:         localpart + "-pw",
		StoreCredentials: true,
	})
	if err != nil {
		t.Fatalf("login %s: %v", localpart, err)
	}
	return cli
}

// mautrixSharedRoom has creator make a public room named name and joiner
// join it, and returns its ID.
func mautrixSharedRoom(t *testing.T, creator, joiner *mautrix.Client, name string) id.RoomID {
	t.Helper()
	created, err := creator.CreateRoom(t.Context(), &mautrix.ReqCreateRoom{Name: name, Preset: "public_chat"})
	if err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	if _, err := joiner.JoinRoomByID(t.Context(), created.RoomID); err != nil {
		t.Fatalf("JoinRoomByID: %v", err)
	}
	return created.RoomID
}

// TestMautrixRoomBasics drives the room endpoints with a real client
// library: its request and response shapes must match ours.
func TestMautrixRoomBasics(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		ctx := t.Context()
		alice, bob := mautrixUser(t, s, "alice"), mautrixUser(t, s, "bob")
		room := mautrixSharedRoom(t, alice, bob, "Lounge")
		sent, err := bob.SendMessageEvent(ctx, room, event.EventMessage, &event.MessageEventContent{MsgType: event.MsgText, Body: "hi"})
		if err != nil {
			t.Fatalf("SendMessageEvent: %v", err)
		}
		got, err := alice.GetEvent(ctx, room, sent.EventID)
		if err != nil || got.Sender != bob.UserID || got.Type != event.EventMessage {
			t.Fatalf("GetEvent: %+v %v", got, err)
		}
		checkMautrixState(t, alice, room)
		members, err := alice.JoinedMembers(ctx, room)
		if err != nil || len(members.Joined) != 2 {
			t.Fatalf("JoinedMembers: %+v %v", members, err)
		}
		if _, err := alice.KickUser(ctx, room, &mautrix.ReqKickUser{UserID: bob.UserID, Reason: "bye"}); err != nil {
			t.Fatalf("KickUser: %v", err)
		}
		joined, err := bob.JoinedRooms(ctx)
		if err != nil || len(joined.JoinedRooms) != 0 {
			t.Fatalf("JoinedRooms after kick: %+v %v", joined, err)
		}
	})
}

func checkMautrixState(t *testing.T, alice *mautrix.Client, room id.RoomID) {
	t.Helper()
	ctx := t.Context()
	if _, err := alice.SendStateEvent(ctx, room, event.StateTopic, "", &event.TopicEventContent{Topic: "news"}); err != nil {
		t.Fatalf("SendStateEvent: %v", err)
	}
	var topic event.TopicEventContent
	if err := alice.StateEvent(ctx, room, event.StateTopic, "", &topic); err != nil || topic.Topic != "news" {
		t.Fatalf("StateEvent: %+v %v", topic, err)
	}
	state, err := alice.State(ctx, room)
	if err != nil || state[event.StateRoomName][""] == nil {
		t.Fatalf("State: %v (name present: %v)", err, state[event.StateRoomName][""] != nil)
	}
	members, err := alice.Members(ctx, room)
	if err != nil || len(members.Chunk) != 2 {
		t.Fatalf("Members: %+v %v", members, err)
	}
}
