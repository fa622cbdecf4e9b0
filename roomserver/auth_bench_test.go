package roomserver

import (
	"strconv"
	"testing"
)

// benchRoom is the shared test room (v12 unless said) with 200 more
// members and users listed in power levels, closer to a real room's size.
func benchRoom(b *testing.B, v int) *testRoom {
	r := newTestRoom(b, v, nil)
	r.state.put(r.build(joinRule("public")))
	r.state.put(r.build(powerLevels(func(pl map[string]any) {
		for i := 0; i < 200; i++ {
			usersOf(pl)["@user"+strconv.Itoa(i)+":b.test"] = i % 50
		}
	})))
	for i := 0; i < 200; i++ {
		u := "@user" + strconv.Itoa(i) + ":b.test"
		r.state.put(r.build(memberEv(u, u, "join", "")))
	}
	return r
}

func BenchmarkAuthorizeMessage(b *testing.B) {
	for _, v := range []int{6, 12} {
		r := benchRoom(b, v)
		ev := r.build(msgEv("m.room.message", uBob, `{"msgtype":"m.text","body":"hello, world"}`))
		b.Run("v"+strconv.Itoa(v), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Authorize(ev, r.state); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAuthorizeJoin(b *testing.B) {
	for _, v := range []int{6, 12} {
		r := benchRoom(b, v)
		ev := r.build(memberEv(uCarol, uCarol, "join", `,"displayname":"Carol","avatar_url":"mxc://c.test/abc"`))
		b.Run("v"+strconv.Itoa(v), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Authorize(ev, r.state); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
