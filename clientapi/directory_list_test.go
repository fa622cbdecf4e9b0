package clientapi

import (
	"slices"
	"testing"
)

func TestSearchMatches(t *testing.T) {
	tests := []struct {
		term   string
		fields []string
		want   bool
	}{
		{"", []string{"anything"}, true},
		{"  ", nil, true},
		{"tea", []string{"Afternoon TEA", ""}, true},
		{"TEA", []string{"", "the tea topic"}, true},
		{" tea ", []string{"", "", "#tea:example.org"}, true},
		{"coffee", []string{"Afternoon tea", "topic", "#tea:example.org"}, false},
		{"tea", nil, false},
	}
	for _, tc := range tests {
		if got := searchMatches(tc.term, tc.fields...); got != tc.want {
			t.Errorf("searchMatches(%q, %q) = %v, want %v", tc.term, tc.fields, got, tc.want)
		}
	}
}

func TestPublicRoomsFilterTypes(t *testing.T) {
	space := "m.space"
	tests := []struct {
		name  string
		types []*string
		room  string
		want  bool
	}{
		{"no list wants all", nil, "m.space", true},
		{"empty list wants none", []*string{}, "", false},
		{"null is untyped", []*string{nil}, "", true},
		{"null is not a space", []*string{nil}, "m.space", false},
		{"space", []*string{&space}, "m.space", true},
		{"space not untyped", []*string{&space}, "", false},
		{"both", []*string{nil, &space}, "m.space", true},
	}
	for _, tc := range tests {
		f := publicRoomsFilter{RoomTypes: tc.types}
		if got := f.matches(publicRoom{RoomType: tc.room}); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseDirectoryToken(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true},
		{"d0", 0, true},
		{"d42", 42, true},
		{"42", 0, false},
		{"d-1", 0, false},
		{"dx", 0, false},
		{"d99999999", 0, false},
	}
	for _, tc := range tests {
		got, err := parseDirectoryToken(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDirectoryToken(%q) = %d, %v", tc.in, got, err)
		}
	}
	if n, err := parseDirectoryToken(directoryToken(7)); n != 7 || err != nil {
		t.Errorf("round trip: %d %v", n, err)
	}
}

func TestPagePublicRooms(t *testing.T) {
	rooms := []publicRoom{{RoomID: "!c", NumJoinedMembers: 1}, {RoomID: "!b", NumJoinedMembers: 3}, {RoomID: "!a", NumJoinedMembers: 1}, {RoomID: "!d", NumJoinedMembers: 2}}
	sortPublicRooms(rooms)
	var order []string
	for _, r := range rooms {
		order = append(order, r.RoomID)
	}
	if want := []string{"!b", "!d", "!a", "!c"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	tests := []struct {
		offset, limit    int
		first, next, prv string
		n                int
	}{
		{0, 2, "!b", "d2", "", 2},
		{2, 2, "!a", "", "d0", 2},
		{1, 2, "!d", "d3", "d0", 2},
		{3, 10, "!c", "", "d0", 1},
		{9, 2, "", "", "d2", 0}, // past the end: back from the last room
	}
	for _, tc := range tests {
		p := pagePublicRooms(rooms, tc.offset, tc.limit)
		first := ""
		if len(p.Chunk) > 0 {
			first = p.Chunk[0].RoomID
		}
		if first != tc.first || p.NextBatch != tc.next || p.PrevBatch != tc.prv || len(p.Chunk) != tc.n || p.Total != 4 {
			t.Errorf("page(%d, %d) = %+v", tc.offset, tc.limit, p)
		}
	}
	if got := publicRoomsLimit(0); got != defaultPublicRoomsLimit {
		t.Errorf("default limit %d", got)
	}
	if got := publicRoomsLimit(1 << 30); got != maxPublicRoomsLimit {
		t.Errorf("capped limit %d", got)
	}
}
