package roomserver

import "testing"

// Power levels conflict in v1: sorted by ascending depth, the first is
// taken and each later one applies while it passes auth in R.
func TestStateResV1PowerLevels(t *testing.T) {
	b := newSRBase(t, "1")
	// Both pass: the deeper one is applied last.
	plA := b.powerLevels("$plA", srAlice, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50, srEve: 5}, "$create", "$ma", "$pl0").withDepth(5)
	plB := b.powerLevels("$plB", srBob, map[string]int{srAlice: 100, srBob: 50, srCharlie: 50, srEve: 10}, "$create", "$mb", "$pl0").withDepth(6)
	got := b.resolve(b.state(plA), b.state(plB))
	srExpect(t, got, srState(plB))

	// The shallower one demotes bob: bob's deeper change no longer passes.
	demote := b.powerLevels("$demote", srAlice, map[string]int{srAlice: 100}, "$create", "$ma", "$pl0").withDepth(5)
	got = b.resolve(b.state(demote), b.state(plB))
	srExpect(t, got, srState(demote))
}

// Other conflicts in v1: the deepest event that passes auth in R wins.
func TestStateResV1Topic(t *testing.T) {
	b := newSRBase(t, "1")
	t1 := b.topic("$t1", srAlice, "one", "$create", "$ma", "$pl0").withDepth(7)
	t2 := b.topic("$t2", srBob, "two", "$create", "$mb", "$pl0").withDepth(9)
	srExpect(t, b.resolve(b.state(t1), b.state(t2)), srState(t2))

	// Eve never joined: her deeper topic fails auth, the next one wins.
	tEve := b.topic("$tEve", srEve, "eve", "$create", "$pl0").withDepth(12)
	srExpect(t, b.resolve(b.state(t1), b.state(tEve)), srState(t1))
}

// In v1 a key missing from one state is not a conflict: it is kept.
func TestStateResV1MissingKeyIsNotAConflict(t *testing.T) {
	b := newSRBase(t, "1")
	t1 := b.topic("$t1", srAlice, "one", "$create", "$ma", "$pl0")
	got := b.resolve(b.state(t1), b.state())
	if !srEqualState(got, b.state(t1)) {
		t.Errorf("got %v", got)
	}
}

// A ban racing a join in v1: whichever is shallower is taken first; the
// join cannot follow a ban, and the ban can follow the join.
func TestStateResV1BanRacesJoin(t *testing.T) {
	for _, banDeeper := range []bool{true, false} {
		b := newSRBase(t, "1")
		ban := b.member("$ban", srEve, srAlice, "ban", "$create", "$ma", "$pl0").withDepth(5)
		join := b.member("$ejoin", srEve, srEve, "join", "$create", "$jr", "$pl0").withDepth(6)
		if banDeeper {
			ban.withDepth(7)
		}
		srExpect(t, b.resolve(b.state(ban), b.state(join)), srState(ban))
	}
}
