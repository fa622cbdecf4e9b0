package federation

import (
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/roomserver"
)

// BenchmarkJoinRoomOf1000Members: a fresh server joins a room of 1,000
// members over (in-process) federation: make_join, send_join on the
// resident, then checking signatures of and persisting the ~1,000 state
// and auth chain events on the joiner.
func BenchmarkJoinRoomOf1000Members(b *testing.B) {
	w := newMemberWorld(b, residentServer)
	res := w.servers[residentServer]
	roomID := res.createRoom(b, residentUser, "public_chat")
	for i := range 1000 {
		user := fmt.Sprintf("@u%d:resident.test", i)
		req := roomserver.EventRequest{RoomID: roomID, Sender: user, Type: "m.room.member", StateKey: &user, Content: []byte(`{"membership":"join"}`)}
		if _, err := res.rooms.SendEvent(b.Context(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		name := fmt.Sprintf("joiner%d.test", i)
		w.servers[name] = w.newServer(name)
		b.StartTimer()
		if err := w.servers[name].m.Join(b.Context(), "@bob:"+name, roomID, []string{residentServer}, nil); err != nil {
			b.Fatal(err)
		}
	}
}
