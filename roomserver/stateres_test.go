package roomserver

import (
	"errors"
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

// srV2Versions are the room versions the v2 worked examples run under:
// v2 (2, 11) and v2.1 (12).
var srV2Versions = []string{"2", "11", "12"}

// srBase is a small room: alice creates it and is admin (in v12 a
// creator), bob and charlie hold 50, the room is public, all three joined.
type srBase struct {
	*srRoom
	create, ma, pl0, jr, mb, mc *srTestEvent
}

func newSRBase(t testing.TB, version string) *srBase {
	r := newSRRoom(t, version)
	b := &srBase{srRoom: r}
	b.create = r.createRoom("$create", srAlice)
	b.ma = r.member("$ma", srAlice, srAlice, "join", "$create")
	b.pl0 = r.powerLevels("$pl0", srAlice, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50}, "$create", "$ma")
	b.jr = r.joinRules("$jr", srAlice, "public", "$create", "$ma", "$pl0")
	b.mb = r.member("$mb", srBob, srBob, "join", "$create", "$jr", "$pl0")
	b.mc = r.member("$mc", srCharlie, srCharlie, "join", "$create", "$jr", "$pl0")
	return b
}

// state is the base state plus extra events (later ones replace keys).
func (b *srBase) state(extra ...*srTestEvent) map[StateKeyTuple]string {
	return srState(append([]*srTestEvent{b.create, b.ma, b.pl0, b.jr, b.mb, b.mc}, extra...)...)
}

func srForVersions(t *testing.T, versions []string, f func(t *testing.T, version string)) {
	for _, v := range versions {
		t.Run("v"+v, func(t *testing.T) { f(t, v) })
	}
}

// Alice demotes Bob while Bob, concurrently, edits the power levels and
// sets a topic. Alice's change sorts first (greater sender power, even
// though Bob's is older), so Bob's edit and topic no longer pass auth.
func TestStateResV2PowerLevelsHigherPowerWins(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		b := newSRBase(t, version)
		plBob := b.powerLevels("$plBob", srBob, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50, srEve: 50}, "$create", "$mb", "$pl0").withTS(10)
		tBob := b.topic("$tBob", srBob, "bob's topic", "$create", "$mb", "$plBob").withTS(11)
		plAlice := b.powerLevels("$plAlice", srAlice, map[string]int{srAlice: 100, srCharlie: 50}, "$create", "$ma", "$pl0").withTS(20)

		got := b.resolve(b.state(plAlice), b.state(plBob, tBob))
		srExpect(t, got, srState(plAlice))
		if id, ok := got[tBob.key()]; ok {
			t.Errorf("topic %s survived the demotion", id)
		}
	})
}

// Step 1's order directly: a topological constraint beats power, then
// greater power, then earlier origin_server_ts, then smaller event ID.
func TestStateResV2ReverseTopologicalPowerOrder(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		b := newSRBase(t, version)
		jrAlice := b.joinRules("$jrAlice", srAlice, "invite", "$create", "$ma", "$pl0").withTS(50)
		jrBob := b.joinRules("$jrBob", srBob, "invite", "$create", "$mb", "$pl0").withTS(30)
		jrCharlie := b.joinRules("$jrCharlie", srCharlie, "public", "$create", "$mc", "$pl0").withTS(30)
		jrCharlie2 := b.joinRules("$jrCharlie0", srCharlie, "public", "$create", "$mc", "$pl0").withTS(40)
		plBob := b.powerLevels("$plBob", srBob, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50, srEve: 1}, "$create", "$mb", "$pl0").withTS(1)
		plAlice := b.powerLevels("$plAlice", srAlice, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50, srEve: 2}, "$create", "$ma", "$plBob").withTS(60)

		sets := []map[StateKeyTuple]string{b.state(jrAlice), b.state(jrBob, plBob), b.state(jrCharlie), b.state(jrCharlie2, plAlice)}
		order := srPowerOrderForTest(t, b.srRoom, sets)
		// plBob before plAlice (cited by it) although alice is stronger;
		// bob's and charlie's equal power at ts 30 falls to event ID.
		// pl0 is conflicted too and cited by everything, so it comes first.
		want := []string{"$pl0", "$jrAlice", "$plBob", "$plAlice", "$jrBob", "$jrCharlie", "$jrCharlie0"}
		if version == "12" {
			// v2.1: $jr, $mb and $mc lie on auth paths between conflicted
			// events ($jrBob -> $mb -> $jr -> $pl0), so they are in the
			// conflicted state subgraph, and $plBob must wait for $mb.
			want = []string{"$pl0", "$jrAlice", "$jr", "$mb", "$plBob", "$plAlice", "$jrBob", "$mc", "$jrCharlie", "$jrCharlie0"}
		}
		if !srEqualIDs(order, want) {
			t.Errorf("order %v, want %v", order, want)
		}
	})
}

func srPowerOrderForTest(t *testing.T, r *srRoom, stateSets []map[StateKeyTuple]string) []string {
	t.Helper()
	split := srSplitConflicts(stateSets)
	res, err := newSRResolver(r.version, split, r.events, srTestAuthorize)
	if err != nil {
		t.Fatal(err)
	}
	full := res.fullConflictedSet(split, r.version.StateRes == mxcore.StateResV21)
	order, _ := res.sortPowerEvents(full)
	ids := make([]string, len(order))
	for i, n := range order {
		ids[i] = res.g.events[n].EventID()
	}
	return ids
}

func srEqualIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Alice bans Eve while Eve joins. The ban is a power event, replayed in
// step 2; the join is replayed in step 4 against a state where Eve is
// banned, so the ban wins whichever came first.
func TestStateResV2BanRacesJoin(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		for _, joinFirst := range []bool{true, false} {
			b := newSRBase(t, version)
			ban := b.member("$ban", srEve, srAlice, "ban", "$create", "$ma", "$pl0").withTS(100)
			join := b.member("$ejoin", srEve, srEve, "join", "$create", "$jr", "$pl0").withTS(200)
			if joinFirst {
				join.withTS(50)
			}
			got := b.resolve(b.state(ban), b.state(join))
			srExpect(t, got, srState(ban))
		}
	})
}

// Two topics race. Bob's topic on branch A cites the old power levels;
// branch B has a newer power levels event and Bob's topic citing it. The
// mainline of the resolved power levels puts the branch A topic earlier
// (it hangs off an older mainline event), so branch B's topic is applied
// last and wins although it has the earlier timestamp.
func TestStateResV2TopicRaceDecidedByMainline(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		b := newSRBase(t, version)
		tA := b.topic("$tA", srBob, "A", "$create", "$mb", "$pl0").withTS(5000)
		pl1 := b.powerLevels("$pl1", srAlice, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50, srEve: 5}, "$create", "$ma", "$pl0").withTS(2000)
		tB := b.topic("$tB", srBob, "B", "$create", "$mb", "$pl1").withTS(3000)

		got := b.resolve(b.state(tA), b.state(pl1, tB))
		srExpect(t, got, srState(pl1, tB))

		// A longer mainline: after pl2, tA's power levels sit two steps
		// down the mainline, tB's one step, so tB still applies last.
		pl2 := b.powerLevels("$pl2", srAlice, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50, srEve: 6}, "$create", "$ma", "$pl1").withTS(2500)
		got = b.resolve(b.state(tA), b.state(pl2, tB))
		srExpect(t, got, srState(pl2, tB))

		// Control: with both topics on the same mainline event, the later
		// timestamp is applied last and wins.
		tA2 := b.topic("$tA2", srBob, "A2", "$create", "$mb", "$pl1").withTS(5000)
		got = b.resolve(b.state(pl1, tA2), b.state(pl1, tB))
		srExpect(t, got, srState(tA2))
	})
}

// A state set from long ago (before the power levels, join rules and the
// other members existed) must not reset the room: every later event is in
// the auth difference and is replayed successfully.
func TestStateResV2OldStateSetDoesNotReset(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		b := newSRBase(t, version)
		t0 := b.topic("$t0", srAlice, "hello", "$create", "$ma", "$pl0")
		current := b.state(t0)
		old := srState(b.create, b.ma)
		got := b.resolve(old, current)
		if !srEqualState(got, current) {
			t.Errorf("got %v, want %v", got, current)
		}
	})
}

// An old state set holding the previous power levels (and charlie's
// join) must not undo a promotion and the ban that relied on it.
func TestStateResV2OldPowerLevelsDoNotReset(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		b := newSRBase(t, version)
		pl1 := b.powerLevels("$pl1", srAlice, map[string]int{srAlice: 100, srBob: 75, srCharlie: 50}, "$create", "$ma", "$pl0")
		ban := b.member("$banC", srCharlie, srBob, "ban", "$create", "$mb", "$pl1", "$mc")
		current := b.state(pl1, ban)
		got := b.resolve(b.state(), current)
		if !srEqualState(got, current) {
			t.Errorf("got %v, want %v", got, current)
		}
	})
}

// MSC4297 problem A: one state set holds an outdated join rules event and
// both agree that alice (who set both join rules) has since left. v2
// replays the join rules on top of the unconflicted state, where alice is
// gone, so both fail and the join rules vanish (the known reset). v2.1
// replays from an empty state, reading alice's membership from the
// events' own auth events, and keeps the newer join rules.
func TestStateResV21EmptyStartKeepsJoinRules(t *testing.T) {
	for _, version := range []string{"11", "12"} {
		b := newSRBase(t, version)
		jr2 := b.joinRules("$jr2", srAlice, "invite", "$create", "$ma", "$pl0")
		leave := b.member("$aleave", srAlice, srAlice, "leave", "$create", "$ma", "$pl0")
		got := b.resolve(b.state(jr2, leave), b.state(leave))
		id, ok := got[srKeyJoinRules]
		switch version {
		case "11":
			if ok {
				t.Errorf("v2: join rules %s, want the documented reset (none)", id)
			}
		case "12":
			if id != jr2.id {
				t.Errorf("v2.1: join rules %q, want %s", id, jr2.id)
			}
		}
	}
}

// MSC4297 problem B: alice promotes bob (pl1), bob promotes charlie (pl2),
// charlie sets a topic. One state set claims the old power levels pl0 yet
// holds charlie's topic, so pl1 is in both auth chains and not in the auth
// difference. v2 replays pl0 then pl2 without pl1 and pl2 fails (reset to
// pl0); in v2.1 pl1 lies in the conflicted state subgraph and is replayed.
func TestStateResV21ConflictedSubgraph(t *testing.T) {
	for _, version := range []string{"11", "12"} {
		r := newSRRoom(t, version)
		create := r.createRoom("$create", srAlice)
		ma := r.member("$ma", srAlice, srAlice, "join", "$create")
		pl0 := r.powerLevels("$pl0", srAlice, map[string]int{srAlice: 100}, "$create", "$ma")
		jr := r.joinRules("$jr", srAlice, "public", "$create", "$ma", "$pl0")
		mb := r.member("$mb", srBob, srBob, "join", "$create", "$jr", "$pl0")
		mc := r.member("$mc", srCharlie, srCharlie, "join", "$create", "$jr", "$pl0")
		r.powerLevels("$pl1", srAlice, map[string]int{srAlice: 100, srBob: 80}, "$create", "$ma", "$pl0")
		pl2 := r.powerLevels("$pl2", srBob, map[string]int{srAlice: 100, srBob: 80, srCharlie: 70}, "$create", "$mb", "$pl1")
		tc := r.topic("$tc", srCharlie, "charlie's", "$create", "$mc", "$pl2")
		got := r.resolve(srState(create, ma, pl2, jr, mb, mc, tc), srState(create, ma, pl0, jr, mb, mc, tc))
		want := pl2.id
		if version == "11" {
			want = pl0.id // the v2 reset this room version is stuck with
		}
		if got[srKeyPowerLevels] != want {
			t.Errorf("v%s: power levels %s, want %s", version, got[srKeyPowerLevels], want)
		}
		srExpect(t, got, srState(tc))
	}
}

// Unconflicted state passes through untouched, even an event that would
// fail auth against the resolved state (step 5).
func TestStateResV2UnconflictedPassesThrough(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		b := newSRBase(t, version)
		name := b.add("$name", "m.room.name", "", srBob, map[string]any{"name": "bob's room"}, "$create", "$mb", "$pl0")
		demote := b.powerLevels("$demote", srAlice, map[string]int{srAlice: 100, srCharlie: 50}, "$create", "$ma", "$pl0")
		got := b.resolve(b.state(name, demote), b.state(name))
		srExpect(t, got, srState(name, demote))

		same := b.state(name)
		if got := b.resolve(same, srCopyState(same)); !srEqualState(got, same) {
			t.Errorf("identical sets: got %v", got)
		}
		if got := b.resolve(same); !srEqualState(got, same) {
			t.Errorf("one set: got %v", got)
		}
		if got := b.resolve(); len(got) != 0 {
			t.Errorf("no sets: got %v", got)
		}
	})
}

// In v12 a room creator outranks any power level.
func TestStateResV21CreatorSortsFirst(t *testing.T) {
	r := newSRRoom(t, "12")
	r.createRoom("$create", srAlice)
	r.member("$ma", srAlice, srAlice, "join", "$create")
	r.powerLevels("$pl0", srAlice, map[string]int{srBob: 100}, "$create", "$ma")
	r.joinRules("$jr", srAlice, "public", "$create", "$ma", "$pl0")
	r.member("$mb", srBob, srBob, "join", "$create", "$jr", "$pl0")
	jrBob := r.joinRules("$jrBob", srBob, "invite", "$create", "$mb", "$pl0").withTS(1)
	jrAlice := r.joinRules("$jrAlice", srAlice, "knock", "$create", "$ma", "$pl0").withTS(2)
	base := srState(r.events["$create"], r.events["$ma"], r.events["$pl0"], r.events["$mb"])
	sets := []map[StateKeyTuple]string{srWith(base, jrBob), srWith(base, jrAlice)}
	if order := srPowerOrderForTest(t, r, sets); !srEqualIDs(order, []string{"$jrAlice", "$jrBob"}) {
		t.Errorf("order %v", order)
	}
}

func srWith(s map[StateKeyTuple]string, evs ...*srTestEvent) map[StateKeyTuple]string {
	out := srCopyState(s)
	for _, e := range evs {
		out[e.key()] = e.id
	}
	return out
}

func srEqualState(a, b map[StateKeyTuple]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A state set naming an event the loader lacks is an error, not a guess.
func TestStateResMissingEvent(t *testing.T) {
	for _, version := range []string{"1", "2", "12"} {
		b := newSRBase(t, version)
		ghost := b.state()
		ghost[StateKeyTuple{"m.room.topic", ""}] = "$ghost"
		_, err := ResolveState(b.version, []map[StateKeyTuple]string{b.state(), ghost}, b.events, srTestAuthorize)
		if version != "1" && !errors.Is(err, ErrStateResMissingEvent) {
			t.Errorf("v%s: err = %v, want ErrStateResMissingEvent", version, err)
		}
		if version == "1" && err != nil {
			// v1 never loads an unconflicted event it does not need.
			t.Errorf("v1: err = %v", err)
		}
	}
}

func TestStateResUnknownAlgorithm(t *testing.T) {
	b := newSRBase(t, "2")
	_, err := ResolveState(mxcore.RoomVersion{ID: "x"}, []map[StateKeyTuple]string{b.state(), srState(b.create)}, b.events, srTestAuthorize)
	if !errors.Is(err, ErrStateResUnknownAlgorithm) {
		t.Errorf("err = %v", err)
	}
}

// The auth difference replays events no state set holds any more: alice
// promotes bob (pl1), bob then raises charlie (pl2). One state set still
// holds pl0. pl1 is in no state set, only in the auth difference; without
// it bob's pl2 would fail against pl0 and the room would reset to pl0.
func TestStateResV2AuthDifferenceReplaysSupersededEvents(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		b := newSRBase(t, version)
		b.powerLevels("$pl1", srAlice, map[string]int{srAlice: 100, srBob: 75, srCharlie: 50}, "$create", "$ma", "$pl0")
		pl2 := b.powerLevels("$pl2", srBob, map[string]int{srAlice: 100, srBob: 75, srCharlie: 60}, "$create", "$mb", "$pl1")
		got := b.resolve(b.state(), b.state(pl2))
		srExpect(t, got, srState(pl2))
	})
}

// The power ordering respects auth-chain ancestry even through an event
// outside the full conflicted set: alice's join rules cite her rejoin,
// which cites bob's join rules. Both state sets hold the rejoin, so in v2
// it is in neither the conflicted set nor the auth difference; bob's join
// rules must still sort first although alice outranks him, so alice's
// apply last and win.
func TestStateResV2OrderFollowsAncestryOutsideConflictedSet(t *testing.T) {
	srForVersions(t, srV2Versions, func(t *testing.T, version string) {
		b := newSRBase(t, version)
		jrB := b.joinRules("$jrB", srBob, "public", "$create", "$mb", "$pl0")
		ma2 := b.member("$ma2", srAlice, srAlice, "join", "$create", "$ma", "$jrB", "$pl0")
		jrA := b.joinRules("$jrA", srAlice, "invite", "$create", "$ma2", "$pl0")
		got := b.resolve(b.state(ma2, jrA), b.state(ma2, jrB))
		srExpect(t, got, srState(jrA))
	})
}

// The auth difference with more state sets than fit in one mask word.
func TestStateResAuthDifferenceManySets(t *testing.T) {
	b := newSRBase(t, "11")
	var sets []map[StateKeyTuple]string
	for i := range 70 {
		sets = append(sets, b.state(b.topic(fmt.Sprintf("$t%02d", i), srAlice, "t", "$create", "$ma", "$pl0")))
	}
	// $common is in every set but the 66th: it is in the auth difference.
	common := b.add("$common", "m.room.name", "", srAlice, map[string]any{"name": "n"}, "$create", "$ma", "$pl0")
	for i := range sets {
		if i != 65 {
			sets[i][common.key()] = common.id
		}
	}
	split := srSplitConflicts(sets)
	res, err := newSRResolver(b.version, split, b.events, srTestAuthorize)
	if err != nil {
		t.Fatal(err)
	}
	var shared []int32
	for _, id := range split.unconflicted {
		shared = append(shared, res.g.index[id])
	}
	perSet := make([][]int32, len(sets))
	for i, ids := range split.perSet {
		for _, id := range ids {
			perSet[i] = append(perSet[i], res.g.index[id])
		}
	}
	diff := res.g.authDifference(shared, perSet)
	for id, want := range map[string]bool{"$create": false, "$pl0": false, "$mc": false, "$t00": true, "$t69": true, "$common": true} {
		if got := diff[res.g.index[id]]; got != want {
			t.Errorf("%s in auth difference: %v, want %v", id, got, want)
		}
	}
}

// srRejectingLoader marks some events rejected.
type srRejectingLoader struct {
	srLoader
	rejected map[string]bool
}

func (l srRejectingLoader) Rejected(id string) bool { return l.rejected[id] }

// The iterative auth checks never take a rejected event from an event's
// auth_events: in the MSC4297 problem A room (v2.1 replays from an empty
// state), marking alice's join rejected leaves her join rules unauthorised.
func TestStateResRejectedAuthEventsNotUsed(t *testing.T) {
	b := newSRBase(t, "12")
	jr2 := b.joinRules("$jr2", srAlice, "invite", "$create", "$ma", "$pl0")
	leave := b.member("$aleave", srAlice, srAlice, "leave", "$create", "$ma", "$pl0")
	sets := []map[StateKeyTuple]string{b.state(jr2, leave), b.state(leave)}
	loader := srRejectingLoader{b.events, map[string]bool{"$ma": true}}
	got, err := ResolveState(b.version, sets, loader, srTestAuthorize)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := got[srKeyJoinRules]; ok {
		t.Errorf("join rules %s authorised through a rejected auth event", id)
	}
}
