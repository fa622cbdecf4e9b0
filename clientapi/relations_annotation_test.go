package clientapi

import (
	"net/url"
	"testing"
)

func TestDuplicateAnnotation(t *testing.T) {
	e := newRelEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	msg := e.message(room, e.alice, "hello")
	other := e.message(room, e.alice, "other")
	send := func(token, txn, typ string, parent, key string) testResponse {
		return e.do("PUT", v3+"/rooms/"+url.PathEscape(room)+"/send/"+typ+"/"+txn, map[string]any{
			"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": parent, "key": key},
		}, token)
	}
	first := send(e.bobToken, "a1", "m.reaction", msg, "👍").want(t, 200, "")
	// A retry of the same transaction gets its event back.
	if again := send(e.bobToken, "a1", "m.reaction", msg, "👍").want(t, 200, ""); again.str("event_id") != first.str("event_id") {
		t.Errorf("retry answered %v", again.body)
	}
	send(e.bobToken, "a2", "m.reaction", msg, "👍").want(t, 400, "M_DUPLICATE_ANNOTATION")
	// Another key, sender, event type or parent is no duplicate.
	send(e.bobToken, "a3", "m.reaction", msg, "🎉").want(t, 200, "")
	send(e.aliceToken, "a4", "m.reaction", msg, "👍").want(t, 200, "")
	send(e.bobToken, "a5", "org.example.vote", msg, "👍").want(t, 200, "")
	send(e.bobToken, "a6", "m.reaction", other, "👍").want(t, 200, "")
	// Once the first is redacted, the reaction may be sent again.
	e.redactEvent(room, e.bob, first.str("event_id"))
	send(e.bobToken, "a7", "m.reaction", msg, "👍").want(t, 200, "")
}
