package clientapi

import (
	"encoding/json"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

func mustVersion(t *testing.T, id string) mxcore.RoomVersion {
	t.Helper()
	v, ok := mxcore.GetRoomVersion(id)
	if !ok {
		t.Fatalf("room version %s unknown", id)
	}
	return v
}

func decodeLevels(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParsePowerLevelsNormalisesLevels(t *testing.T) {
	pl := parsePowerLevels([]byte(`{"ban":"60","kick":50,"invite":"x","users":{"@a:x":"100","@b:x":7},
		"events":{"m.room.name":"40"},"notifications":{"room":"20"},"historical":1,"custom":{"k":true}}`))
	got := decodeLevels(t, pl.content())
	want := map[string]any{"ban": 60.0, "kick": 50.0, "historical": 1.0, "custom": map[string]any{"k": true},
		"users": map[string]any{"@a:x": 100.0, "@b:x": 7.0}, "events": map[string]any{"m.room.name": 40.0},
		"notifications": map[string]any{"room": 20.0}}
	if g, w := jsonText(got), jsonText(want); g != w {
		t.Errorf("content\n got %s\nwant %s", g, w)
	}
	if h := pl.highest(); h != 100 {
		t.Errorf("highest %d", h)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestUpgradedPowerLevels(t *testing.T) {
	old := parsePowerLevels([]byte(`{"users":{"@up:x":100,"@mod:x":50,"@boss:x":150},"events":{"m.room.tombstone":100},"state_default":50}`))
	tests := []struct {
		name                string
		oldCreators, newCre []string
		target              string
		bootstrapUp         any // the upgrader's level in bootstrap (nil: absent)
		finalUsers          map[string]any
	}{
		{"v11 to v11: upgrader above all while copying", nil, nil, "11", 151.0,
			map[string]any{"@up:x": 100.0, "@mod:x": 50.0, "@boss:x": 150.0}},
		{"v11 to v12: creators not listed", nil, []string{"@up:x", "@boss:x"}, "12", nil,
			map[string]any{"@mod:x": 50.0}},
		{"v12 to v12: a creator left out keeps 100", []string{"@creator:x", "@up:x"}, []string{"@up:x"}, "12", nil,
			map[string]any{"@mod:x": 50.0, "@boss:x": 150.0, "@creator:x": 100.0}},
		{"v12 to v11: creators get levels", []string{"@creator:x"}, nil, "11", 151.0,
			map[string]any{"@up:x": 100.0, "@mod:x": 50.0, "@boss:x": 150.0, "@creator:x": 100.0}},
	}
	for _, tc := range tests {
		bootstrap, final := upgradedPowerLevels(old, tc.oldCreators, tc.newCre, "@up:x", mustVersion(t, tc.target))
		users := decodeLevels(t, final.content())["users"]
		if jsonText(users) != jsonText(tc.finalUsers) {
			t.Errorf("%s: final users %v, want %v", tc.name, users, tc.finalUsers)
		}
		bu, _ := decodeLevels(t, bootstrap.content())["users"].(map[string]any)
		if bu["@up:x"] != tc.bootstrapUp {
			t.Errorf("%s: bootstrap level of the upgrader %v, want %v", tc.name, bu["@up:x"], tc.bootstrapUp)
		}
	}
	if _, ok := old.users["@creator:x"]; ok {
		t.Error("upgradedPowerLevels changed its input")
	}
}

func TestRestrictedPowerLevels(t *testing.T) {
	tests := []struct {
		in             string
		events, invite float64
	}{
		{`{}`, 50, 50},
		{`{"users_default":60,"events_default":0,"invite":0}`, 61, 61},
		{`{"events_default":80,"invite":10}`, 80, 50},
	}
	for _, tc := range tests {
		got := decodeLevels(t, restrictedPowerLevels(parsePowerLevels([]byte(tc.in))).content())
		if got["events_default"] != tc.events || got["invite"] != tc.invite {
			t.Errorf("%s: events_default %v invite %v", tc.in, got["events_default"], got["invite"])
		}
	}
}

func TestCheckUpgradeRequest(t *testing.T) {
	tests := []struct {
		req     upgradeRequest
		errcode string
	}{
		{upgradeRequest{NewVersion: "12"}, ""},
		{upgradeRequest{NewVersion: "12", AdditionalCreators: []string{"@a:x"}}, ""},
		{upgradeRequest{}, mxcore.ErrMissingParam},
		{upgradeRequest{NewVersion: "99"}, mxcore.ErrUnsupportedRoomVer},
		{upgradeRequest{NewVersion: "12", AdditionalCreators: []string{"nobody"}}, mxcore.ErrInvalidParam},
	}
	for _, tc := range tests {
		_, err := checkUpgradeRequest(tc.req)
		got := ""
		if e, ok := err.(*mxcore.Error); ok {
			got = e.ErrCode
		} else if err != nil {
			got = err.Error()
		}
		if got != tc.errcode {
			t.Errorf("%+v: %q, want %q", tc.req, got, tc.errcode)
		}
	}
}
