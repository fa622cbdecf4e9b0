package sqlstore

import (
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// Tests of the pure state functions: the encodings round-trip, blocks are
// content-defined (an edit rewrites only the blocks around it), and merge
// and diff agree with a plain map.

func randomState(rng *rand.Rand, n int) []entry {
	slots := map[stateKey]int64{}
	for len(slots) < n {
		slots[stateKey{typ: 1 + rng.Int64N(6), key: 1 + rng.Int64N(int64(n)*4)}] = 1 + rng.Int64N(1<<40)
	}
	return fromMap(slots)
}

func fromMap(slots map[stateKey]int64) []entry {
	out := make([]entry, 0, len(slots))
	for k, ev := range slots {
		out = append(out, entry{k, ev})
	}
	slices.SortFunc(out, compareEntries)
	return out
}

func toMap(es []entry) map[stateKey]int64 {
	m := make(map[stateKey]int64, len(es))
	for _, e := range es {
		m[e.stateKey] = e.event
	}
	return m
}

func TestEntriesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{0, 1, 2, 31, 1000} {
		es := randomState(rng, n)
		got, err := decodeEntries(encodeEntries(es), len(es))
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(es) == 0 {
			es = []entry{}
		}
		if !reflect.DeepEqual(got, es) {
			t.Fatalf("n=%d: round trip changed the entries", n)
		}
	}
	// Removals (event 0) survive too.
	delta := []entry{{stateKey{1, 5}, 0}, {stateKey{1, 9}, 7}, {stateKey{3, 1}, 0}}
	if got, _ := decodeEntries(encodeEntries(delta), 3); !reflect.DeepEqual(got, delta) {
		t.Errorf("delta round trip: got %v, want %v", got, delta)
	}
}

func TestNIDsRoundTrip(t *testing.T) {
	nids := []int64{5, 6, 7, 1, 1 << 40, 3}
	got, err := decodeNIDs(encodeNIDs(nids), len(nids))
	if err != nil || !reflect.DeepEqual(got, nids) {
		t.Errorf("got %v (err %v), want %v", got, err, nids)
	}
}

func TestDecodeRejectsCorruptInput(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated varint": {0x80},
		"missing fields":   {0x01, 0x02},
		// (type 1, key 5, event 9), then type and key deltas of 0: the
		// same slot twice.
		"repeated slot": {1, 5, 9, 0, 0, 9},
	} {
		if _, err := decodeEntries(b, 0); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecodeEntries(f *testing.F) {
	f.Add(encodeEntries([]entry{{stateKey{1, 2}, 3}, {stateKey{1, 4}, 5}, {stateKey{2, 1}, 0}}))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := decodeEntries(b, 0)
		if err != nil {
			return
		}
		if !slices.IsSortedFunc(es, compareEntries) {
			t.Fatal("decoded entries out of order")
		}
		back, err := decodeEntries(encodeEntries(es), len(es))
		if err != nil || !reflect.DeepEqual(back, es) {
			t.Fatalf("re-encoding does not round-trip: %v", err)
		}
	})
}

func TestChunkEntriesCoversStateInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	es := randomState(rng, 5000)
	blocks := chunkEntries(es)
	if got := slices.Concat(blocks...); !reflect.DeepEqual(got, es) {
		t.Fatal("blocks do not concatenate to the state")
	}
	for i, b := range blocks {
		if len(b) > maxBlockEntries || len(b) < minBlockEntries && i != len(blocks)-1 {
			t.Errorf("block %d has %d entries", i, len(b))
		}
	}
	mean := float64(len(es)) / float64(len(blocks))
	if mean < 24 || mean > 40 {
		t.Errorf("blocks average %.1f entries, want about %d", mean, blockCutModulus+minBlockEntries)
	}
}

// TestChunkEntriesIsLocal is the property that makes keyframes share
// blocks: after one edit, all but a few blocks are found unchanged.
func TestChunkEntriesIsLocal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	es := randomState(rng, 5000)
	before := blockSet(chunkEntries(es))
	for i := range 300 {
		slots := toMap(es)
		var k stateKey
		switch i % 3 {
		case 0: // replace an event
			k = es[rng.IntN(len(es))].stateKey
			slots[k] = 1 << 50
		case 1: // remove a slot
			k = es[rng.IntN(len(es))].stateKey
			delete(slots, k)
		case 2: // add a slot
			k = stateKey{typ: 1 + rng.Int64N(6), key: 1<<30 + rng.Int64N(1<<20)}
			slots[k] = 1
		}
		after := chunkEntries(fromMap(slots))
		changed := 0
		for _, b := range after {
			if !before[string(encodeEntries(b))] {
				changed++
			}
		}
		limit := 1
		if i%3 != 0 {
			limit = 3 // an added or removed key may merge or split its block
		}
		if changed > limit {
			t.Fatalf("edit %d (kind %d) changed %d blocks, want at most %d", i, i%3, changed, limit)
		}
	}
}

func blockSet(blocks [][]entry) map[string]bool {
	set := map[string]bool{}
	for _, b := range blocks {
		set[string(encodeEntries(b))] = true
	}
	return set
}

func TestMergeAndDiffAgreeWithMaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for range 200 {
		base := randomState(rng, 1+rng.IntN(200))
		want := toMap(base)
		var delta []entry
		for range rng.IntN(40) {
			var k stateKey
			if rng.IntN(2) == 0 {
				k = base[rng.IntN(len(base))].stateKey
			} else {
				k = stateKey{typ: 1 + rng.Int64N(6), key: 1 + rng.Int64N(1000)}
			}
			ev := rng.Int64N(3) // 0 removes
			if slices.ContainsFunc(delta, func(e entry) bool { return e.stateKey == k }) {
				continue
			}
			delta = append(delta, entry{k, ev})
			if ev == 0 {
				delete(want, k)
			} else {
				want[k] = ev
			}
		}
		slices.SortFunc(delta, compareEntries)
		merged := mergeDelta(base, delta)
		if !maps.Equal(toMap(merged), want) || !slices.IsSortedFunc(merged, compareEntries) {
			t.Fatal("mergeDelta disagrees with the map")
		}
		// Applying the diff of base → merged to base gives merged.
		got := toMap(base)
		for _, c := range diffStates(base, merged) {
			if got[c.stateKey] != c.old {
				t.Fatalf("diff reports old %d for %v, base has %d", c.old, c.stateKey, got[c.stateKey])
			}
			if c.new == 0 {
				delete(got, c.stateKey)
			} else {
				got[c.stateKey] = c.new
			}
		}
		if !maps.Equal(got, want) {
			t.Fatal("diffStates does not lead from the old state to the new one")
		}
	}
}
