package roomserver

import (
	"fmt"
	"testing"
)

// srSynthetic is a generated room for benchmarks: a long history (every
// user joins, then edits their membership; alice reissues the power levels
// every 20 joins, so the power levels chain is long) and then two branches
// on which the same `changed` users edit their membership again, alice
// reissues the power levels every 50 events, a moderator kicks users on
// branch A and alice sets topics on branch B. The conflicted state set is
// about 2×changed events and the auth difference about as large.
type srSynthetic struct {
	room *srRoom
	sets []map[StateKeyTuple]string
}

func newSRSynthetic(tb testing.TB, version string, changed int) *srSynthetic {
	r := newSRRoom(tb, version)
	r.createRoom("$create", srAlice)
	r.member("$ma", srAlice, srAlice, "join", "$create")
	mods := map[string]int{srAlice: 100, srBob: 50, srCharlie: 50}
	r.powerLevels("$pl", srAlice, mods, "$create", "$ma")
	r.joinRules("$jr", srAlice, "public", "$create", "$ma", "$pl")
	base := srState(r.events["$create"], r.events["$ma"], r.events["$pl"], r.events["$jr"])
	pl := "$pl"
	users := make([]string, 0, 2*changed+2)
	for _, u := range []string{srBob, srCharlie} {
		users = append(users, u)
		base[StateKeyTuple{srTypeMember, u}] = r.member("$j"+u, u, u, "join", "$create", "$jr", pl).id
	}
	for i := 0; len(users) < 2*changed+2; i++ {
		u := fmt.Sprintf("@u%d:s%d.test", i, i%7)
		users = append(users, u)
		join := r.member(fmt.Sprintf("$h%d", i), u, u, "join", "$create", "$jr", pl)
		edit := r.member(fmt.Sprintf("$h%de", i), u, u, "join", "$create", "$jr", pl, join.id)
		base[edit.key()] = edit.id
		if i%20 == 19 {
			pl = r.powerLevels(fmt.Sprintf("$hpl%d", i), srAlice, mods, "$create", "$ma", pl).id
			base[srKeyPowerLevels] = pl
		}
	}
	s := &srSynthetic{room: r}
	for _, branch := range []string{"a", "b"} {
		s.sets = append(s.sets, s.branch(branch, base, users, pl, changed))
	}
	return s
}

// branch plays one side of the fork on a copy of base.
func (s *srSynthetic) branch(name string, base map[StateKeyTuple]string, users []string, pl string, changed int) map[StateKeyTuple]string {
	r := s.room
	state := srCopyState(base)
	for i := 0; i < changed; i++ {
		u := users[2+i]
		key := StateKeyTuple{srTypeMember, u}
		state[key] = r.member(fmt.Sprintf("$%s%d", name, i), u, u, "join", "$create", "$jr", pl, state[key]).id
		switch {
		case i%50 == 49:
			pl = r.powerLevels(fmt.Sprintf("$%spl%d", name, i), srAlice, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50}, "$create", "$ma", pl).id
			state[srKeyPowerLevels] = pl
		case i%100 == 10 && name == "a":
			victim := users[changed+2+i/100]
			vkey := StateKeyTuple{srTypeMember, victim}
			state[vkey] = r.member(fmt.Sprintf("$kick%d", i), victim, srBob, "leave", "$create", "$j"+srBob, pl, state[vkey]).id
		case i%100 == 20 && name == "b":
			state[StateKeyTuple{"m.room.topic", ""}] = r.topic(fmt.Sprintf("$topic%d", i), srAlice, "t", "$create", "$ma", pl).id
		}
	}
	return state
}

func srAllowAll(Event, StateResLookup) error { return nil }

// BenchmarkStateRes resolves the two branches of a synthetic room, with
// the test authorization rules ("rules") and with an authorizer that
// allows everything ("allow", the cost of state resolution alone).
func BenchmarkStateRes(b *testing.B) {
	for _, version := range []string{"11", "12"} {
		for _, size := range []struct {
			name    string
			changed int
		}{{"1k", 500}, {"10k", 5000}} {
			room := newSRSynthetic(b, version, size.changed)
			for _, a := range []struct {
				name string
				auth StateResAuthorizer
			}{{"rules", srTestAuthorize}, {"allow", srAllowAll}} {
				b.Run(fmt.Sprintf("v%s/conflicted=%s/%s", version, size.name, a.name), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := ResolveState(room.room.version, room.sets, room.room.events, a.auth); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// The synthetic room must be one the rules accept: every changed member
// resolves to one of its branch edits, the kicks and the newest power
// levels survive.
func TestStateResSyntheticRoomResolves(t *testing.T) {
	for _, version := range []string{"11", "12"} {
		s := newSRSynthetic(t, version, 300)
		split := srSplitConflicts(s.sets)
		if len(split.conflicted) < 600 {
			t.Fatalf("only %d conflicted events", len(split.conflicted))
		}
		got := s.room.resolve(s.sets...)
		for i := 0; i < 300; i++ {
			a, b := fmt.Sprintf("$a%d", i), fmt.Sprintf("$b%d", i)
			if id := got[s.room.events[a].key()]; id != a && id != b {
				t.Fatalf("v%s: member %d resolved to %q", version, i, id)
			}
		}
		for _, id := range []string{"$kick10", "$kick110", "$kick210"} {
			ev := s.room.events[id]
			if got[ev.key()] != id {
				t.Errorf("v%s: kick %s lost to %s", version, id, got[ev.key()])
			}
		}
	}
}
