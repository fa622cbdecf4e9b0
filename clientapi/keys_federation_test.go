package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestDeliverToDeviceOnce: another server's to-device message reaches
// the local devices it names once per message ID, and its recipients on
// other servers are not this server's business.
func TestDeliverToDeviceOnce(t *testing.T) {
	e := newKeysEnv(t)
	first := e.sync(e.bobToken, nil)
	const sender = "@carol:remote.example"
	deliver := func(messageID string) {
		t.Helper()
		err := e.api.DeliverToDevice(t.Context(), sender, "m.test", messageID, map[string]map[string]json.RawMessage{
			e.bob:                 {"*": json.RawMessage(`{"id":"` + messageID + `"}`)},
			"@dave:other.example": {"X": json.RawMessage(`{}`)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deliver("m1")
	deliver("m1") // a repeated EDU
	deliver("m2")
	next := e.sync(e.bobToken, url.Values{"since": {first.str("next_batch")}})
	evs := toDeviceEvents(next)
	if len(evs) != 2 || evs[0]["sender"] != sender || evs[0]["type"] != "m.test" {
		t.Fatalf("to_device events %v, want m1 and m2 once each", evs)
	}
}

// TestKeyChangesAnnounced: uploading device keys, renaming the device
// and deleting it each reach OnDeviceListChange, with the stream
// position; an unchanged upload does not.
func TestKeyChangesAnnounced(t *testing.T) {
	var mu sync.Mutex
	var got []DeviceListChange
	e := &keysEnv{syncEnv: newSyncEnvWith(t, func(a *API) {
		a.OnDeviceListChange = func(_ context.Context, c DeviceListChange) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, c)
		}
	})}
	e.aliceDevice = e.do("GET", v3+"/account/whoami", nil, e.aliceToken).str("device_id")
	mu.Lock()
	got = nil // the logins' new devices
	mu.Unlock()
	dk, _ := deviceKeys(t, e.alice, e.aliceDevice)
	for range 2 {
		e.do("POST", v3+"/keys/upload", map[string]any{"device_keys": dk}, e.aliceToken).want(t, 200, "")
	}
	e.do("PUT", v3+"/devices/"+e.aliceDevice, map[string]any{"display_name": "renamed"}, e.aliceToken).want(t, 200, "")
	e.api.forgetDevices(t.Context(), e.alice, []string{e.aliceDevice})
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 || got[0].DeviceID != e.aliceDevice || got[0].Deleted || got[1].DeviceID != e.aliceDevice || got[1].Pos <= got[0].Pos ||
		!got[2].Deleted || got[2].Pos <= got[1].Pos {
		t.Fatalf("announced %+v", got)
	}
	if !slices.ContainsFunc(got, func(c DeviceListChange) bool { return c.UserID == e.alice }) {
		t.Errorf("announced %+v", got)
	}
}

// TestKeysForServer: another server gets local users' device keys only,
// and the device list of a user.
func TestKeysForServer(t *testing.T) {
	e := newKeysEnv(t)
	dk, _ := deviceKeys(t, e.alice, e.aliceDevice)
	e.do("POST", v3+"/keys/upload", map[string]any{"device_keys": dk}, e.aliceToken).want(t, 200, "")
	got, err := e.api.KeysForServer(t.Context(), map[string][]string{e.alice: nil, "@x:remote.example": nil})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.DeviceKeys) != 1 || got.DeviceKeys[e.alice][e.aliceDevice] == nil {
		t.Fatalf("device keys %v", got.DeviceKeys)
	}
	devices, _, _, err := e.api.DevicesForServer(t.Context(), e.alice)
	if err != nil || len(devices) != 1 || devices[0].DeviceID != e.aliceDevice {
		t.Fatalf("DevicesForServer: %+v %v", devices, err)
	}
}

// halfAnsweringRemote knows some users' keys without asking (a cache)
// but cannot reach their server.
type halfAnsweringRemote struct {
	RemoteE2EE
	known map[string]map[string]json.RawMessage
}

func (h halfAnsweringRemote) QueryKeys(_ context.Context, server string, users map[string][]string) (RemoteKeys, error) {
	out := RemoteKeys{DeviceKeys: map[string]map[string]json.RawMessage{}}
	for u := range users {
		if ks, ok := h.known[u]; ok {
			out.DeviceKeys[u] = ks
		}
	}
	return out, errors.New(server + " is unreachable")
}

// TestQueryKeysServesCachedKeysOfAnUnreachableServer: the server goes
// to failures, and the users whose keys were known are answered anyway.
func TestQueryKeysServesCachedKeysOfAnUnreachableServer(t *testing.T) {
	const cached, uncached = "@carol:remote.example", "@dave:remote.example"
	remote := halfAnsweringRemote{known: map[string]map[string]json.RawMessage{
		cached: {"C1": json.RawMessage(`{"user_id":"@carol:remote.example","device_id":"C1","keys":{"ed25519:C1":"k"}}`)},
	}}
	e := &keysEnv{syncEnv: newSyncEnvWith(t, func(a *API) { a.RemoteE2EE = remote })}
	r := e.do("POST", v3+"/keys/query", map[string]any{"device_keys": map[string]any{cached: []string{}, uncached: []string{}}}, e.aliceToken)
	r.want(t, 200, "")
	failures, _ := r.body["failures"].(map[string]any)
	keys, _ := r.body["device_keys"].(map[string]any)
	if _, ok := failures["remote.example"]; !ok || len(failures) != 1 {
		t.Errorf("failures = %v, want remote.example", failures)
	}
	if c, _ := keys[cached].(map[string]any); c["C1"] == nil || keys[uncached] != nil {
		t.Errorf("device_keys = %v, want %s's cached device only", keys, cached)
	}
}

// announcements records what reaches OnDeviceListChange.
type announcements struct {
	mu  sync.Mutex
	got []DeviceListChange
}

func (a *announcements) hook(_ context.Context, c DeviceListChange) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, c)
}

// take returns and forgets what was announced, as "device" or "-device".
func (a *announcements) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, c := range a.got {
		if c.Deleted {
			out = append(out, "-"+c.DeviceID)
		} else {
			out = append(out, c.DeviceID)
		}
	}
	a.got = nil
	slices.Sort(out)
	return out
}

// TestDeviceListChangesWithoutKeys: devices that never upload keys are
// announced when they are added and removed (the server-server API
// requires an update for new and deleted devices), by login, deletion,
// a password change that logs out the others, and deactivation; asking
// to delete a device that does not exist announces nothing.
func TestDeviceListChangesWithoutKeys(t *testing.T) {
	var ann announcements
	e := newSyncEnvWith(t, func(a *API) { a.OnDeviceListChange = ann.hook })
	ann.take()
	login := e.login("alice", "pw-alice-1", nil)
	second := login.str("device_id")
	if got := ann.take(); !slices.Equal(got, []string{second}) {
		t.Fatalf("login announced %v, want [%s]", got, second)
	}
	first := e.do("POST", v3+"/delete_devices", map[string]any{"devices": []string{second, "NOSUCH"}}, e.aliceToken).want(t, 401, "")
	e.do("POST", v3+"/delete_devices", map[string]any{
		"devices": []string{second, "NOSUCH"}, "auth": passwordAuth(first.str("session"), "alice", "pw-alice-1"),
	}, e.aliceToken).want(t, 200, "")
	if got := ann.take(); !slices.Equal(got, []string{"-" + second}) {
		t.Fatalf("delete_devices announced %v, want [-%s]", got, second)
	}
	third := e.login("alice", "pw-alice-1", nil).str("device_id")
	ann.take()
	keep := e.do("GET", v3+"/account/whoami", nil, e.aliceToken).str("device_id")
	first = e.do("POST", v3+"/account/password", map[string]any{"new_password": "pw-alice-2"}, e.aliceToken).want(t, 401, "")
	e.do("POST", v3+"/account/password", map[string]any{
		"new_password": "pw-alice-2", "auth": passwordAuth(first.str("session"), "alice", "pw-alice-1"),
	}, e.aliceToken).want(t, 200, "")
	if got := ann.take(); !slices.Equal(got, []string{"-" + third}) {
		t.Fatalf("password change announced %v, want [-%s]", got, third)
	}
	first = e.do("POST", v3+"/account/deactivate", map[string]any{}, e.aliceToken).want(t, 401, "")
	e.do("POST", v3+"/account/deactivate", map[string]any{
		"auth": passwordAuth(first.str("session"), "alice", "pw-alice-2"),
	}, e.aliceToken).want(t, 200, "")
	if got := ann.take(); !slices.Equal(got, []string{"-" + keep}) {
		t.Fatalf("deactivation announced %v, want [-%s]", got, keep)
	}
}

// masterKeyRemote answers key queries with a remote user's master key,
// or fails while down.
type masterKeyRemote struct {
	RemoteE2EE
	user   string
	master json.RawMessage
	down   bool
}

func (m *masterKeyRemote) QueryKeys(_ context.Context, server string, users map[string][]string) (RemoteKeys, error) {
	if m.down {
		return RemoteKeys{}, errors.New(server + " is unreachable")
	}
	out := RemoteKeys{MasterKeys: map[string]json.RawMessage{}}
	if _, ok := users[m.user]; ok {
		out.MasterKeys[m.user] = m.master
	}
	return out, nil
}

// TestSigningARemoteUsersMasterKey: a local user's user-signing key signs
// another server's user's master key (fetched through federation); the
// signature is shown to the signer only, on the key as the remote server
// serves it, and never to other servers.
func TestSigningARemoteUsersMasterKey(t *testing.T) {
	const carol = "@carol:remote.example"
	carolMaster, carolPub, carolPriv := crossKey(carol, "master")
	carolMaster = signed(t, carolMaster, carol, "ed25519:CDEV", carolPriv) // a signature of her own
	// Fixed now: signing below adds to carolMaster's signatures map.
	remote := &masterKeyRemote{user: carol, master: mustJSON(t, carolMaster)}
	e := &keysEnv{syncEnv: newSyncEnvWith(t, func(a *API) { a.RemoteE2EE = remote })}
	master, masterPub, masterPriv := crossKey(e.alice, "master")
	usk, uskPub, uskPriv := crossKey(e.alice, "user_signing")
	usk = signed(t, usk, e.alice, "ed25519:"+masterPub, masterPriv)
	e.do("POST", v3+"/keys/device_signing/upload", map[string]any{"master_key": master, "user_signing_key": usk}, e.aliceToken).want(t, 200, "")

	other, _, _ := crossKey(carol, "master")
	upload := map[string]any{carol: map[string]any{
		carolPub:  signed(t, carolMaster, e.alice, "ed25519:"+uskPub, uskPriv),
		"NOTHERS": signed(t, other, e.alice, "ed25519:"+uskPub, uskPriv),
	}}
	r := e.do("POST", v3+"/keys/signatures/upload", upload, e.aliceToken).want(t, 200, "")
	fails, _ := r.body["failures"].(map[string]any)[carol].(map[string]any)
	if len(fails) != 1 || fails["NOTHERS"] == nil {
		t.Fatalf("failures %v, want NOTHERS only", r.body["failures"])
	}
	forged := map[string]any{carol: map[string]any{carolPub: signed(t, carolMaster, e.alice, "ed25519:"+uskPub, masterPriv)}}
	r = e.do("POST", v3+"/keys/signatures/upload", forged, e.aliceToken).want(t, 200, "")
	if f, _ := r.body["failures"].(map[string]any)[carol].(map[string]any)[carolPub].(map[string]any); f["errcode"] != "M_INVALID_SIGNATURE" {
		t.Errorf("forged signature: %v", r.body)
	}

	sigsSeenBy := func(token string) map[string]any {
		t.Helper()
		q := e.do("POST", v3+"/keys/query", map[string]any{"device_keys": map[string]any{carol: []string{}}}, token).want(t, 200, "")
		m, _ := q.body["master_keys"].(map[string]any)[carol].(map[string]any)
		sigs, _ := m["signatures"].(map[string]any)
		return sigs
	}
	if sigs := sigsSeenBy(e.aliceToken); sigs[e.alice] == nil || sigs[carol] == nil {
		t.Errorf("alice sees signatures %v, want hers and carol's", sigs)
	}
	if sigs := sigsSeenBy(e.bobToken); sigs[e.alice] != nil || sigs[carol] == nil {
		t.Errorf("bob sees signatures %v, want carol's only", sigs)
	}
	// Other servers asking about alice see no trace of whom she signed.
	got, err := e.api.KeysForServer(t.Context(), map[string][]string{e.alice: nil})
	if err != nil || strings.Contains(string(got.MasterKeys[e.alice]), uskPub) {
		t.Errorf("KeysForServer: %s %v", got.MasterKeys[e.alice], err)
	}
	remote.down = true
	r = e.do("POST", v3+"/keys/signatures/upload", upload, e.aliceToken).want(t, 200, "")
	if f, _ := r.body["failures"].(map[string]any)[carol].(map[string]any); f[carolPub] == nil {
		t.Errorf("an unreachable server's key was signed: %v", r.body)
	}
}
