package spaces

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func child(stateKey, content string, ts int64) StrippedChild {
	return StrippedChild{Type: SpaceChildType, StateKey: stateKey, Content: json.RawMessage(content), Sender: "@a:x", OriginServerTS: ts}
}

func TestParseChild(t *testing.T) {
	tests := []struct {
		name      string
		ev        StrippedChild
		ok        bool
		via       []string
		order     string
		suggested bool
	}{
		{"valid", child("!a:x", `{"via":["x"]}`, 1), true, []string{"x"}, "", false},
		{"suggested and ordered", child("!a:x", `{"via":["x","y"],"order":"01","suggested":true}`, 1), true, []string{"x", "y"}, "01", true},
		{"no via: removed child", child("!a:x", `{}`, 1), false, nil, "", false},
		{"empty via", child("!a:x", `{"via":[]}`, 1), false, nil, "", false},
		{"via not strings", child("!a:x", `{"via":[1,null]}`, 1), false, nil, "", false},
		{"bad server names dropped", child("!a:x", `{"via":["bad name","x"]}`, 1), true, []string{"x"}, "", false},
		{"state key not a room", child("@u:x", `{"via":["x"]}`, 1), false, nil, "", false},
		{"wrong type", StrippedChild{Type: "m.space.parent", StateKey: "!a:x", Content: json.RawMessage(`{"via":["x"]}`)}, false, nil, "", false},
		{"order too long is ignored", child("!a:x", `{"via":["x"],"order":"`+strings.Repeat("a", 51)+`"}`, 1), true, []string{"x"}, "", false},
		{"order of 50 is kept", child("!a:x", `{"via":["x"],"order":"`+strings.Repeat("a", 50)+`"}`, 1), true, []string{"x"}, strings.Repeat("a", 50), false},
		{"order with a control character is ignored", child("!a:x", `{"via":["x"],"order":"a\n"}`, 1), true, []string{"x"}, "", false},
		{"order not ASCII is ignored", child("!a:x", `{"via":["x"],"order":"é"}`, 1), true, []string{"x"}, "", false},
		{"order not a string is ignored", child("!a:x", `{"via":["x"],"order":5}`, 1), true, []string{"x"}, "", false},
		{"suggested not a bool", child("!a:x", `{"via":["x"],"suggested":"yes"}`, 1), true, []string{"x"}, "", false},
		{"content not an object", child("!a:x", `[]`, 1), false, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ParseChild(tt.ev)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if !slices.Equal(c.Via, tt.via) || c.Order != tt.order || c.Suggested != tt.suggested {
				t.Errorf("got via %v order %q suggested %v", c.Via, c.Order, c.Suggested)
			}
		})
	}
}

func TestParseChildBoundsVia(t *testing.T) {
	var via []string
	for i := 0; i < 30; i++ {
		via = append(via, `"s`+strings.Repeat("x", i)+`"`)
	}
	c, ok := ParseChild(child("!a:x", `{"via":[`+strings.Join(via, ",")+`]}`, 1))
	if !ok || len(c.Via) != maxVia {
		t.Fatalf("ok %v, %d via servers, want %d", ok, len(c.Via), maxVia)
	}
}

func TestSelectChildrenOrder(t *testing.T) {
	events := []StrippedChild{
		child("!e:x", `{"via":["x"]}`, 5),
		child("!d:x", `{"via":["x"]}`, 3),
		child("!c:x", `{"via":["x"]}`, 3),
		child("!b:x", `{"via":["x"],"order":"b"}`, 9),
		child("!a:x", `{"via":["x"],"order":"a"}`, 10),
		child("!z:x", `{"via":["x"],"order":"a"}`, 1),
		child("!gone:x", `{}`, 0),
		child("!s:x", `{"via":["x"],"suggested":true}`, 100),
	}
	var got []string
	for _, c := range SelectChildren(events, false) {
		got = append(got, c.RoomID)
	}
	// ordered first by order ("a" twice: by timestamp), then by timestamp,
	// then (same timestamp) by room ID.
	want := []string{"!z:x", "!a:x", "!b:x", "!c:x", "!d:x", "!e:x", "!s:x"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	suggested := SelectChildren(events, true)
	if len(suggested) != 1 || suggested[0].RoomID != "!s:x" {
		t.Errorf("suggested only = %v", suggested)
	}
}

func TestSelectChildrenBounded(t *testing.T) {
	var events []StrippedChild
	for i := 0; i < 3*MaxChildren; i++ {
		events = append(events, child("!r"+strings.Repeat("a", i)+":x", `{"via":["x"]}`, int64(i)))
	}
	if got := SelectChildren(events, false); len(got) != MaxChildren || got[0].TS != 0 {
		t.Errorf("%d children (first ts %d), want the %d earliest", len(got), got[0].TS, MaxChildren)
	}
}
