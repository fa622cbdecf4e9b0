package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/internal/mxhttp"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// results reads the per-PDU results of a 200 answer.
func results(t *testing.T, rec interface{ Result() *http.Response }, body string) map[string]pduResult {
	t.Helper()
	if code := rec.Result().StatusCode; code != http.StatusOK {
		t.Fatalf("status %d, body %s", code, body)
	}
	var resp txnResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.PDUs == nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return resp.PDUs
}

func TestInboundSendStoresVerifiedPDUs(t *testing.T) {
	p := newFedPair(t)
	var seen []string
	p.auth.Seen = func(origin string) { seen = append(seen, origin) }
	msgs := p.say(3)
	rec := p.send("t1", txn(wire(t, msgs...)))
	if len(seen) != 1 || seen[0] != "remote.test" {
		t.Errorf("Authenticator.Seen heard %v, want remote.test once", seen)
	}
	got := results(t, rec, rec.Body.String())
	for _, ev := range msgs {
		r, ok := got[ev.EventID()]
		if !ok || r.Error != "" {
			t.Errorf("result for %s = %+v (present %v), want {}", ev.EventID(), r, ok)
		}
		if s := p.stored(ev.EventID()); s == nil || s.Outlier || s.Rejected != "" {
			t.Errorf("%s not stored as a live accepted event: %+v", ev.EventID(), s)
		}
	}
	ext, _ := p.us.ForwardExtremities(t.Context(), p.roomID)
	if len(ext) != 1 || ext[0] != msgs[2].EventID() {
		t.Errorf("forward extremities %v, want the last message", ext)
	}
}

// TestInboundSendIsIdempotent: a repeated transaction ID gets the first
// answer, and what it carries the second time is not processed.
func TestInboundSendIsIdempotent(t *testing.T) {
	p := newFedPair(t)
	first, second := p.say(1), p.say(1)
	rec1 := p.send("same", txn(wire(t, first...)))
	body1 := rec1.Body.String()
	results(t, rec1, body1)
	rec2 := p.send("same", txn(wire(t, second...)))
	if rec2.Code != http.StatusOK || rec2.Body.String() != body1 {
		t.Errorf("repeat answered %d %s, want the first answer %s", rec2.Code, rec2.Body, body1)
	}
	if p.stored(second[0].EventID()) != nil {
		t.Error("the repeated transaction's PDU was processed")
	}
	// The same ID from another origin is another transaction: it is
	// refused here only because that origin's signature is forged.
	rec3 := p.send("same", txn(wire(t, second...)), func(s *signing) { s.origin = "other.test" })
	if rec3.Code != http.StatusUnauthorized {
		t.Errorf("unknown origin's transaction answered %d", rec3.Code)
	}
}

func TestInboundSendRefusesBadRequests(t *testing.T) {
	p := newFedPair(t)
	msg := wire(t, p.say(1)...)
	many := make([]json.RawMessage, 51)
	for i := range many {
		many[i] = msg[0]
	}
	edus := make([]map[string]any, 101)
	for i := range edus {
		edus[i] = map[string]any{"edu_type": "m.typing", "content": map[string]any{}}
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	wrongOrigin := txn(msg)
	wrongOrigin["origin"] = "elsewhere.test"
	cases := []struct {
		name    string
		body    any
		sign    func(*signing)
		status  int
		errcode string
	}{
		{"forged request signature", txn(msg), func(s *signing) { s.priv = otherKey }, http.StatusUnauthorized, mxcore.ErrUnauthorized},
		{"51 PDUs", txn(many), nil, http.StatusBadRequest, mxcore.ErrBadJSON},
		{"101 EDUs", txn(nil, edus...), nil, http.StatusBadRequest, mxcore.ErrBadJSON},
		{"no pdus", map[string]any{"origin": "remote.test", "origin_server_ts": 1}, nil, http.StatusBadRequest, mxcore.ErrBadJSON},
		{"origin not the signer", wrongOrigin, nil, http.StatusBadRequest, mxcore.ErrBadJSON},
		{"not an object", []int{1}, nil, http.StatusBadRequest, mxcore.ErrNotJSON},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sign []func(*signing)
			if tc.sign != nil {
				sign = append(sign, tc.sign)
			}
			rec := p.send("bad-"+tc.name, tc.body, sign...)
			if rec.Code != tc.status || gjson.Get(rec.Body.String(), "errcode").Str != tc.errcode {
				t.Errorf("answered %d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.errcode)
			}
		})
	}
	if p.stored(gjson.GetBytes(msg[0], "event_id").Str) != nil || storedAny(t, p, msg[0]) {
		t.Error("a refused transaction stored its PDU")
	}
}

func storedAny(t *testing.T, p *fedPair, raw json.RawMessage) bool {
	ver, _ := p.us.RoomVersion(t.Context(), p.roomID)
	id, _ := mxcore.EventIDFor(raw, ver)
	return p.stored(id) != nil
}

func TestInboundSendRequestBodyLimit(t *testing.T) {
	p := newFedPair(t)
	// Under the limit but over http.max_request_bytes' 1 MiB default:
	// accepted up to the PDU checks (each PDU here is too large).
	huge := strings.Repeat("x", 70_000)
	var pdus []json.RawMessage
	for range 20 {
		pdus = append(pdus, json.RawMessage(`{"room_id":"!nowhere:remote.test","event_id":"$big:remote.test","pad":"`+huge+`"}`))
	}
	rec := p.send("big", txn(pdus))
	if rec.Code != http.StatusOK {
		t.Errorf("a 1.4 MB transaction answered %d %.200s", rec.Code, rec.Body)
	}
	for range 100 {
		pdus = append(pdus, pdus[0])
	}
	rec = p.sendUnsigned("/_matrix/federation/v1/send/too-big", txn(pdus))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("an 8.4 MB transaction answered %d, want 413", rec.Code)
	}
}

// TestInboundSendPerPDUResults: each PDU's fate is reported under its
// ID; bad ones change nothing, good ones in the same transaction are kept.
func TestInboundSendPerPDUResults(t *testing.T) {
	p := newFedPair(t)
	msgs := p.say(4)
	raws := wire(t, msgs...)
	ver, _ := p.us.RoomVersion(t.Context(), p.roomID)

	// A forged event: signed by remote.test's name with another key.
	_, otherKey, _ := ed25519.GenerateKey(nil)
	forgedJSON := stripSignatures(t, raws[1])
	forgedJSON = []byte(strings.Replace(string(forgedJSON), `"origin_server_ts":`, `"origin_server_ts":1`, 1))
	forgedJSON, _ = mxcore.SignEvent(forgedJSON, "remote.test", p.remoteKS.KeyID, otherKey, ver)
	forgedID, _ := mxcore.EventIDFor(forgedJSON, ver)

	// A tampered event: its content changed after hashing and signing.
	// The signature covers only the redacted form, so it verifies; the
	// content hash does not, so it is stored redacted.
	tampered := []byte(strings.Replace(string(raws[2]), "message 2", "message X", 1))
	tamperedID, _ := mxcore.EventIDFor(tampered, ver)

	unknownRoom := []byte(strings.Replace(string(raws[3]), p.roomID, "!elsewhere:remote.test", 1))
	unknownID := guessEventID(unknownRoom)

	rec := p.send("mixed", txn([]json.RawMessage{raws[0], forgedJSON, tampered, unknownRoom, json.RawMessage(`{"nonsense":true}`)}))
	got := results(t, rec, rec.Body.String())

	if r := got[msgs[0].EventID()]; r.Error != "" || p.stored(msgs[0].EventID()) == nil {
		t.Errorf("good PDU: result %+v", r)
	}
	if r := got[forgedID]; !strings.Contains(r.Error, "signature") || p.stored(forgedID) != nil {
		t.Errorf("forged PDU: result %+v, stored %v", r, p.stored(forgedID) != nil)
	}
	if r := got[unknownID]; !strings.Contains(r.Error, "not in room") {
		t.Errorf("unknown room PDU: result %+v", r)
	}
	if r := got[tamperedID]; r.Error != "" {
		t.Errorf("tampered PDU: result %+v, want it accepted redacted", r)
	}
	if s := p.stored(tamperedID); s == nil || gjson.GetBytes(s.Event.Content(), "body").Exists() {
		t.Errorf("tampered PDU not stored redacted: %+v", s)
	}
	if len(got) != 4 {
		t.Errorf("%d results, want 4 (the nonsense PDU has no ID): %v", len(got), got)
	}
}

func stripSignatures(t *testing.T, raw []byte) []byte {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	delete(obj, "signatures")
	out, _ := json.Marshal(obj)
	return out
}

// TestInboundSendFetchesMissingEvents: a PDU whose prev events us.test
// has not seen gets them from the origin with /get_missing_events.
func TestInboundSendFetchesMissingEvents(t *testing.T) {
	p := newFedPair(t)
	msgs := p.say(5)
	rec := p.send("gap", txn(wire(t, msgs[4])))
	got := results(t, rec, rec.Body.String())
	if r := got[msgs[4].EventID()]; r.Error != "" {
		t.Fatalf("result %+v", r)
	}
	for _, ev := range msgs {
		if s := p.stored(ev.EventID()); s == nil || s.Outlier {
			t.Errorf("%s not stored in the timeline", ev.EventID())
		}
	}
	if p.peer.count("get_missing_events") == 0 {
		t.Error("no /get_missing_events request")
	}
}

// TestInboundSendFillsGapFromState: when /get_missing_events cannot reach
// known events (its limit is spent), the state at the gap comes from
// /state_ids and /event, and the PDU is placed on it.
func TestInboundSendFillsGapFromState(t *testing.T) {
	p := newFedPair(t)
	// bob joins and talks: a state change us.test never saw, beyond the
	// reach of a 100-event /get_missing_events.
	if _, err := p.remote.SendEvent(t.Context(), joinRequest(p.roomID, "@bob:remote.test")); err != nil {
		t.Fatal(err)
	}
	p.say(maxMissingEvents + 10)
	last := p.sayAs("@bob:remote.test", 1)[0]
	rec := p.send("deep-gap", txn(wire(t, last)))
	got := results(t, rec, rec.Body.String())
	if r := got[last.EventID()]; r.Error != "" {
		t.Fatalf("result %+v", r)
	}
	if s := p.stored(last.EventID()); s == nil || s.Outlier || s.Rejected != "" {
		t.Errorf("bob's message not accepted in the timeline: %+v", s)
	}
	if m, _, _ := p.us.Membership(t.Context(), p.roomID, "@bob:remote.test"); m != "join" {
		t.Errorf("bob's membership on us.test is %q, want join", m)
	}
	if p.peer.count("state_ids") == 0 || p.peer.count("event") == 0 {
		t.Errorf("state not fetched: %v", p.peer.counts)
	}
}

func joinRequest(roomID, user string) roomserver.EventRequest {
	return roomserver.EventRequest{RoomID: roomID, Sender: user, Type: "m.room.member", StateKey: &user, Content: []byte(`{"membership":"join"}`)}
}

// TestInboundSendEDUs: EDUs go to the handler registered for their type,
// with the origin; unknown types are ignored.
func TestInboundSendEDUs(t *testing.T) {
	p := newFedPair(t)
	var mu sync.Mutex
	var seen []string
	p.inbound.HandleEDU("m.typing", EDUHandlerFunc(func(_ context.Context, origin string, content json.RawMessage) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, origin+" "+gjson.GetBytes(content, "user_id").Str)
		return nil
	}))
	p.inbound.HandleEDU("m.receipt", EDUHandlerFunc(func(context.Context, string, json.RawMessage) error {
		return errors.New("receipts are broken today")
	}))
	rec := p.send("edus", txn(nil,
		map[string]any{"edu_type": "m.typing", "content": map[string]any{"user_id": "@alice:remote.test", "typing": true}},
		map[string]any{"edu_type": "org.example.unknown", "content": map[string]any{}},
		map[string]any{"edu_type": "m.receipt", "content": map[string]any{}},
	))
	results(t, rec, rec.Body.String())
	if len(seen) != 1 || seen[0] != "remote.test @alice:remote.test" {
		t.Errorf("typing handler saw %v", seen)
	}
}

// TestMountOwnLimits: mounted as serve mounts it, /send takes bodies over
// the generic limit while the other federation routes keep that limit and
// still answer unknown paths after authentication.
func TestMountOwnLimits(t *testing.T) {
	p := newFedPair(t)
	rt := &Routes{Keys: p.usKS, Auth: p.auth, Inbound: p.inbound}
	r := chi.NewRouter()
	rt.MountOwnLimits(r)
	r.Group(func(r chi.Router) {
		r.Use(mxhttp.LimitBody(1 << 20))
		rt.Mount(r)
	})
	p.router = r
	pad := strings.Repeat("x", 60_000)
	var pdus []json.RawMessage
	for range 30 { // 1.8 MB
		pdus = append(pdus, json.RawMessage(`{"room_id":"!nowhere:remote.test","event_id":"$big:remote.test","pad":"`+pad+`"}`))
	}
	if rec := p.send("mounted", txn(pdus)); rec.Code != http.StatusOK {
		t.Errorf("/send of 1.8 MB answered %d %.200s", rec.Code, rec.Body)
	}
	uri := "/_matrix/federation/v1/unknown"
	if rec := p.sendUnsigned(uri, txn(pdus)); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("another route with 1.8 MB answered %d, want 413", rec.Code)
	}
	auth, _ := SignRequest(http.MethodGet, uri, "remote.test", "us.test", nil, p.remoteKS.KeyID, p.remoteKS.Private)
	req := httptest.NewRequest(http.MethodGet, uri, nil)
	req.Header.Set("Authorization", auth.String())
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown route answered %d, want 404", rec.Code)
	}
}

// flakyRooms fails Persist while failing is set, as a database outage would.
type flakyRooms struct {
	InboundRooms
	failing bool
}

func (f *flakyRooms) Persist(ctx context.Context, roomID string, inputs []roomserver.InputEvent) ([]roomserver.InputResult, error) {
	if f.failing {
		return nil, errors.New("database is down")
	}
	return f.InboundRooms.Persist(ctx, roomID, inputs)
}

// TestInboundSendInternalErrorIsNotRemembered: a transaction this server
// failed to store is answered 500 and processed when the origin retries.
func TestInboundSendInternalErrorIsNotRemembered(t *testing.T) {
	p := newFedPair(t)
	flaky := &flakyRooms{InboundRooms: p.us, failing: true}
	p.inbound.cfg.Rooms = flaky
	msgs := p.say(1)
	if rec := p.send("retry-me", txn(wire(t, msgs...))); rec.Code != http.StatusInternalServerError {
		t.Fatalf("answered %d %s during the outage, want 500", rec.Code, rec.Body)
	}
	flaky.failing = false
	rec := p.send("retry-me", txn(wire(t, msgs...)))
	if r := results(t, rec, rec.Body.String())[msgs[0].EventID()]; r.Error != "" || p.stored(msgs[0].EventID()) == nil {
		t.Errorf("retry: result %+v, stored %v", r, p.stored(msgs[0].EventID()) != nil)
	}
}

// TestInboundSendRefusesKeysExpiredAtTheEvent: an event signed with a key
// whose validity ends before the event's origin_server_ts is dropped.
func TestInboundSendRefusesKeysExpiredAtTheEvent(t *testing.T) {
	p := newFedPair(t)
	ver, _ := p.us.RoomVersion(t.Context(), p.roomID)
	if !ver.EnforceKeyValidity {
		t.Fatalf("room version %s does not enforce key validity", ver.ID)
	}
	raw := wire(t, p.say(1)...)[0]
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(raw, &obj)
	delete(obj, "signatures")
	delete(obj, "hashes")
	// The key is valid for a day from now (testKeyServer).
	obj["origin_server_ts"], _ = json.Marshal(time.Now().Add(48 * time.Hour).UnixMilli())
	unsigned, _ := json.Marshal(obj)
	hashed, err := mxcore.AddContentHash(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	future, err := mxcore.SignEvent(hashed, "remote.test", p.remoteKS.KeyID, p.remoteKS.Private, ver)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := mxcore.EventIDFor(future, ver)
	rec := p.send("future", txn([]json.RawMessage{future}))
	r := results(t, rec, rec.Body.String())[id]
	if !strings.Contains(r.Error, "signature") || p.stored(id) != nil {
		t.Errorf("event after its key's validity: result %+v, stored %v", r, p.stored(id) != nil)
	}
}

// TestInboundSendHonoursServerACL: once the room's m.room.server_acl
// denies the origin, its PDUs for the room are refused and not stored.
func TestInboundSendHonoursServerACL(t *testing.T) {
	p := newFedPair(t)
	before := len(p.created.since(0))
	empty := ""
	if _, err := p.remote.SendEvent(t.Context(), roomserver.EventRequest{RoomID: p.roomID, Sender: "@alice:remote.test",
		Type: "m.room.server_acl", StateKey: &empty, Content: []byte(`{"allow":["*"],"deny":["remote.test"]}`)}); err != nil {
		t.Fatal(err)
	}
	p.ship(p.created.since(before))
	msgs := p.say(1)
	rec := p.send("acl1", txn(wire(t, msgs...)))
	got := results(t, rec, rec.Body.String())
	if r := got[msgs[0].EventID()]; r.Error == "" {
		t.Errorf("a PDU from an ACL-denied server was accepted: %+v", r)
	}
	if p.stored(msgs[0].EventID()) != nil {
		t.Error("a PDU from an ACL-denied server was stored")
	}
}
