package push

import "testing"

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
