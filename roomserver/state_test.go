package roomserver

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/warbler-im/warbler/storage"
)

func k(typ, sk string) StateKeyTuple { return StateKeyTuple{typ, sk} }

// A State answers like the map it stands for, through chains, flattening
// and removals, and names itself to storage as its base plus changes.
func TestStateChainsAndRefs(t *testing.T) {
	base := stateFromSnapshot(7, []storage.StateEntry{{Type: "t", StateKey: "a", EventID: "$a"}, {Type: "t", StateKey: "b", EventID: "$b"}})
	want := map[StateKeyTuple]string{k("t", "a"): "$a", k("t", "b"): "$b"}
	s := base
	for i := range 3 * maxStateHops {
		key := fmt.Sprint("k", i%40)
		s = s.With("t", key, fmt.Sprint("$", i))
		want[k("t", key)] = fmt.Sprint("$", i)
		if i%10 == 0 {
			s = s.With("t", "a", "")
			delete(want, k("t", "a"))
		}
		if !maps.Equal(s.Map(), want) {
			t.Fatalf("after %d changes the state differs", i+1)
		}
		for key, id := range want {
			if got, ok := s.Get(key.Type, key.StateKey); !ok || got != id {
				t.Fatalf("Get%v = %q, want %q", key, got, id)
			}
		}
	}
	if _, ok := s.Get("t", "a"); ok {
		t.Error("removed slot still answers")
	}
	ref := s.Ref()
	if ref.Base != 7 {
		t.Errorf("ref base %d", ref.Base)
	}
	replay := maps.Clone(base.Map())
	for _, c := range ref.Changes {
		if c.EventID == "" {
			delete(replay, k(c.Type, c.StateKey))
		} else {
			replay[k(c.Type, c.StateKey)] = c.EventID
		}
	}
	if !maps.Equal(replay, want) {
		t.Error("base plus the ref's changes is not the state")
	}
	if len(ref.Changes) > 41+maxStateHops {
		t.Errorf("%d changes for 41 slots: not deduplicated", len(ref.Changes))
	}
	if r := s.rebased(9).Ref(); r.Base != 9 || len(r.Changes) != 0 || !maps.Equal(s.rebased(9).Map(), want) {
		t.Errorf("rebased ref %+v", r)
	}
	if base.Len() != 2 || len(base.Entries()) != 2 || base.Entries()[0].StateKey != "a" {
		t.Error("the base changed")
	}
}

func TestStateFromMapDiffs(t *testing.T) {
	like := stateFromSnapshot(3, []storage.StateEntry{{Type: "t", StateKey: "a", EventID: "$a"}, {Type: "t", StateKey: "b", EventID: "$b"}}).With("t", "c", "$c")
	target := map[StateKeyTuple]string{k("t", "a"): "$a2", k("t", "c"): "$c", k("t", "d"): "$d"}
	s := stateFromMap(target, like)
	ref := s.Ref()
	got := map[StateKeyTuple]string{k("t", "a"): "$a", k("t", "b"): "$b"}
	for _, c := range ref.Changes {
		if c.EventID == "" {
			delete(got, k(c.Type, c.StateKey))
		} else {
			got[k(c.Type, c.StateKey)] = c.EventID
		}
	}
	if ref.Base != 3 || !maps.Equal(got, target) {
		t.Errorf("ref %+v gives %v", ref, got)
	}
}

// A writer waiting for a busy room gives up with its context, and the
// room's lock is released when nobody holds or waits for it.
func TestRoomLocks(t *testing.T) {
	var l roomLocks
	release, err := l.acquire(context.Background(), "!r")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx, "!r"); err == nil {
		t.Fatal("a second writer got the lock")
	}
	other, err := l.acquire(context.Background(), "!other")
	if err != nil {
		t.Fatal("rooms block each other")
	}
	other()
	release()
	release() // harmless
	if l.active() != 0 {
		t.Errorf("%d locks kept for idle rooms", l.active())
	}
}
