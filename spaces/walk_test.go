package spaces

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
)

// fakeTree is a Source over a map: room → children; hidden rooms are not
// visible, missing ones not found.
type fakeTree struct {
	children map[string][]string
	hidden   map[string]bool
	asked    []string
}

func (f *fakeTree) Node(_ context.Context, roomID string, _ []string, _ bool) (Node, bool, error) {
	f.asked = append(f.asked, roomID)
	kids, ok := f.children[roomID]
	if !ok {
		return Node{}, false, nil
	}
	n := Node{Room: Room{Summary: Summary{PublicRoom: PublicRoom{RoomID: roomID}}}, Visible: !f.hidden[roomID]}
	for _, k := range kids {
		n.Children = append(n.Children, Child{RoomID: k, Via: []string{"x"}})
	}
	return n, true, nil
}

func ids(rooms []Room) []string {
	var out []string
	for _, r := range rooms {
		out = append(out, r.RoomID)
	}
	return out
}

func TestWalk(t *testing.T) {
	tree := map[string][]string{
		"!root":         {"!a", "!b", "!gone", "!hidden"},
		"!a":            {"!a1", "!root"}, // a cycle back to the root
		"!a1":           {"!a11"},
		"!a11":          {},
		"!b":            {"!a1"}, // reached twice, listed once
		"!hidden":       {"!under-hidden"},
		"!under-hidden": {},
	}
	tests := []struct {
		name string
		q    Query
		want []string
		more bool
	}{
		{"depth first, each room once", Query{MaxDepth: 10, Limit: 50}, []string{"!root", "!a", "!a1", "!a11", "!b"}, false},
		{"max depth 0: the root alone", Query{MaxDepth: 0, Limit: 50}, []string{"!root"}, false},
		{"max depth 1", Query{MaxDepth: 1, Limit: 50}, []string{"!root", "!a", "!b"}, false},
		{"first page", Query{MaxDepth: 10, Limit: 2}, []string{"!root", "!a"}, true},
		{"second page", Query{MaxDepth: 10, Limit: 2, Skip: 2}, []string{"!a1", "!a11"}, true},
		{"last page", Query{MaxDepth: 10, Limit: 2, Skip: 4}, []string{"!b"}, false},
		{"past the end", Query{MaxDepth: 10, Limit: 2, Skip: 6}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.q.Root = "!root"
			page, err := Walk(context.Background(), &fakeTree{children: tree, hidden: map[string]bool{"!hidden": true}}, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(page.Rooms); !slices.Equal(got, tt.want) || page.More != tt.more {
				t.Errorf("rooms %v more %v, want %v more %v", got, page.More, tt.want, tt.more)
			}
		})
	}
}

func TestWalkRootNotVisible(t *testing.T) {
	tree := &fakeTree{children: map[string][]string{"!root": {}}, hidden: map[string]bool{"!root": true}}
	for _, root := range []string{"!root", "!unknown"} {
		if _, err := Walk(context.Background(), tree, Query{Root: root, Limit: 5}); !errors.Is(err, ErrRootNotVisible) {
			t.Errorf("%s: err = %v, want ErrRootNotVisible", root, err)
		}
	}
}

func TestWalkBounded(t *testing.T) {
	// A chain far longer than the walk may go: it stops at MaxVisited.
	tree := map[string][]string{}
	for i := 0; i < 3*MaxVisited; i++ {
		tree["!r"+strconv.Itoa(i)] = []string{"!r" + strconv.Itoa(i+1)}
	}
	src := &fakeTree{children: tree}
	page, err := Walk(context.Background(), src, Query{Root: "!r0", MaxDepth: 3 * MaxVisited, Limit: 3 * MaxVisited})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.asked) != MaxVisited || len(page.Rooms) != MaxVisited {
		t.Errorf("asked about %d rooms, returned %d; want %d", len(src.asked), len(page.Rooms), MaxVisited)
	}
}

func TestPageToken(t *testing.T) {
	q := Query{Root: "!r:x", SuggestedOnly: true, MaxDepth: 3, Limit: 10}
	tok := NextToken(q)
	got, err := ApplyToken(q, tok)
	if err != nil || got.Skip != 10 {
		t.Fatalf("ApplyToken = %+v, %v", got, err)
	}
	other := func(f func(*Query)) Query { c := q; f(&c); return c }
	for name, bad := range map[string]struct {
		q     Query
		token string
	}{
		"another room":           {other(func(c *Query) { c.Root = "!s:x" }), tok},
		"suggested_only changed": {other(func(c *Query) { c.SuggestedOnly = false }), tok},
		"max_depth changed":      {other(func(c *Query) { c.MaxDepth = 4 }), tok},
		"garbage":                {q, "nonsense"},
		"bad base64":             {q, tokenPrefix + "!!"},
		"not json":               {q, tokenPrefix + "bm90IGpzb24"},
		"offset out of bounds":   {q, NextToken(Query{Root: "!r:x", SuggestedOnly: true, MaxDepth: 3, Skip: MaxVisited, Limit: 1})},
		"zero offset":            {q, NextToken(Query{Root: "!r:x", SuggestedOnly: true, MaxDepth: 3})},
	} {
		if _, err := ApplyToken(bad.q, bad.token); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: err = %v, want ErrBadToken", name, err)
		}
	}
}
