package push

import (
	"fmt"
	"testing"
)

// BenchmarkEvaluateMessage: one member's default rules against a plain
// group message, the commonest case (it falls through to .m.rule.message).
func BenchmarkEvaluateMessage(b *testing.B) {
	rs := Defaults(me)
	ev := (`{"type":"m.room.message","sender":"@other:example.org","room_id":"!r:example.org","content":{"msgtype":"m.text","body":"hello there, how are things?"}}`)
	room := group(50, 0)
	b.ReportAllocs()
	for b.Loop() {
		EvaluateString(&rs, ev, room)
	}
}

// BenchmarkEvaluateMessageFor49: one message against the default rules
// of 49 members, as the push listener does for a room of 50: each rule
// set asks the same properties of the one event.
func BenchmarkEvaluateMessageFor49(b *testing.B) {
	ev := (`{"type":"m.room.message","sender":"@other:example.org","room_id":"!r:example.org","content":{"msgtype":"m.text","body":"hello there, how are things?"}}`)
	sets := make([]Ruleset, 49)
	for i := range sets {
		sets[i] = Defaults(fmt.Sprintf("@member%d:example.org", i))
	}
	room := group(50, 0)
	b.ReportAllocs()
	for b.Loop() {
		event := NewEvent(ev)
		for i := range sets {
			EvaluateEvent(&sets[i], event, room)
		}
	}
}
