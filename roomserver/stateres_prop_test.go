package roomserver

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tidwall/gjson"
)

// srSim grows a random room on several forked branches. Every event is
// checked against its branch's state with the test authorizer before it is
// kept, so the room is one a real server could have; branches fork and
// merge (by ResolveState) along the way.
type srSim struct {
	t        testing.TB
	r        *srRoom
	rng      *rand.Rand
	users    []string
	branches []map[StateKeyTuple]string
	next     int
}

func newSRSim(t testing.TB, version string, seed uint64) *srSim {
	s := &srSim{t: t, r: newSRRoom(t, version), rng: rand.New(rand.NewPCG(seed, 7))}
	s.users = []string{srAlice, srBob, srCharlie, srEve, "@dan:d.test", "@fay:f.test"}
	r := s.r
	r.createRoom("$create", srAlice)
	r.member("$ma", srAlice, srAlice, "join", "$create")
	r.powerLevels("$pl0", srAlice, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50, srEve: 25}, "$create", "$ma")
	r.joinRules("$jr", srAlice, "public", "$create", "$ma", "$pl0")
	base := srState(r.events["$create"], r.events["$ma"], r.events["$pl0"], r.events["$jr"])
	for _, u := range s.users[1:] {
		id := "$m0" + u[1:4]
		r.member(id, u, u, "join", "$create", "$jr", "$pl0")
		base[StateKeyTuple{srTypeMember, u}] = id
	}
	s.branches = []map[StateKeyTuple]string{base, srCopyState(base)}
	return s
}

func (s *srSim) pick(list []string) string { return list[s.rng.IntN(len(list))] }

// step tries one random action on a random branch, and sometimes forks or
// merges branches.
func (s *srSim) step() {
	b := s.rng.IntN(len(s.branches))
	switch p := s.rng.Float64(); {
	case p < 0.07 && len(s.branches) < 5:
		s.branches = append(s.branches, srCopyState(s.branches[b]))
		return
	case p < 0.12 && len(s.branches) > 2:
		s.merge(b)
		return
	}
	state := s.branches[b]
	ev := s.randomEvent(state)
	lookup := func(typ, sk string) Event {
		if id, ok := state[StateKeyTuple{typ, sk}]; ok {
			return s.r.events[id]
		}
		return nil
	}
	if srTestAuthorize(ev, lookup) != nil {
		delete(s.r.events, ev.id)
		return
	}
	state[ev.key()] = ev.id
}

// merge resolves branch b with another branch and keeps the result.
func (s *srSim) merge(b int) {
	o := (b + 1 + s.rng.IntN(len(s.branches)-1)) % len(s.branches)
	merged, err := ResolveState(s.r.version, []map[StateKeyTuple]string{s.branches[b], s.branches[o]}, s.r.events, srTestAuthorize)
	if err != nil {
		s.t.Fatalf("merge: %v", err)
	}
	s.branches[b] = merged
	s.branches = append(s.branches[:o], s.branches[o+1:]...)
}

// randomEvent builds a random state event whose auth events follow the
// auth events selection rules against state.
func (s *srSim) randomEvent(state map[StateKeyTuple]string) *srTestEvent {
	s.next++
	id := fmt.Sprintf("$e%03d", s.next)
	sender, target := s.pick(s.users), s.pick(s.users)
	auth := s.authFor(state, sender)
	var ev *srTestEvent
	switch s.rng.IntN(7) {
	case 0:
		ev = s.r.topic(id, sender, id, auth...)
	case 1:
		ev = s.r.member(id, sender, sender, "join", s.memberAuth(state, auth, sender, true)...)
	case 2:
		ev = s.r.member(id, sender, sender, "leave", s.memberAuth(state, auth, sender, false)...)
	case 3:
		ev = s.r.member(id, target, sender, s.pick([]string{"leave", "ban"}), s.memberAuth(state, auth, target, false)...)
	case 4:
		ev = s.r.member(id, target, sender, "invite", s.memberAuth(state, auth, target, true)...)
	case 5:
		ev = s.r.powerLevels(id, sender, s.changedLevels(state, target), auth...)
	default:
		ev = s.r.joinRules(id, sender, s.pick([]string{"public", "invite"}), auth...)
	}
	// Coarse timestamps so that ties fall to the event ID.
	return ev.withTS(int64(s.rng.IntN(40)))
}

func (s *srSim) authFor(state map[StateKeyTuple]string, sender string) []string {
	var auth []string
	for _, k := range []StateKeyTuple{srKeyCreate, srKeyPowerLevels, {srTypeMember, sender}} {
		if id, ok := state[k]; ok {
			auth = append(auth, id)
		}
	}
	return auth
}

func (s *srSim) memberAuth(state map[StateKeyTuple]string, auth []string, target string, joinRules bool) []string {
	out := append([]string(nil), auth...)
	if id, ok := state[StateKeyTuple{srTypeMember, target}]; ok && !srContains(out, id) {
		out = append(out, id)
	}
	if id, ok := state[srKeyJoinRules]; ok && joinRules {
		out = append(out, id)
	}
	return out
}

func srContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// changedLevels copies the branch's user levels and sets target's to a
// random level.
func (s *srSim) changedLevels(state map[StateKeyTuple]string, target string) map[string]int {
	levels := map[string]int{}
	if id, ok := state[srKeyPowerLevels]; ok {
		gjson.GetBytes(s.r.events[id].content, "users").ForEach(func(k, v gjson.Result) bool {
			levels[k.String()] = int(v.Int())
			return true
		})
	}
	levels[target] = []int{0, 10, 25, 50, 75, 100}[s.rng.IntN(6)]
	return levels
}

// srShuffled returns the same state sets in a random order, each rebuilt
// by inserting its entries in a random order, and a fresh loader map.
func srShuffled(rng *rand.Rand, sets []map[StateKeyTuple]string, events srLoader) ([]map[StateKeyTuple]string, srLoader) {
	out := make([]map[StateKeyTuple]string, len(sets))
	for i, j := range rng.Perm(len(sets)) {
		type kv struct {
			k StateKeyTuple
			v string
		}
		var entries []kv
		for k, v := range sets[j] {
			entries = append(entries, kv{k, v})
		}
		rng.Shuffle(len(entries), func(a, b int) { entries[a], entries[b] = entries[b], entries[a] })
		out[i] = make(map[StateKeyTuple]string)
		for _, e := range entries {
			out[i][e.k] = e.v
		}
	}
	loader := make(srLoader, len(events))
	for id, ev := range events {
		loader[id] = ev
	}
	return out, loader
}

// The result must not depend on the order of the state sets, on the order
// their maps were built in, or on the loader's iteration order; and adding
// a duplicate of a state set must change nothing.
func TestStateResPropertyOrderIndependent(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 30
	}
	for _, version := range []string{"1", "2", "11", "12"} {
		t.Run("v"+version, func(t *testing.T) {
			for seed := range uint64(seeds) {
				srCheckOrderIndependence(t, version, seed)
			}
		})
	}
}

func srCheckOrderIndependence(t testing.TB, version string, seed uint64) {
	sim := newSRSim(t, version, seed)
	for range 80 {
		sim.step()
	}
	sets := sim.branches
	want, err := ResolveState(sim.r.version, sets, sim.r.events, srTestAuthorize)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	for trial := range 8 {
		shuffled, loader := srShuffled(rng, sets, sim.r.events)
		if trial%2 == 1 {
			shuffled = append(shuffled, srCopyState(shuffled[rng.IntN(len(shuffled))]))
		}
		got, err := ResolveState(sim.r.version, shuffled, loader, srTestAuthorize)
		if err != nil {
			t.Fatalf("seed %d trial %d: %v", seed, trial, err)
		}
		if !srEqualState(got, want) {
			t.Fatalf("seed %d trial %d: result differs:\n got %v\nwant %v", seed, trial, got, want)
		}
	}
}

// The simulator must produce real conflicts, or the property is vacuous.
func TestStateResPropertySimulatorConflicts(t *testing.T) {
	conflicted := 0
	for seed := range uint64(50) {
		sim := newSRSim(t, "12", seed)
		for range 80 {
			sim.step()
		}
		conflicted += len(srSplitConflicts(sim.branches).conflicted)
	}
	if conflicted < 200 {
		t.Errorf("only %d conflicted events over 50 rooms", conflicted)
	}
}

// FuzzStateResOrderIndependent explores more random rooms with the same
// property: go test -fuzz FuzzStateResOrderIndependent ./roomserver
func FuzzStateResOrderIndependent(f *testing.F) {
	for seed := range uint64(4) {
		f.Add(seed, uint8(seed))
	}
	versions := []string{"1", "2", "11", "12"}
	f.Fuzz(func(t *testing.T, seed uint64, v uint8) {
		srCheckOrderIndependence(t, versions[int(v)%len(versions)], seed)
	})
}
