package clientapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

// keysEnv is a sync environment where alice and bob know their devices.
type keysEnv struct {
	*syncEnv
	aliceDevice, bobDevice string
}

func newKeysEnv(t *testing.T) *keysEnv {
	e := newSyncEnv(t)
	ke := &keysEnv{syncEnv: e}
	ke.aliceDevice = e.do("GET", "/_matrix/client/v3/account/whoami", nil, e.aliceToken).str("device_id")
	ke.bobDevice = e.do("GET", "/_matrix/client/v3/account/whoami", nil, e.bobToken).str("device_id")
	return ke
}

// doRaw sends a raw body.
func (e *testEnv) doRaw(method, path, body, token string) testResponse {
	e.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader([]byte(body)))
	req.RemoteAddr = "192.0.2.7:40000"
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.router.ServeHTTP(rec, req)
	out := testResponse{status: rec.Code, header: rec.Header()}
	if err := json.Unmarshal(rec.Body.Bytes(), &out.body); err != nil {
		e.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, rec.Body)
	}
	return out
}

const v3 = "/_matrix/client/v3"

// signed adds user's signature with keyID to obj, as clients sign keys:
// canonical JSON without signatures and unsigned.
func signed(t *testing.T, obj map[string]any, user, keyID string, priv ed25519.PrivateKey) map[string]any {
	t.Helper()
	bare := map[string]any{}
	for k, v := range obj {
		if k != "signatures" && k != "unsigned" {
			bare[k] = v
		}
	}
	canon, err := mxcore.CanonicalJSON(mustJSON(t, bare))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := obj["signatures"].(map[string]any)
	if sigs == nil {
		sigs = map[string]any{}
	}
	byUser, _ := sigs[user].(map[string]any)
	if byUser == nil {
		byUser = map[string]any{}
	}
	byUser[keyID] = mxcore.EncodeBase64(ed25519.Sign(priv, canon))
	sigs[user] = byUser
	out := map[string]any{}
	for k, v := range obj {
		out[k] = v
	}
	out["signatures"] = sigs
	return out
}

// deviceKeys builds signed device keys for a device.
func deviceKeys(t *testing.T, user, device string) (map[string]any, ed25519.PrivateKey) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	obj := map[string]any{
		"user_id": user, "device_id": device,
		"algorithms": []string{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"},
		"keys":       map[string]any{"curve25519:" + device: "curve" + device, "ed25519:" + device: mxcore.EncodeBase64(pub)},
	}
	return signed(t, obj, user, "ed25519:"+device, priv), priv
}

func otk(n int) map[string]any {
	return map[string]any{"key": fmt.Sprintf("otk%d", n), "signatures": map[string]any{"@x:y": map[string]any{"ed25519:D": "sig"}}}
}

func TestKeysUploadQueryClaim(t *testing.T) {
	e := newKeysEnv(t)
	dk, _ := deviceKeys(t, e.alice, e.aliceDevice)
	up := e.do("POST", v3+"/keys/upload", map[string]any{
		"device_keys":   dk,
		"one_time_keys": map[string]any{"signed_curve25519:AAAB": otk(2), "signed_curve25519:AAAA": otk(1)},
		"fallback_keys": map[string]any{"signed_curve25519:FFFF": map[string]any{"key": "fb", "fallback": true, "signatures": map[string]any{e.alice: map[string]any{"ed25519:" + e.aliceDevice: "s"}}}},
	}, e.aliceToken).want(t, http.StatusOK, "")
	if counts, _ := up.body["one_time_key_counts"].(map[string]any); counts["signed_curve25519"] != float64(2) {
		t.Fatalf("counts %v", up.body)
	}

	q := e.do("POST", v3+"/keys/query", map[string]any{"device_keys": map[string]any{e.alice: []string{}, "@nobody:" + testServer: []string{}, "@eve:elsewhere.example": []string{}}}, e.bobToken).want(t, http.StatusOK, "")
	got := q.body["device_keys"].(map[string]any)[e.alice].(map[string]any)[e.aliceDevice].(map[string]any)
	if got["device_id"] != e.aliceDevice || got["unsigned"].(map[string]any)["device_display_name"] == nil {
		t.Errorf("queried keys %v", got)
	}
	if _, ok := q.body["device_keys"].(map[string]any)["@nobody:"+testServer]; ok {
		t.Error("an unknown user has keys")
	}
	if _, ok := q.body["failures"].(map[string]any)["elsewhere.example"]; !ok {
		t.Errorf("a remote server with no federation is not in failures: %v", q.body["failures"])
	}

	var claimed []string
	for range 3 {
		c := e.do("POST", v3+"/keys/claim", map[string]any{"one_time_keys": map[string]any{e.alice: map[string]any{e.aliceDevice: "signed_curve25519"}}}, e.bobToken).want(t, http.StatusOK, "")
		keys := c.body["one_time_keys"].(map[string]any)[e.alice].(map[string]any)[e.aliceDevice].(map[string]any)
		for id := range keys {
			claimed = append(claimed, id)
		}
	}
	if want := []string{"signed_curve25519:AAAA", "signed_curve25519:AAAB", "signed_curve25519:FFFF"}; !slices.Equal(claimed, want) {
		t.Errorf("claimed %v, want %v", claimed, want)
	}
	s := e.sync(e.aliceToken, nil)
	if types, _ := s.body["device_unused_fallback_key_types"].([]any); len(types) != 0 {
		t.Errorf("fallback key still unused after its claim: %v", types)
	}
	if counts := s.body["device_one_time_keys_count"].(map[string]any); counts["signed_curve25519"] != float64(0) {
		t.Errorf("sync counts %v", counts)
	}
}

func TestKeysUploadErrors(t *testing.T) {
	e := newKeysEnv(t)
	good, _ := deviceKeys(t, e.alice, e.aliceDevice)
	wrongUser, _ := deviceKeys(t, e.bob, e.aliceDevice)
	wrongDevice, _ := deviceKeys(t, e.alice, "OTHER")
	unsigned := map[string]any{}
	for k, v := range good {
		if k != "signatures" {
			unsigned[k] = v
		}
	}
	cases := []struct {
		name    string
		body    any
		status  int
		errcode string
	}{
		{"wrong user in device_keys", map[string]any{"device_keys": wrongUser}, 400, "M_INVALID_PARAM"},
		{"wrong device in device_keys", map[string]any{"device_keys": wrongDevice}, 400, "M_INVALID_PARAM"},
		{"unsigned device keys", map[string]any{"device_keys": unsigned}, 400, "M_BAD_JSON"},
		{"device_keys not an object", map[string]any{"device_keys": "x"}, 400, "M_BAD_JSON"},
		{"key ID without algorithm", map[string]any{"one_time_keys": map[string]any{"AAAA": "k"}}, 400, "M_BAD_JSON"},
		{"key neither string nor signed", map[string]any{"one_time_keys": map[string]any{"curve25519:A": 5}}, 400, "M_BAD_JSON"},
		{"two fallback keys of one algorithm", map[string]any{"fallback_keys": map[string]any{"signed_curve25519:A": otk(1), "signed_curve25519:B": otk(2)}}, 400, "M_INVALID_PARAM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.do("POST", v3+"/keys/upload", tc.body, e.aliceToken).want(t, tc.status, tc.errcode)
		})
	}
	e.doRaw("POST", v3+"/keys/upload", `{"device_keys":`, e.aliceToken).want(t, 400, "M_NOT_JSON")
	e.doRaw("POST", v3+"/keys/query", `{}`, e.aliceToken).want(t, 400, "M_MISSING_PARAM")
	e.doRaw("POST", v3+"/keys/claim", `{"one_time_keys":5}`, e.aliceToken).want(t, 400, "M_BAD_JSON")
	// The failed uploads stored nothing.
	q := e.do("POST", v3+"/keys/query", map[string]any{"device_keys": map[string]any{e.alice: []string{}}}, e.aliceToken)
	if len(q.body["device_keys"].(map[string]any)) != 0 {
		t.Errorf("a rejected upload stored keys: %v", q.body)
	}
	e.do("POST", v3+"/keys/upload", map[string]any{"one_time_keys": map[string]any{"curve25519:A": "one"}}, e.aliceToken).want(t, 200, "")
	e.do("POST", v3+"/keys/upload", map[string]any{"one_time_keys": map[string]any{"curve25519:A": "two"}}, e.aliceToken).want(t, 400, "M_INVALID_PARAM")
}

// toDeviceEvents returns the to_device events of a sync response.
func toDeviceEvents(r testResponse) []map[string]any {
	td, _ := r.body["to_device"].(map[string]any)
	evs, _ := td["events"].([]any)
	out := make([]map[string]any, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.(map[string]any))
	}
	return out
}

func TestSendToDeviceDeliveredOnceAndDeletedAfterAck(t *testing.T) {
	e := newKeysEnv(t)
	first := e.sync(e.bobToken, nil)
	send := func(txn string, devices map[string]any) {
		e.do("PUT", v3+"/sendToDevice/m.test/"+txn, map[string]any{"messages": map[string]any{e.bob: devices}}, e.aliceToken).want(t, 200, "")
	}
	send("t1", map[string]any{e.bobDevice: map[string]any{"n": 1}})
	send("t1", map[string]any{e.bobDevice: map[string]any{"n": "repeat"}}) // same txn: nothing new
	send("t2", map[string]any{"*": map[string]any{"n": 2}})

	next := first.str("next_batch")
	r1 := e.sync(e.bobToken, url.Values{"since": {next}})
	evs := toDeviceEvents(r1)
	if len(evs) != 2 || evs[0]["sender"] != e.alice || evs[0]["type"] != "m.test" || evs[0]["content"].(map[string]any)["n"] != float64(1) {
		t.Fatalf("to_device %v", evs)
	}
	// The same token again: not acknowledged, so the messages come again.
	if again := toDeviceEvents(e.sync(e.bobToken, url.Values{"since": {next}})); len(again) != 2 {
		t.Errorf("retried sync got %d messages, want 2", len(again))
	}
	r2 := e.sync(e.bobToken, url.Values{"since": {r1.str("next_batch")}})
	if evs := toDeviceEvents(r2); len(evs) != 0 {
		t.Errorf("acknowledged messages delivered again: %v", evs)
	}
	if left, _ := e.db.ToDeviceMessages(t.Context(), e.bob, e.bobDevice, 0, 1<<40, 10); len(left) != 0 {
		t.Errorf("acknowledged messages not deleted: %d left", len(left))
	}
	// A message after the acknowledgement comes with a retry of the same
	// token and goes only with the next one.
	send("t5", map[string]any{e.bobDevice: map[string]any{"n": 5}})
	r3 := e.sync(e.bobToken, url.Values{"since": {r1.str("next_batch")}})
	if evs := toDeviceEvents(r3); len(evs) != 1 {
		t.Fatalf("after the acknowledgement: %v, want the new message", evs)
	}
	e.sync(e.bobToken, url.Values{"since": {r3.str("next_batch")}})
	if left, _ := e.db.ToDeviceMessages(t.Context(), e.bob, e.bobDevice, 0, 1<<40, 10); len(left) != 0 {
		t.Errorf("the new message was not deleted after its acknowledgement: %d left", len(left))
	}
	e.doRaw("PUT", v3+"/sendToDevice/m.test/t3", `{"messages":{"`+e.bob+`":{"`+e.bobDevice+`":"not an object"}}}`, e.aliceToken).want(t, 400, "M_BAD_JSON")
	e.doRaw("PUT", v3+"/sendToDevice/m.test/t4", `{}`, e.aliceToken).want(t, 400, "M_MISSING_PARAM")
}

func TestToDeviceIsBoundedPerSync(t *testing.T) {
	e := newKeysEnv(t)
	since := e.sync(e.bobToken, nil).str("next_batch")
	const total = maxToDevicePerSync + 20
	for i := range total {
		e.do("PUT", v3+fmt.Sprintf("/sendToDevice/m.test/n%d", i), map[string]any{"messages": map[string]any{e.bob: map[string]any{e.bobDevice: map[string]any{"i": i}}}}, e.aliceToken).want(t, 200, "")
	}
	var got []float64
	for range 3 {
		r := e.sync(e.bobToken, url.Values{"since": {since}})
		for _, ev := range toDeviceEvents(r) {
			got = append(got, ev["content"].(map[string]any)["i"].(float64))
		}
		since = r.str("next_batch")
	}
	if len(got) != total {
		t.Fatalf("got %d messages over three syncs, want %d", len(got), total)
	}
	for i, v := range got {
		if v != float64(i) {
			t.Fatalf("message %d is %v: out of order or repeated", i, v)
		}
	}
}

// changedIn reports whether device_lists.<key> of r lists user.
func listed(r testResponse, key, user string) bool {
	dl, _ := r.body["device_lists"].(map[string]any)
	users, _ := dl[key].([]any)
	return slices.Contains(users, any(user))
}

func TestDeviceListsReachRoomMembers(t *testing.T) {
	e := newKeysEnv(t)
	carol := e.createUser("carol", "pw-carol-1", false)
	carolToken := e.login("carol", "pw-carol-1", nil).str("access_token")
	room := e.createRoom(e.alice, e.bob, carol)
	e.membership(room, e.bob, "join")
	since := e.sync(e.bobToken, nil).str("next_batch")

	dk, _ := deviceKeys(t, e.alice, e.aliceDevice)
	e.do("POST", v3+"/keys/upload", map[string]any{"device_keys": dk}, e.aliceToken).want(t, 200, "")
	r := e.syncUntil(e.bobToken, since, func(r testResponse) bool { return listed(r, "changed", e.alice) })
	changes := e.do("GET", v3+"/keys/changes?from="+url.QueryEscape(since)+"&to="+url.QueryEscape(r.str("next_batch")), nil, e.bobToken).want(t, 200, "")
	if ch, _ := changes.body["changed"].([]any); !slices.Contains(ch, any(e.alice)) {
		t.Errorf("/keys/changes %v", changes.body)
	}
	since = r.str("next_batch")

	e.membership(room, carol, "join")
	r = e.syncUntil(e.bobToken, since, func(r testResponse) bool { return listed(r, "changed", carol) })
	since = r.str("next_batch")
	e.membership(room, carol, "leave")
	e.syncUntil(e.bobToken, since, func(r testResponse) bool { return listed(r, "left", carol) })
	_ = carolToken

	e.do("GET", v3+"/keys/changes?from=nonsense&to=s1", nil, e.bobToken).want(t, 400, "M_INVALID_PARAM")
	e.do("GET", v3+"/keys/changes", nil, e.bobToken).want(t, 400, "M_MISSING_PARAM")
}

// syncUntil syncs from since until ok holds of a response (the device
// list stream records joins shortly after they commit).
func (e *syncEnv) syncUntil(token, since string, ok func(testResponse) bool) testResponse {
	e.t.Helper()
	for range 20 {
		r := e.sync(token, url.Values{"since": {since}, "timeout": {"2000"}})
		if ok(r) {
			return r
		}
		since = r.str("next_batch")
	}
	e.t.Fatal("the awaited change never reached /sync")
	return testResponse{}
}

// crossKey builds a cross-signing key of usage for user.
func crossKey(user, usage string) (map[string]any, string, ed25519.PrivateKey) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	p := mxcore.EncodeBase64(pub)
	return map[string]any{"user_id": user, "usage": []string{usage}, "keys": map[string]any{"ed25519:" + p: p}}, p, priv
}

func TestCrossSigning(t *testing.T) {
	e := newKeysEnv(t)
	dk, devPriv := deviceKeys(t, e.alice, e.aliceDevice)
	e.do("POST", v3+"/keys/upload", map[string]any{"device_keys": dk}, e.aliceToken).want(t, 200, "")
	master, masterPub, masterPriv := crossKey(e.alice, "master")
	ssk, sskPub, sskPriv := crossKey(e.alice, "self_signing")
	usk, _, uskPriv := crossKey(e.alice, "user_signing")
	ssk = signed(t, ssk, e.alice, "ed25519:"+masterPub, masterPriv)
	usk = signed(t, usk, e.alice, "ed25519:"+masterPub, masterPriv)
	upload := map[string]any{"master_key": master, "self_signing_key": ssk, "user_signing_key": usk}

	badSSK, _, _ := crossKey(e.alice, "self_signing")
	badSSK = signed(t, badSSK, e.alice, "ed25519:"+masterPub, uskPriv)
	e.do("POST", v3+"/keys/device_signing/upload", map[string]any{"master_key": master, "self_signing_key": badSSK}, e.aliceToken).want(t, 400, "M_INVALID_SIGNATURE")
	e.do("POST", v3+"/keys/device_signing/upload", map[string]any{"self_signing_key": ssk}, e.aliceToken).want(t, 400, "M_MISSING_PARAM")

	// The first upload needs no UIA; repeating it neither.
	e.do("POST", v3+"/keys/device_signing/upload", upload, e.aliceToken).want(t, 200, "")
	e.do("POST", v3+"/keys/device_signing/upload", upload, e.aliceToken).want(t, 200, "")
	// A new master key does.
	master2, _, _ := crossKey(e.alice, "master")
	ch := e.do("POST", v3+"/keys/device_signing/upload", map[string]any{"master_key": master2}, e.aliceToken).want(t, 401, "")
	if ch.str("session") == "" {
		t.Fatalf("no UIA challenge: %v", ch.body)
	}

	// alice's self-signing key signs her device; her device signs her master key.
	sig := e.do("POST", v3+"/keys/signatures/upload", map[string]any{e.alice: map[string]any{
		e.aliceDevice: signed(t, dk, e.alice, "ed25519:"+sskPub, sskPriv),
		masterPub:     signed(t, master, e.alice, "ed25519:"+e.aliceDevice, devPriv),
		"unknownkey":  master,
	}}, e.aliceToken).want(t, 200, "")
	fails, _ := sig.body["failures"].(map[string]any)[e.alice].(map[string]any)
	if len(fails) != 1 || fails["unknownkey"] == nil {
		t.Errorf("failures %v", sig.body)
	}
	forged := signed(t, dk, e.alice, "ed25519:"+sskPub, uskPriv)
	sig = e.do("POST", v3+"/keys/signatures/upload", map[string]any{e.alice: map[string]any{e.aliceDevice: forged}}, e.aliceToken).want(t, 200, "")
	if f := sig.body["failures"].(map[string]any)[e.alice].(map[string]any)[e.aliceDevice].(map[string]any); f["errcode"] != "M_INVALID_SIGNATURE" {
		t.Errorf("forged signature: %v", f)
	}

	q := e.do("POST", v3+"/keys/query", map[string]any{"device_keys": map[string]any{e.alice: []string{}}}, e.bobToken).want(t, 200, "")
	devSigs := q.body["device_keys"].(map[string]any)[e.alice].(map[string]any)[e.aliceDevice].(map[string]any)["signatures"].(map[string]any)[e.alice].(map[string]any)
	if devSigs["ed25519:"+sskPub] == nil || devSigs["ed25519:"+e.aliceDevice] == nil {
		t.Errorf("device signatures %v", devSigs)
	}
	if q.body["master_keys"].(map[string]any)[e.alice] == nil || q.body["self_signing_keys"].(map[string]any)[e.alice] == nil {
		t.Errorf("cross-signing keys missing: %v", q.body)
	}
	if len(q.body["user_signing_keys"].(map[string]any)) != 0 {
		t.Error("bob sees alice's user-signing key")
	}
	own := e.do("POST", v3+"/keys/query", map[string]any{"device_keys": map[string]any{e.alice: []string{}}}, e.aliceToken)
	if own.body["user_signing_keys"].(map[string]any)[e.alice] == nil {
		t.Error("alice does not see her own user-signing key")
	}
}

func TestKeyBackup(t *testing.T) {
	e := newKeysEnv(t)
	tok := e.aliceToken
	e.do("GET", v3+"/room_keys/version", nil, tok).want(t, 404, "M_NOT_FOUND")
	e.do("POST", v3+"/room_keys/version", map[string]any{"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2"}, tok).want(t, 400, "M_BAD_JSON")
	v := e.do("POST", v3+"/room_keys/version", map[string]any{"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": map[string]any{"public_key": "pk"}}, tok).want(t, 200, "").str("version")
	key := func(index, forwarded int, verified bool, data string) map[string]any {
		return map[string]any{"first_message_index": index, "forwarded_count": forwarded, "is_verified": verified, "session_data": map[string]any{"d": data}}
	}
	path := v3 + "/room_keys/keys/!room:x/sess?version=" + v
	put := e.do("PUT", path, key(3, 0, false, "first"), tok).want(t, 200, "")
	etag := put.str("etag")
	if put.body["count"] != float64(1) {
		t.Fatalf("put %v", put.body)
	}
	// A key with a higher first_message_index does not replace it.
	if e.do("PUT", path, key(7, 0, false, "worse"), tok).want(t, 200, "").str("etag") != etag {
		t.Error("a worse key changed the backup")
	}
	e.do("PUT", v3+"/room_keys/keys/!room:x?version="+v, map[string]any{"sessions": map[string]any{"sess": key(1, 0, false, "better")}}, tok).want(t, 200, "")
	got := e.do("GET", path, nil, tok).want(t, 200, "")
	if got.body["session_data"].(map[string]any)["d"] != "better" {
		t.Errorf("session %v", got.body)
	}
	all := e.do("GET", v3+"/room_keys/keys?version="+v, nil, tok).want(t, 200, "")
	if all.body["rooms"].(map[string]any)["!room:x"] == nil {
		t.Errorf("all keys %v", all.body)
	}
	info := e.do("GET", v3+"/room_keys/version", nil, tok).want(t, 200, "")
	if info.str("version") != v || info.body["count"] != float64(1) || info.str("etag") == etag {
		t.Errorf("version info %v", info.body)
	}

	v2 := e.do("POST", v3+"/room_keys/version", map[string]any{"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": map[string]any{}}, tok).str("version")
	wrong := e.do("PUT", path, key(0, 0, true, "x"), tok).want(t, 403, "M_WRONG_ROOM_KEYS_VERSION")
	if wrong.str("current_version") != v2 {
		t.Errorf("current_version %v", wrong.body)
	}
	e.do("GET", v3+"/room_keys/version/999", nil, tok).want(t, 404, "M_NOT_FOUND")
	e.do("GET", v3+"/room_keys/keys?version=999", nil, tok).want(t, 404, "M_NOT_FOUND")
	e.do("GET", v3+"/room_keys/keys", nil, tok).want(t, 400, "M_MISSING_PARAM")
	e.do("PUT", v3+"/room_keys/version/"+v2, map[string]any{"algorithm": "other", "auth_data": map[string]any{}}, tok).want(t, 400, "M_INVALID_PARAM")
	e.do("PUT", v3+"/room_keys/version/"+v2, map[string]any{"algorithm": "m.megolm_backup.v1.curve25519-aes-sha2", "auth_data": map[string]any{"n": 2}}, tok).want(t, 200, "")
	e.do("PUT", v3+"/room_keys/keys/!r:x/s?version="+v2, map[string]any{"first_message_index": 1}, tok).want(t, 400, "M_BAD_JSON")
	del := e.do("DELETE", v3+"/room_keys/keys/!room:x?version="+v, nil, tok).want(t, 200, "")
	if del.body["count"] != float64(0) {
		t.Errorf("after delete %v", del.body)
	}
	e.do("DELETE", v3+"/room_keys/version/"+v2, nil, tok).want(t, 200, "")
	e.do("DELETE", v3+"/room_keys/version/"+v2, nil, tok).want(t, 200, "")
	e.do("DELETE", v3+"/room_keys/version/12345", nil, tok).want(t, 404, "M_NOT_FOUND")
	// Bob sees none of alice's backups.
	e.do("GET", v3+"/room_keys/version/"+v, nil, e.bobToken).want(t, 404, "M_NOT_FOUND")
}

func TestOneTimeKeysPerDeviceAreBounded(t *testing.T) {
	e := newKeysEnv(t)
	n := 0
	batch := func() map[string]any {
		keys := map[string]any{}
		for range maxUploadKeys {
			keys[fmt.Sprintf("signed_curve25519:K%05d", n)] = otk(n)
			n++
		}
		return map[string]any{"one_time_keys": keys}
	}
	for range maxStoredOTKs / maxUploadKeys {
		e.do("POST", v3+"/keys/upload", batch(), e.aliceToken).want(t, 200, "")
	}
	e.do("POST", v3+"/keys/upload", batch(), e.aliceToken).want(t, 400, "M_INVALID_PARAM")
	counts, _ := e.db.OneTimeKeyCounts(t.Context(), e.alice, e.aliceDevice)
	if counts["signed_curve25519"] != maxStoredOTKs {
		t.Errorf("stored %v, want %d", counts, maxStoredOTKs)
	}
}

func TestLogoutDropsTheDevicesKeys(t *testing.T) {
	e := newKeysEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	second := e.login("alice", "pw-alice-1", nil)
	token2, device2 := second.str("access_token"), second.str("device_id")
	dk, _ := deviceKeys(t, e.alice, device2)
	e.do("POST", v3+"/keys/upload", map[string]any{"device_keys": dk, "one_time_keys": map[string]any{"curve25519:A": "k"}}, token2).want(t, 200, "")
	since := e.sync(e.bobToken, nil).str("next_batch")
	e.do("POST", v3+"/logout", map[string]any{}, token2).want(t, 200, "")
	e.syncUntil(e.bobToken, since, func(r testResponse) bool { return listed(r, "changed", e.alice) })
	keys, _ := e.db.DeviceKeys(t.Context(), []string{e.alice})
	if _, ok := keys[e.alice][device2]; ok {
		t.Error("the logged-out device's keys are still stored")
	}
	if counts, _ := e.db.OneTimeKeyCounts(t.Context(), e.alice, device2); len(counts) != 0 {
		t.Errorf("the logged-out device's one-time keys are still stored: %v", counts)
	}
}

func TestDeactivationDropsDeviceKeys(t *testing.T) {
	e := newKeysEnv(t)
	dk, _ := deviceKeys(t, e.alice, e.aliceDevice)
	e.do("POST", v3+"/keys/upload", map[string]any{"device_keys": dk}, e.aliceToken).want(t, 200, "")
	session := e.do("POST", v3+"/account/deactivate", map[string]any{}, e.aliceToken).want(t, 401, "").str("session")
	e.do("POST", v3+"/account/deactivate", map[string]any{"auth": passwordAuth(session, "alice", "pw-alice-1")}, e.aliceToken).want(t, 200, "")
	if keys, _ := e.db.DeviceKeys(t.Context(), []string{e.alice}); len(keys) != 0 {
		t.Errorf("a deactivated account's device keys are kept: %v", keys)
	}
}
