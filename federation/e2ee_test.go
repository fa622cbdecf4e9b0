package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
)

const (
	e2eeRemote = "remote.example"
	e2eeBob    = "@bob:remote.example"
	e2eeRoom   = "!room:e2ee.example"
)

// devKeys is device keys naming user and device.
func devKeys(user, device string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"user_id":%q,"device_id":%q,"algorithms":["m.olm.v1.curve25519-aes-sha2"],"keys":{"curve25519:%s":"k"},"signatures":{}}`, user, device, device))
}

func TestDecideDeviceListUpdate(t *testing.T) {
	for _, c := range []struct {
		name           string
		tracked, stale bool
		last           int64
		stream         int64
		prev           []int64
		want           listAction
	}{
		{"untracked user: resync starts tracking", false, false, 0, 3, []int64{2}, listResync},
		{"stale list: resync", true, true, 5, 6, []int64{5}, listResync},
		{"follows the cached list", true, false, 5, 6, []int64{5}, listApply},
		{"prev ids all covered", true, false, 9, 12, []int64{4, 9}, listApply},
		{"already seen", true, false, 9, 9, []int64{8}, listIgnore},
		{"older than the cache (covered by a resync)", true, false, 9, 7, []int64{6}, listIgnore},
		{"a prev id never arrived: gap", true, false, 5, 9, []int64{8}, listResync},
		{"one of several prev ids missing", true, false, 5, 9, []int64{5, 7}, listResync},
		{"no prev id on a tracked list cannot be placed", true, false, 5, 9, nil, listResync},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := decideDeviceListUpdate(c.tracked, c.stale, c.last, deviceListUpdate{StreamID: c.stream, PrevID: c.prev})
			if got != c.want {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestParseDeviceListUpdate(t *testing.T) {
	good := map[string]any{"user_id": e2eeBob, "device_id": "D1", "stream_id": 4, "prev_id": []int{3}, "keys": devKeys(e2eeBob, "D1")}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	many := make([]int, maxPrevIDs+1)
	for _, c := range []struct {
		name    string
		content map[string]any
		origin  string
		wantErr bool
	}{
		{"valid", good, e2eeRemote, false},
		{"another server's user", good, "evil.example", true},
		{"not a user ID", with("user_id", "bob"), e2eeRemote, true},
		{"no device", with("device_id", nil), e2eeRemote, true},
		{"no stream id", with("stream_id", nil), e2eeRemote, true},
		{"negative stream id", with("stream_id", -1), e2eeRemote, true},
		{"too many prev ids", with("prev_id", many), e2eeRemote, true},
		{"keys of another device", with("keys", devKeys(e2eeBob, "D2")), e2eeRemote, true},
		{"keys of another user", with("keys", devKeys("@eve:remote.example", "D1")), e2eeRemote, true},
		{"no keys (a device without E2E keys)", with("keys", nil), e2eeRemote, false},
		{"deleted: keys are ignored", with("deleted", true), e2eeRemote, false},
		{"display name too long", with("device_display_name", strings.Repeat("x", 1025)), e2eeRemote, true},
		{"display name with NUL", with("device_display_name", "a\x00b"), e2eeRemote, true},
		{"device ID with NUL", with("device_id", "D\x001"), e2eeRemote, true},
		{"keys too large", with("keys", json.RawMessage(strings.Replace(string(devKeys(e2eeBob, "D1")), `"signatures":{}`, `"signatures":{},"pad":"`+strings.Repeat("x", maxRemoteKeyJSON)+`"`, 1))), e2eeRemote, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, _ := json.Marshal(c.content)
			u, err := parseDeviceListUpdate(raw, c.origin)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && u.Deleted && u.Keys != nil {
				t.Error("a deletion kept its keys")
			}
		})
	}
}

func TestParseSigningKeyUpdate(t *testing.T) {
	master := json.RawMessage(`{"user_id":"@bob:remote.example","usage":["master"],"keys":{"ed25519:M":"M"}}`)
	ssk := json.RawMessage(`{"user_id":"@bob:remote.example","usage":["self_signing"],"keys":{"ed25519:S":"S"}}`)
	for _, c := range []struct {
		name     string
		content  any
		origin   string
		wantKeys int
		wantErr  bool
	}{
		{"both keys", map[string]any{"user_id": e2eeBob, "master_key": master, "self_signing_key": ssk}, e2eeRemote, 2, false},
		{"master only", map[string]any{"user_id": e2eeBob, "master_key": master}, e2eeRemote, 1, false},
		{"no key", map[string]any{"user_id": e2eeBob}, e2eeRemote, 0, true},
		{"wrong origin", map[string]any{"user_id": e2eeBob, "master_key": master}, "evil.example", 0, true},
		{"usage mismatch", map[string]any{"user_id": e2eeBob, "master_key": ssk}, e2eeRemote, 0, true},
		{"key of another user", map[string]any{"user_id": "@eve:remote.example", "master_key": master}, e2eeRemote, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, _ := json.Marshal(c.content)
			_, keys, err := parseSigningKeyUpdate(raw, c.origin)
			if (err != nil) != c.wantErr || len(keys) != c.wantKeys {
				t.Fatalf("keys %d err %v; want %d keys, error %v", len(keys), err, c.wantKeys, c.wantErr)
			}
		})
	}
}

func TestParseDirectToDevice(t *testing.T) {
	msgs := map[string]any{"@alice:e2ee.example": map[string]any{"D": map[string]any{"a": 1}}}
	for _, c := range []struct {
		name    string
		content map[string]any
		wantErr bool
	}{
		{"valid", map[string]any{"sender": e2eeBob, "type": "m.room.encrypted", "message_id": "m1", "messages": msgs}, false},
		{"sender of another server", map[string]any{"sender": "@eve:evil.example", "type": "t", "message_id": "m1", "messages": msgs}, true},
		{"no type", map[string]any{"sender": e2eeBob, "message_id": "m1", "messages": msgs}, true},
		{"no message id", map[string]any{"sender": e2eeBob, "type": "t", "messages": msgs}, true},
		{"message id over 32 characters", map[string]any{"sender": e2eeBob, "type": "t", "message_id": strings.Repeat("é", 33), "messages": msgs}, true},
		{"message id of 32 characters", map[string]any{"sender": e2eeBob, "type": "t", "message_id": strings.Repeat("é", 32), "messages": msgs}, false},
		{"no messages", map[string]any{"sender": e2eeBob, "type": "t", "message_id": "m1"}, true},
		{"recipient not a user", map[string]any{"sender": e2eeBob, "type": "t", "message_id": "m1", "messages": map[string]any{"alice": map[string]any{"D": map[string]any{}}}}, true},
		{"type with NUL", map[string]any{"sender": e2eeBob, "type": "t\x00", "message_id": "m1", "messages": msgs}, true},
		{"message id with NUL", map[string]any{"sender": e2eeBob, "type": "t", "message_id": "m\x00", "messages": msgs}, true},
		{"message not an object", map[string]any{"sender": e2eeBob, "type": "t", "message_id": "m1", "messages": map[string]any{"@a:e2ee.example": map[string]any{"D": "x"}}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, _ := json.Marshal(c.content)
			if _, err := parseDirectToDevice(raw, e2eeRemote); (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
		})
	}
}

func TestShortMessageID(t *testing.T) {
	if got := shortMessageID("DEV:txn1"); got != "DEV:txn1" {
		t.Errorf("short ID changed: %q", got)
	}
	long := strings.Repeat("d", 20) + ":" + strings.Repeat("t", 40)
	a, b := shortMessageID(long), shortMessageID(long)
	if len(a) != 32 || a != b || a == shortMessageID(long+"x") {
		t.Errorf("long IDs: %q %q", a, b)
	}
}

// e2eeEnv is an E2EE over a real database, with the remote server's
// /user/devices answered by a fake and the client side recorded.
type e2eeEnv struct {
	t      *testing.T
	db     storage.Database
	e      *E2EE
	remote *fakeUserDevices
	local  *recordingLocal
	sent   *recordingQueuer
}

// e2eeStore answers the room-sharing queries from fixed maps (user →
// joined rooms, room → joined servers); the rest is the database.
type e2eeStore struct {
	storage.Database
	rooms   map[string][]string
	servers fixedRooms
}

func (s e2eeStore) ServersSharingRooms(_ context.Context, userID string) ([]string, error) {
	var out []string
	for _, r := range s.rooms[userID] {
		for _, srv := range s.servers[r] {
			if !slices.Contains(out, srv) {
				out = append(out, srv)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s e2eeStore) ServerSharesRoom(_ context.Context, userID, server, exceptRoomID string) (bool, error) {
	for _, r := range s.rooms[userID] {
		if r != exceptRoomID && slices.Contains(s.servers[r], server) {
			return true, nil
		}
	}
	return false, nil
}

func (s e2eeStore) JoinedServers(_ context.Context, roomID string) ([]string, error) {
	return s.servers[roomID], nil
}

type fixedRooms map[string][]string

// fakeUserDevices answers GET /user/devices with list, or fails while down.
type fakeUserDevices struct {
	mu   sync.Mutex
	list UserDevices
	down bool
	// postDown fails the POSTs (/user/keys/query, /user/keys/claim).
	postDown bool
	calls    int
	posts    []string
}

func (f *fakeUserDevices) Do(_ context.Context, dest, method, path string, body any) (*Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if method == http.MethodPost {
		f.posts = append(f.posts, path)
		if f.postDown {
			return nil, errors.New("connection refused")
		}
		raw, _ := json.Marshal(DeviceKeysAnswer{DeviceKeys: map[string]map[string]json.RawMessage{
			e2eeBob:               {"R1": devKeys(e2eeBob, "R1"), "BAD": devKeys(e2eeBob, "OTHER")},
			"@eve:remote.example": {"E": devKeys("@eve:remote.example", "E")},
		}})
		return &Response{Destination: dest, Status: 200, Body: raw}, nil
	}
	f.calls++
	if f.down {
		return nil, errors.New("connection refused")
	}
	raw, _ := json.Marshal(f.list)
	return &Response{Destination: dest, Status: 200, Body: raw}, nil
}

type recordingLocal struct {
	LocalKeys
	mu        sync.Mutex
	moved     map[string]int
	delivered []string
}

func (l *recordingLocal) DeliverToDevice(_ context.Context, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for u := range messages {
		l.delivered = append(l.delivered, sender+" "+eventType+" "+messageID+" "+u)
	}
	return nil
}

func (l *recordingLocal) RemoteDeviceListMoved(_ context.Context, userID string, pos int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if pos > 0 {
		l.moved[userID]++
	}
}

type recordingQueuer struct {
	mu   sync.Mutex
	edus []string
}

func (q *recordingQueuer) SendEDU(_ context.Context, dests []string, eduType string, content any, _ string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	raw, _ := json.Marshal(content)
	q.edus = append(q.edus, fmt.Sprintf("%v %s %s", dests, eduType, raw))
	return nil
}

func newE2EEEnv(t *testing.T) *e2eeEnv {
	db := openReadTestDB(t)
	remote := &fakeUserDevices{list: UserDevices{UserID: e2eeBob, StreamID: 5, Devices: []UserDevice{{DeviceID: "D1", Keys: devKeys(e2eeBob, "D1"), DisplayName: "phone"}}}}
	local := &recordingLocal{moved: map[string]int{}}
	sent := &recordingQueuer{}
	store := e2eeStore{Database: db, rooms: map[string][]string{e2eeBob: {e2eeRoom}, "@alice:e2ee.example": {e2eeRoom}},
		servers: fixedRooms{e2eeRoom: {"e2ee.example", e2eeRemote}}}
	e, err := NewE2EE(E2EEConfig{ServerName: "e2ee.example", Client: remote, Store: store, Sender: sent, Local: local})
	if err != nil {
		t.Fatal(err)
	}
	return &e2eeEnv{t: t, db: db, e: e, remote: remote, local: local, sent: sent}
}

func (env *e2eeEnv) update(origin string, content map[string]any) error {
	raw, _ := json.Marshal(content)
	return env.e.deviceListUpdate(env.t.Context(), origin, raw)
}

func (env *e2eeEnv) cached() storage.RemoteDeviceList {
	env.t.Helper()
	lists, err := env.db.RemoteDeviceLists(env.t.Context(), []string{e2eeBob})
	if err != nil {
		env.t.Fatal(err)
	}
	return lists[e2eeBob]
}

// TestDeviceListUpdatesTrackAndResync walks the gap logic end to end:
// the first update of an untracked user resyncs, following updates
// apply without a request, a repeat is ignored, a gap resyncs, and a
// failed resync leaves the list stale while local users still hear of it.
func TestDeviceListUpdatesTrackAndResync(t *testing.T) {
	env := newE2EEEnv(t)
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D1", "stream_id": 5}); err != nil {
		t.Fatal(err)
	}
	if l := env.cached(); env.remote.calls != 1 || l.StreamID != 5 || len(l.Devices) != 1 || l.Devices[0].DisplayName != "phone" {
		t.Fatalf("after the first update: %d calls, %+v", env.remote.calls, l)
	}
	next := map[string]any{"user_id": e2eeBob, "device_id": "D2", "stream_id": 6, "prev_id": []int{5}, "keys": devKeys(e2eeBob, "D2")}
	for range 2 { // the repeat is ignored
		if err := env.update(e2eeRemote, next); err != nil {
			t.Fatal(err)
		}
	}
	if l := env.cached(); env.remote.calls != 1 || l.StreamID != 6 || len(l.Devices) != 2 {
		t.Fatalf("after an incremental update: %d calls, %+v", env.remote.calls, l)
	}
	if env.local.moved[e2eeBob] != 2 {
		t.Errorf("local users heard of %d changes, want 2", env.local.moved[e2eeBob])
	}
	env.remote.list.StreamID = 9
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D3", "stream_id": 9, "prev_id": []int{8}}); err != nil {
		t.Fatal(err)
	}
	if l := env.cached(); env.remote.calls != 2 || l.StreamID != 9 || len(l.Devices) != 1 {
		t.Fatalf("after a gap: %d calls, %+v", env.remote.calls, l)
	}
	env.remote.down = true
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D4", "stream_id": 12, "prev_id": []int{11}}); err == nil {
		t.Fatal("a failed resync reported no error")
	}
	if l := env.cached(); !l.Stale || env.local.moved[e2eeBob] != 4 {
		t.Fatalf("after a failed resync: stale %v, moved %d", l.Stale, env.local.moved[e2eeBob])
	}
	// A stale list is not served from the cache: the query goes out.
	got, err := env.e.QueryKeys(t.Context(), e2eeRemote, map[string][]string{e2eeBob: nil})
	if err != nil || len(env.remote.posts) != 1 {
		t.Fatalf("query of a stale list: %v, posts %v", err, env.remote.posts)
	}
	if _, ok := got.DeviceKeys[e2eeBob]["R1"]; !ok || len(got.DeviceKeys[e2eeBob]) != 1 || len(got.DeviceKeys) != 1 {
		t.Errorf("remote answer not filtered to the user's well-formed keys asked for: %v", got.DeviceKeys)
	}
}

// TestDeviceListUpdatesRefused: another server's user, or a user no
// local user shares a room with, changes nothing and asks nothing.
func TestDeviceListUpdatesRefused(t *testing.T) {
	env := newE2EEEnv(t)
	if err := env.update("evil.example", map[string]any{"user_id": e2eeBob, "device_id": "D1", "stream_id": 5}); err == nil {
		t.Error("an update about another server's user was accepted")
	}
	if err := env.update(e2eeRemote, map[string]any{"user_id": "@stranger:remote.example", "device_id": "D1", "stream_id": 5}); err != nil {
		t.Error(err)
	}
	if env.remote.calls != 0 || len(env.local.moved) != 0 {
		t.Errorf("refused updates made %d requests and %v changes", env.remote.calls, env.local.moved)
	}
}

// TestQueryKeysFromCache: a tracked, fresh list is answered without a
// request, with display names and only the devices asked for.
func TestQueryKeysFromCache(t *testing.T) {
	env := newE2EEEnv(t)
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D1", "stream_id": 5}); err != nil {
		t.Fatal(err)
	}
	got, err := env.e.QueryKeys(t.Context(), e2eeRemote, map[string][]string{e2eeBob: {"D1", "NOPE"}})
	if err != nil || len(env.remote.posts) != 0 {
		t.Fatalf("cached query: %v, posts %v", err, env.remote.posts)
	}
	var keys struct {
		Unsigned map[string]string `json:"unsigned"`
	}
	if err := json.Unmarshal(got.DeviceKeys[e2eeBob]["D1"], &keys); err != nil || keys.Unsigned["device_display_name"] != "phone" || len(got.DeviceKeys[e2eeBob]) != 1 {
		t.Fatalf("cached answer: %s %v", got.DeviceKeys[e2eeBob]["D1"], err)
	}
}

// TestDirectToDeviceDelivery: only local recipients are delivered to, and
// a message from a user of another server than the origin is refused.
func TestDirectToDeviceDelivery(t *testing.T) {
	env := newE2EEEnv(t)
	content := map[string]any{"sender": e2eeBob, "type": "m.room.encrypted", "message_id": "m1", "messages": map[string]any{
		"@alice:e2ee.example":  map[string]any{"*": map[string]any{"c": 1}},
		"@carol:other.example": map[string]any{"X": map[string]any{"c": 1}},
	}}
	raw, _ := json.Marshal(content)
	if err := env.e.directToDevice(t.Context(), e2eeRemote, raw); err != nil {
		t.Fatal(err)
	}
	if err := env.e.directToDevice(t.Context(), "evil.example", raw); err == nil {
		t.Error("a message for another server's sender was accepted")
	}
	want := e2eeBob + " m.room.encrypted m1 @alice:e2ee.example"
	if len(env.local.delivered) != 1 || env.local.delivered[0] != want {
		t.Errorf("delivered %v, want [%s]", env.local.delivered, want)
	}
}

// TestDeviceChangedAnnounces: a local device change goes to the servers
// sharing a room, with stream_id and the previous one as prev_id.
func TestDeviceChangedAnnounces(t *testing.T) {
	env := newE2EEEnv(t)
	env.local.LocalKeys = userKeysStub{}
	const alice = "@alice:e2ee.example"
	var pos [4]int64 // positions of the device list stream, as the key store allocates them
	for i := range pos {
		p, err := env.db.AddDeviceListChange(t.Context(), alice, "", storage.DeviceListKeys)
		if err != nil {
			t.Fatal(err)
		}
		pos[i] = p
	}
	for _, c := range []struct {
		pos     int64
		deleted bool
	}{{pos[0], false}, {pos[2], false}, {pos[3], true}, {pos[1], false}} {
		if err := env.e.DeviceChanged(t.Context(), alice, "A1", c.pos, c.deleted); err != nil {
			t.Fatal(err)
		}
	}
	if len(env.sent.edus) != 4 {
		t.Fatalf("EDUs: %v", env.sent.edus)
	}
	for i, want := range []string{
		fmt.Sprintf(`"stream_id":%d,"keys"`, pos[0]),
		fmt.Sprintf(`"stream_id":%d,"prev_id":[%d],"keys"`, pos[2], pos[0]),
		fmt.Sprintf(`"stream_id":%d,"prev_id":[%d],"deleted":true}`, pos[3], pos[2]),
		// Announced after a later change: a fresh, newer stream ID.
		fmt.Sprintf(`"stream_id":%d,"prev_id":[%d],"keys"`, pos[3]+1, pos[3]),
	} {
		if !strings.Contains(env.sent.edus[i], want) || !strings.Contains(env.sent.edus[i], "remote.example") || !strings.Contains(env.sent.edus[i], "] m.device_list_update") {
			t.Errorf("EDU %d = %s, want %s", i, env.sent.edus[i], want)
		}
	}
}

// userKeysStub serves fixed keys for any local user.
type userKeysStub struct{}

func (userKeysStub) QueryLocalKeys(_ context.Context, want map[string][]string) (DeviceKeysAnswer, error) {
	out := DeviceKeysAnswer{DeviceKeys: map[string]map[string]json.RawMessage{}}
	for u := range want {
		out.DeviceKeys[u] = map[string]json.RawMessage{"A1": devKeys(u, "A1")}
	}
	return out, nil
}

func (userKeysStub) ClaimLocalKeys(_ context.Context, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	out := map[string]map[string]map[string]json.RawMessage{}
	for u, ds := range claims {
		out[u] = map[string]map[string]json.RawMessage{}
		for d, alg := range ds {
			out[u][d] = map[string]json.RawMessage{alg + ":K": json.RawMessage(`"key"`)}
		}
	}
	return out, nil
}

func (userKeysStub) LocalUserDevices(_ context.Context, userID string) (UserDevices, error) {
	return UserDevices{UserID: userID, StreamID: 7, Devices: []UserDevice{{DeviceID: "A1", Keys: devKeys(userID, "A1"), DisplayName: "laptop"}}}, nil
}

// denyUser refuses one user's keys and allows everything else.
type denyUser string

func (d denyUser) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	return policy.Decision{Allow: in.UserID != string(d)}, nil
}

// TestUserKeyEndpoints: the three endpoints serve local users, refuse
// others' and bad requests, and leave out users the policy refuses.
func TestUserKeyEndpoints(t *testing.T) {
	env := newReadEnv(t, func(rt *Routes) { rt.UserKeys = userKeysStub{}; rt.Policy = denyUser("@secret:" + readServer) })
	alice, secret := "@alice:"+readServer, "@secret:"+readServer
	r := env.get(e2eeRemote, "/v1/user/devices/"+alice)
	devices, _ := r.body["devices"].([]any)
	if r.status != 200 || r.body["user_id"] != alice || r.body["stream_id"] != float64(7) || len(devices) != 1 {
		t.Fatalf("/user/devices: %d %s", r.status, r.raw)
	}
	if r := env.get(e2eeRemote, "/v1/user/devices/"+secret); r.status != 403 || r.errcode() != "M_FORBIDDEN" {
		t.Errorf("/user/devices of a refused user: %d %s", r.status, r.raw)
	}
	if r := env.get(e2eeRemote, "/v1/user/devices/@bob:other.example"); r.status != 400 || r.errcode() != "M_INVALID_PARAM" {
		t.Errorf("/user/devices of a remote user: %d %s", r.status, r.raw)
	}
	r = env.do(e2eeRemote, "POST", "/v1/user/keys/query", map[string]any{"device_keys": map[string]any{alice: []string{}, secret: []string{}}})
	keys, _ := r.body["device_keys"].(map[string]any)
	if r.status != 200 || keys[alice] == nil || keys[secret] != nil {
		t.Errorf("/user/keys/query: %d %s", r.status, r.raw)
	}
	r = env.do(e2eeRemote, "POST", "/v1/user/keys/claim", map[string]any{"one_time_keys": map[string]any{alice: map[string]string{"A1": "signed_curve25519"}}})
	otks, _ := r.body["one_time_keys"].(map[string]any)
	if r.status != 200 || otks[alice] == nil {
		t.Errorf("/user/keys/claim: %d %s", r.status, r.raw)
	}
	for _, c := range []struct {
		path string
		body any
		code string
	}{
		{"/v1/user/keys/query", map[string]any{}, "M_MISSING_PARAM"},
		{"/v1/user/keys/query", map[string]any{"device_keys": map[string]any{"@bob:other.example": []string{}}}, "M_INVALID_PARAM"},
		{"/v1/user/keys/claim", map[string]any{}, "M_MISSING_PARAM"},
		{"/v1/user/keys/claim", map[string]any{"one_time_keys": map[string]any{"nobody": map[string]string{}}}, "M_INVALID_PARAM"},
		{"/v1/user/keys/query", "not an object", "M_NOT_JSON"},
	} {
		if r := env.do(e2eeRemote, "POST", c.path, c.body); r.status != 400 || r.errcode() != c.code {
			t.Errorf("%s %v: %d %s, want 400 %s", c.path, c.body, r.status, r.raw, c.code)
		}
	}
}

// TestUntrackAfterLeave: a remote user's list is forgotten once they
// share no room with this server, and kept while they still do.
func TestUntrackAfterLeave(t *testing.T) {
	env := newE2EEEnv(t)
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D1", "stream_id": 5}); err != nil {
		t.Fatal(err)
	}
	job := untrackJob{roomID: "!other:e2ee.example", users: []string{e2eeBob}}
	env.e.untrackAfterLeave(t.Context(), job) // bob still shares e2eeRoom
	if _, ok := mustLists(t, env)[e2eeBob]; !ok {
		t.Fatal("a user still sharing a room was forgotten")
	}
	env.e.cfg.Store.(e2eeStore).rooms[e2eeBob] = nil // bob left the last shared room
	env.e.untrackAfterLeave(t.Context(), job)
	if _, ok := mustLists(t, env)[e2eeBob]; ok {
		t.Fatal("a user sharing no room is still tracked")
	}
}

func mustLists(t *testing.T, env *e2eeEnv) map[string]storage.RemoteDeviceList {
	t.Helper()
	lists, err := env.db.RemoteDeviceLists(t.Context(), []string{e2eeBob})
	if err != nil {
		t.Fatal(err)
	}
	return lists
}

// TestSigningKeyUpdate: an untracked user's update resyncs (and starts
// tracking); a tracked user's is applied to the cache without a request.
func TestSigningKeyUpdate(t *testing.T) {
	env := newE2EEEnv(t)
	master := json.RawMessage(`{"user_id":"@bob:remote.example","usage":["master"],"keys":{"ed25519:M2":"M2"}}`)
	raw, _ := json.Marshal(map[string]any{"user_id": e2eeBob, "master_key": master})
	if err := env.e.signingKeyUpdate(t.Context(), e2eeRemote, raw); err != nil {
		t.Fatal(err)
	}
	if env.remote.calls != 1 || env.cached().StreamID != 5 {
		t.Fatalf("untracked user: %d calls, %+v", env.remote.calls, env.cached())
	}
	if err := env.e.signingKeyUpdate(t.Context(), e2eeRemote, raw); err != nil {
		t.Fatal(err)
	}
	if l := env.cached(); env.remote.calls != 1 || string(l.CrossSigning["master"]) != string(master) {
		t.Fatalf("tracked user: %d calls, %+v", env.remote.calls, l)
	}
	if err := env.e.signingKeyUpdate(t.Context(), "evil.example", raw); err == nil {
		t.Error("an update about another server's user was accepted")
	}
}

// TestQueryKeysWhenUnreachable: the users the cache knows, fresh or
// stale, are answered when their server cannot be asked about the
// others, with the error that puts the server in failures.
func TestQueryKeysWhenUnreachable(t *testing.T) {
	env := newE2EEEnv(t)
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D1", "stream_id": 5}); err != nil {
		t.Fatal(err)
	}
	env.remote.postDown = true
	const eve = "@eve:remote.example"
	for _, stale := range []bool{false, true} {
		if stale {
			if err := env.db.MarkRemoteDeviceListStale(t.Context(), e2eeBob); err != nil {
				t.Fatal(err)
			}
		}
		got, err := env.e.QueryKeys(t.Context(), e2eeRemote, map[string][]string{e2eeBob: nil, eve: nil})
		if err == nil {
			t.Fatalf("stale %v: no error from an unreachable server", stale)
		}
		if got.DeviceKeys[e2eeBob]["D1"] == nil || got.DeviceKeys[eve] != nil {
			t.Errorf("stale %v: answer %v, want bob's cached D1 only", stale, got.DeviceKeys)
		}
	}
}

// TestE2EEOnPostgres runs the E2EE scenarios that touch storage on
// PostgreSQL too (skipped without WARBLER_TEST_POSTGRES).
func TestE2EEOnPostgres(t *testing.T) {
	if os.Getenv(pgtest.EnvVar) == "" {
		t.Skip(pgtest.EnvVar + " not set: PostgreSQL tests skipped")
	}
	onPostgres = true
	defer func() { onPostgres = false }()
	for name, scenario := range map[string]func(*testing.T){
		"track and resync": TestDeviceListUpdatesTrackAndResync, "refused updates": TestDeviceListUpdatesRefused,
		"query from cache": TestQueryKeysFromCache, "query when unreachable": TestQueryKeysWhenUnreachable,
		"to-device": TestDirectToDeviceDelivery, "device changed": TestDeviceChangedAnnounces,
		"key endpoints": TestUserKeyEndpoints, "untrack": TestUntrackAfterLeave,
		"signing key update": TestSigningKeyUpdate, "resync not stored": TestResyncThatCannotBeStoredMarksStale,
		"malformed updates": TestMalformedUpdatesChangeNothing, "announce after join": TestAnnounceAfterJoin,
	} {
		t.Run(name, scenario)
	}
}

func TestCheckUserDevices(t *testing.T) {
	dev := func(id, name string) UserDevice {
		return UserDevice{DeviceID: id, Keys: devKeys(e2eeBob, id), DisplayName: name}
	}
	for _, c := range []struct {
		name    string
		got     UserDevices
		wantErr bool
	}{
		{"valid", UserDevices{UserID: e2eeBob, StreamID: 3, Devices: []UserDevice{dev("D1", "phone")}}, false},
		{"no change yet: stream 0", UserDevices{UserID: e2eeBob}, false},
		{"another user", UserDevices{UserID: "@eve:remote.example", StreamID: 3}, true},
		{"negative stream", UserDevices{UserID: e2eeBob, StreamID: -1}, true},
		{"NUL in a display name", UserDevices{UserID: e2eeBob, StreamID: 3, Devices: []UserDevice{dev("D1", "a\x00")}}, true},
		{"keys of another device", UserDevices{UserID: e2eeBob, StreamID: 3, Devices: []UserDevice{{DeviceID: "D1", Keys: devKeys(e2eeBob, "D2")}}}, true},
		{"master key of another user", UserDevices{UserID: e2eeBob, MasterKey: json.RawMessage(`{"user_id":"@eve:remote.example","usage":["master"],"keys":{"ed25519:M":"M"}}`)}, true},
		{"invalid UTF-8 in keys", UserDevices{UserID: e2eeBob, Devices: []UserDevice{{DeviceID: "D1",
			Keys: json.RawMessage("{\"user_id\":\"@bob:remote.example\",\"device_id\":\"D1\",\"keys\":{\"k\":\"\xff\"}}")}}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := checkUserDevices(c.got, e2eeBob); (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
		})
	}
}

func TestMergeRemoteKeys(t *testing.T) {
	got := DeviceKeysAnswer{DeviceKeys: map[string]map[string]json.RawMessage{
		e2eeBob:               {"D1": devKeys(e2eeBob, "D1"), "D2": devKeys(e2eeBob, "D2"), "D3": devKeys(e2eeBob, "OTHER")},
		"@eve:remote.example": {"E": devKeys("@eve:remote.example", "E")},
	}}
	for _, c := range []struct {
		name  string
		asked []string
		want  []string
	}{
		{"all devices", nil, []string{"D1", "D2"}},
		{"the devices asked for only", []string{"D2", "NOPE"}, []string{"D2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			answer := DeviceKeysAnswer{DeviceKeys: map[string]map[string]json.RawMessage{}, MasterKeys: map[string]json.RawMessage{}, SelfSigningKeys: map[string]json.RawMessage{}}
			mergeRemoteKeys(&answer, got, map[string][]string{e2eeBob: c.asked})
			var ids []string
			for d := range answer.DeviceKeys[e2eeBob] {
				ids = append(ids, d)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, c.want) || len(answer.DeviceKeys) != 1 {
				t.Errorf("kept %v of %v, want %v of bob only", ids, answer.DeviceKeys, c.want)
			}
		})
	}
}

// failingReplace is a store whose list replacements fail.
type failingReplace struct{ e2eeStore }

func (failingReplace) ReplaceRemoteDeviceList(context.Context, storage.RemoteDeviceList) (int64, error) {
	return 0, errors.New("disk full")
}

// TestResyncThatCannotBeStoredMarksStale: a tracked list whose resync
// cannot be written is not left passing for current.
func TestResyncThatCannotBeStoredMarksStale(t *testing.T) {
	env := newE2EEEnv(t)
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D1", "stream_id": 5}); err != nil {
		t.Fatal(err)
	}
	env.e.cfg.Store = failingReplace{env.e.cfg.Store.(e2eeStore)}
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D3", "stream_id": 9, "prev_id": []int{8}}); err == nil {
		t.Fatal("a failed write reported no error")
	}
	if l := env.cached(); !l.Stale || l.StreamID != 5 {
		t.Fatalf("after a resync that could not be stored: %+v", l)
	}
}

// TestMalformedUpdatesChangeNothing: updates refused by their shape
// leave the cached list as it was, on either database.
func TestMalformedUpdatesChangeNothing(t *testing.T) {
	env := newE2EEEnv(t)
	if err := env.update(e2eeRemote, map[string]any{"user_id": e2eeBob, "device_id": "D1", "stream_id": 5}); err != nil {
		t.Fatal(err)
	}
	before := env.cached()
	for _, content := range []map[string]any{
		{"user_id": e2eeBob, "device_id": "D2", "stream_id": 6, "prev_id": []int{5}, "device_display_name": "a\x00b"},
		{"user_id": e2eeBob, "device_id": "D\x002", "stream_id": 6, "prev_id": []int{5}},
		{"user_id": e2eeBob, "device_id": "D2", "stream_id": 6, "prev_id": []int{5}, "keys": devKeys(e2eeBob, "D9")},
		{"user_id": e2eeBob, "device_id": "D2", "stream_id": "6", "prev_id": []int{5}},
	} {
		if err := env.update(e2eeRemote, content); err == nil {
			t.Errorf("accepted %v", content)
		}
	}
	raw := []byte(`{"user_id":"@bob:remote.example","master_key":{"user_id":"@bob:remote.example","usage":["master"],"keys":{"ed25519:M":"\u0000"},"x":"` + "\xff" + `"}}`)
	if err := env.e.signingKeyUpdate(t.Context(), e2eeRemote, raw); err == nil {
		t.Error("accepted a signing key update with invalid UTF-8")
	}
	if after := env.cached(); after.StreamID != before.StreamID || len(after.Devices) != len(before.Devices) || after.Stale || len(after.CrossSigning) != len(before.CrossSigning) {
		t.Errorf("list changed from %+v to %+v", before, after)
	}
}

func TestParseDirectToDeviceRefusesInvalidUTF8(t *testing.T) {
	raw := []byte(`{"sender":"@bob:remote.example","type":"t","message_id":"m1","messages":{"@a:e2ee.example":{"D":{"x":"` + "\xff" + `"}}}}`)
	if _, err := parseDirectToDevice(raw, e2eeRemote); err == nil {
		t.Error("a message body with invalid UTF-8 was accepted")
	}
}

// TestAnnounceAfterJoin: a local user's join to a room holding a server
// that shared no room with them announces their device list (to every
// server sharing a room); a join among servers that already hear of them
// announces nothing.
func TestAnnounceAfterJoin(t *testing.T) {
	env := newE2EEEnv(t)
	env.local.LocalKeys = userKeysStub{}
	const alice = "@alice:e2ee.example"
	store := env.e.cfg.Store.(e2eeStore)
	store.servers["!known:e2ee.example"] = []string{"e2ee.example", e2eeRemote}
	store.servers["!new:e2ee.example"] = []string{"e2ee.example", e2eeRemote, "third.example"}
	store.rooms[alice] = append(store.rooms[alice], "!known:e2ee.example")
	if err := env.e.announceAfterJoin(t.Context(), "!known:e2ee.example", alice); err != nil || len(env.sent.edus) != 0 {
		t.Fatalf("a join among known servers: %v, EDUs %v", err, env.sent.edus)
	}
	store.rooms[alice] = append(store.rooms[alice], "!new:e2ee.example")
	if err := env.e.announceAfterJoin(t.Context(), "!new:e2ee.example", alice); err != nil {
		t.Fatal(err)
	}
	if len(env.sent.edus) != 1 || !strings.Contains(env.sent.edus[0], "third.example") || !strings.Contains(env.sent.edus[0], e2eeRemote) ||
		!strings.Contains(env.sent.edus[0], `m.device_list_update {"user_id":"@alice:e2ee.example","device_id":"A1"`) {
		t.Fatalf("EDUs %v", env.sent.edus)
	}
	// A profile change is a join event again: nothing more to announce.
	if err := env.e.announceAfterJoin(t.Context(), "!new:e2ee.example", alice); err != nil || len(env.sent.edus) != 1 {
		t.Fatalf("a repeated join: %v, EDUs %v", err, env.sent.edus)
	}
}
