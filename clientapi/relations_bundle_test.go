package clientapi

import (
	"encoding/json"
	"testing"
)

// The pure rules of the m.replace bundle: which originals may be
// replaced, and which edits are valid for them. (Which valid edit is the
// latest is storage's, tested in TestReplaceAggregationRules.)
func TestReplacementRules(t *testing.T) {
	key := ""
	original := ClientEvent{EventID: "$o", Sender: "@a:x", Type: "m.room.message", Content: json.RawMessage(`{"body":"hi"}`), Unsigned: &UnsignedData{}}
	edit := ClientEvent{EventID: "$e", Sender: "@a:x", Type: "m.room.message",
		Content: json.RawMessage(`{"body":"* hey","m.new_content":{"body":"hey"},"m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`)}
	tests := []struct {
		name     string
		original func(*ClientEvent)
		edit     func(*ClientEvent)
		want     bool
	}{
		{"valid edit", nil, nil, true},
		{"another sender", nil, func(e *ClientEvent) { e.Sender = "@b:x" }, false},
		{"another type", nil, func(e *ClientEvent) { e.Type = "m.sticker" }, false},
		{"edit is a state event", nil, func(e *ClientEvent) { e.StateKey = &key }, false},
		{"original is a state event", func(o *ClientEvent) { o.StateKey = &key }, nil, false},
		{"no m.new_content", nil, func(e *ClientEvent) {
			e.Content = json.RawMessage(`{"body":"x","m.relates_to":{"rel_type":"m.replace","event_id":"$o"}}`)
		}, false},
		{"m.new_content not an object", nil, func(e *ClientEvent) { e.Content = json.RawMessage(`{"m.new_content":"x"}`) }, false},
		{"encrypted edit: new content is inside the ciphertext", func(o *ClientEvent) { o.Type = "m.room.encrypted" },
			func(e *ClientEvent) { e.Type, e.Content = "m.room.encrypted", json.RawMessage(`{"ciphertext":"..."}`) }, true},
		{"original is itself an edit", func(o *ClientEvent) {
			o.Content = json.RawMessage(`{"m.relates_to":{"rel_type":"m.replace","event_id":"$z"}}`)
		}, nil, false},
		{"original is redacted", func(o *ClientEvent) { o.Unsigned = &UnsignedData{RedactedBecause: &ClientEvent{EventID: "$r"}} }, nil, false},
		{"original is in a thread: may still be edited", func(o *ClientEvent) {
			o.Content = json.RawMessage(`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`)
		}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, e := original, edit
			if tc.original != nil {
				tc.original(&o)
			}
			if tc.edit != nil {
				tc.edit(&e)
			}
			got := mayBeReplaced(&o) && validReplacement(&o, &e)
			if got != tc.want {
				t.Errorf("replaceable %v, want %v", got, tc.want)
			}
		})
	}
}
