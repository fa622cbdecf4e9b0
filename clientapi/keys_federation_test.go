package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
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
