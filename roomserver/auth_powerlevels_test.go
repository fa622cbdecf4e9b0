package roomserver

import (
	"testing"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// plBy is an m.room.power_levels event by sender with the room's levels
// changed by edit.
func plBy(sender string, edit func(pl map[string]any)) evSpec {
	return evSpec{typ: mRoomPowerLevels, stateKey: sptr(""), sender: sender, contentV: plEdit(edit)}
}

func plRaw(sender, content string) evSpec {
	return stateEv(mRoomPowerLevels, "", sender, content)
}

func TestAuthorizePowerLevelsShape(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "unchanged", event: plBy(uMod, nil)},
		{name: "users not an object", event: plBy(uAdmin, func(pl map[string]any) { pl["users"] = []any{} }), want: RulePowerLevelsUsers},
		{name: "users null", event: plBy(uAdmin, func(pl map[string]any) { pl["users"] = nil }), want: RulePowerLevelsUsers},
		// Without users every entry is removed: alice's 100 blocks admin until v12.
		{name: "users absent", to: 11, event: plBy(uAdmin, func(pl map[string]any) { delete(pl, "users") }), want: RulePowerLevelsUser},
		{name: "users absent v12", from: 12, event: plBy(uAdmin, func(pl map[string]any) { delete(pl, "users") })},
		{name: "users key not a user ID", event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)["bob"] = 0 }), want: RulePowerLevelsUsers},
		{name: "users key without sigil", event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)["bob:b.test"] = 0 }), want: RulePowerLevelsUsers},
		{name: "users key bad server", event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)["@bob:b_test"] = 0 }), want: RulePowerLevelsUsers},
		{name: "users key historical localpart", event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)["@Bob!:b.test:8448"] = 0 })},
		{name: "users value text", event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uBob] = "ten" }), want: RulePowerLevelsUsers},
		{name: "users value boolean", event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uBob] = true }), want: RulePowerLevelsUsers},
		// Stringy levels (v1–9) and floaty levels (v1–5).
		{name: "users value integer string", to: 9, event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uBob] = " +010 " })},
		{name: "users value integer string v10+", from: 10, event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uBob] = "10" }), want: RulePowerLevelsUsers},
		{name: "users value float", to: 5, event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uBob] = 10.5 })},
		{name: "users value float v6+", from: 6, event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uBob] = 10.5 }), want: RulePowerLevelsUsers},
		{name: "named level string", to: 9, event: plBy(uAdmin, func(pl map[string]any) { pl["ban"] = "50" })},
		{name: "named level string v10+", from: 10, event: plBy(uAdmin, func(pl map[string]any) { pl["ban"] = "50" }), want: RulePowerLevelsNotInteger},
		{name: "named level float v10+", from: 10, event: plRaw(uAdmin, `{"users":{"@admin:a.test":100},"kick":50.0}`), want: RulePowerLevelsNotInteger},
		{name: "events value string", to: 9, event: plBy(uAdmin, func(pl map[string]any) { eventsOf(pl)["m.room.name"] = "50" })},
		{name: "events value string v10+", from: 10, event: plBy(uAdmin, func(pl map[string]any) { eventsOf(pl)["m.room.name"] = "50" }), want: RulePowerLevelsBadMap},
		{name: "events not an object v10+", from: 10, event: plBy(uAdmin, func(pl map[string]any) { pl["events"] = []any{50} }), want: RulePowerLevelsBadMap},
		{name: "notifications value string v10+", from: 10, event: plBy(uAdmin, func(pl map[string]any) { pl["notifications"] = map[string]any{"room": "50"} }), want: RulePowerLevelsBadMap},
		{name: "creator listed v12", from: 12, event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uAlice] = 100 }), want: RulePowerLevelsCreator},
		{name: "creator listed unchanged before v12", to: 11, event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uAlice] = 100 })},
		{name: "additional creator listed v12", from: 12, createExtra: map[string]any{"additional_creators": []any{uCarol}},
			event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uCarol] = 0 }), want: RulePowerLevelsCreator},
		{name: "first power levels by creator", drop: []StateKeyTuple{keyPowerLevels},
			event: plRaw(uAlice, `{"users":{"@bob:b.test":100},"ban":1000,"events":{"m.room.name":1000}}`)},
		{name: "first power levels need state default", drop: []StateKeyTuple{keyPowerLevels},
			event: plRaw(uBob, `{"users":{"@bob:b.test":100}}`), want: RuleEventPower},
	})
}

func TestAuthorizePowerLevelsChanges(t *testing.T) {
	withMod2 := powerLevels(func(pl map[string]any) { usersOf(pl)["@mod2:b.test"] = 50 })
	runAuthCases(t, []authCase{
		// Named levels (10.3 / 9.5 / 10.6).
		{name: "lower kick within own level", event: plBy(uMod, func(pl map[string]any) { pl["kick"] = 40 })},
		{name: "raise ban above own level", event: plBy(uMod, func(pl map[string]any) { pl["ban"] = 60 }), want: RulePowerLevelsLevel},
		{name: "unknown top-level key ignored", event: plBy(uMod, func(pl map[string]any) { pl["historical"] = 100 })},
		{name: "add level above own", state: []evSpec{powerLevels(func(pl map[string]any) { delete(pl, "invite") })},
			event: plBy(uMod, func(pl map[string]any) { pl["invite"] = 60 }), want: RulePowerLevelsLevel},
		{name: "add level within own", state: []evSpec{powerLevels(func(pl map[string]any) { delete(pl, "invite") })},
			event: plBy(uMod, func(pl map[string]any) { pl["invite"] = 50 })},
		{name: "remove level within own", event: plBy(uMod, func(pl map[string]any) { delete(pl, "events_default") })},
		{name: "change level that was above own", state: []evSpec{powerLevels(func(pl map[string]any) { pl["redact"] = 70 })},
			event: plBy(uMod, func(pl map[string]any) { pl["redact"] = 40 }), want: RulePowerLevelsLevel},
		{name: "remove level that was above own", state: []evSpec{powerLevels(func(pl map[string]any) { pl["redact"] = 70 })},
			event: plBy(uMod, func(pl map[string]any) { delete(pl, "redact") }), want: RulePowerLevelsLevel},
		{name: "same level as string is no change", to: 9, state: []evSpec{powerLevels(func(pl map[string]any) { pl["redact"] = 70 })},
			event: plBy(uMod, func(pl map[string]any) { pl["redact"] = "70" })},
		{name: "unreadable new level", to: 9, event: plBy(uMod, func(pl map[string]any) { pl["kick"] = "lots" }), want: RulePowerLevelsLevel},
		// events (10.4–10.5).
		{name: "add event level within own", event: plBy(uMod, func(pl map[string]any) { eventsOf(pl)["m.room.topic"] = 50 })},
		{name: "add event level above own", event: plBy(uMod, func(pl map[string]any) { eventsOf(pl)["m.room.topic"] = 51 }), want: RulePowerLevelsEvents},
		{name: "change event level that was above own", event: plBy(uMod, func(pl map[string]any) { eventsOf(pl)["m.room.tombstone"] = 50 }), want: RulePowerLevelsEvents},
		{name: "remove event level that was above own", event: plBy(uMod, func(pl map[string]any) { delete(eventsOf(pl), "m.room.tombstone") }), want: RulePowerLevelsEvents},
		{name: "admin removes event level", event: plBy(uAdmin, func(pl map[string]any) { delete(eventsOf(pl), "m.room.tombstone") })},
		// notifications joins the check in v6.
		{name: "raise notifications above own v1-5", to: 5, event: plBy(uMod, func(pl map[string]any) { pl["notifications"] = map[string]any{"room": 100} })},
		{name: "raise notifications above own v6+", from: 6, event: plBy(uMod, func(pl map[string]any) { pl["notifications"] = map[string]any{"room": 100} }), want: RulePowerLevelsEvents},
		{name: "lower notifications within own", event: plBy(uMod, func(pl map[string]any) { pl["notifications"] = map[string]any{"room": 40} })},
		// users (10.6–10.7).
		{name: "raise user to own level", event: plBy(uMod, func(pl map[string]any) { usersOf(pl)[uBob] = 50 })},
		{name: "raise user above own level", event: plBy(uMod, func(pl map[string]any) { usersOf(pl)[uBob] = 51 }), want: RulePowerLevelsUser},
		{name: "demote higher user", event: plBy(uMod, func(pl map[string]any) { usersOf(pl)[uAdmin] = 0 }), want: RulePowerLevelsUser},
		{name: "demote equal user", state: []evSpec{withMod2}, event: plBy(uMod, func(pl map[string]any) { usersOf(pl)["@mod2:b.test"] = 0 }), want: RulePowerLevelsUser},
		{name: "remove equal user", state: []evSpec{withMod2}, event: plBy(uMod, func(pl map[string]any) {}), want: RulePowerLevelsUser},
		{name: "admin demotes mod", event: plBy(uAdmin, func(pl map[string]any) { usersOf(pl)[uMod] = 0 })},
		{name: "demote self", event: plBy(uMod, func(pl map[string]any) { usersOf(pl)[uMod] = 10 })},
		{name: "raise self", event: plBy(uMod, func(pl map[string]any) { usersOf(pl)[uMod] = 60 }), want: RulePowerLevelsUser},
		// v12 creators have infinite power.
		{name: "creator sets any level v12", from: 12, event: plBy(uAlice, func(pl map[string]any) { pl["ban"] = 1 << 52; usersOf(pl)[uAdmin] = 1 << 52 })},
		{name: "creator limited before v12", to: 11, event: plBy(uAlice, func(pl map[string]any) { pl["ban"] = 1000 }), want: RulePowerLevelsLevel},
	})
}

// The string and float forms of levels already in the room state.
func TestAuthorizeReadsStoredLevelsPerVersion(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "string ban level honoured v1-9", to: 9, state: []evSpec{plRaw(uAlice, `{"users":{"@mod:b.test":50},"ban":"75"}`)},
			event: memberEv(uMod, uBob, "ban", ""), want: RuleBanPower},
		{name: "string ban level unreadable v10+, default 50", from: 10, state: []evSpec{plRaw(uAlice, `{"users":{"@mod:b.test":50},"ban":"75"}`)},
			event: memberEv(uMod, uBob, "ban", "")},
		{name: "float user level v1-5", to: 5, state: []evSpec{plRaw(uAlice, `{"users":{"@bob:b.test":50.9},"events":{"m.room.name":50}}`)},
			event: stateEv("m.room.name", "", uBob, `{}`)},
		{name: "float user level unreadable v6+", from: 6, state: []evSpec{plRaw(uAlice, `{"users":{"@bob:b.test":50.9},"events":{"m.room.name":50}}`)},
			event: stateEv("m.room.name", "", uBob, `{}`), want: RuleEventPower},
		{name: "users_default applies", state: []evSpec{plRaw(uAlice, `{"users_default":50}`)}, event: stateEv("m.room.topic", "", uBob, `{}`)},
	})
}

func TestParseLevel(t *testing.T) {
	v1, _ := mxcore.GetRoomVersion("1")
	v6, _ := mxcore.GetRoomVersion("6")
	v10, _ := mxcore.GetRoomVersion("10")
	cases := []struct {
		json string
		rv   mxcore.RoomVersion
		want int64
		ok   bool
	}{
		{`100`, v10, 100, true},
		{`-100`, v10, -100, true},
		{`"100"`, v10, 0, false},
		{`"100"`, v6, 100, true},
		{`"000100"`, v6, 100, true},
		{`"+100"`, v6, 100, true},
		{`" -100 "`, v6, -100, true},
		{`"\t 00100\n"`, v6, 100, true},
		{`"1.5"`, v6, 0, false},
		{`"+-1"`, v6, 0, false},
		{`"1 0"`, v6, 0, false},
		{`""`, v6, 0, false},
		{`"-"`, v6, 0, false},
		{`"99999999999999999999"`, v6, 0, false},
		{`50.57`, v1, 50, true},
		{`5.114698E4`, v1, 51146, true},
		{`-1.9`, v1, -1, true},
		{`1e400`, v1, 0, false},
		{`50.57`, v6, 0, false},
		{`1e2`, v10, 0, false},
		{`true`, v1, 0, false},
		{`null`, v1, 0, false},
		{`{}`, v1, 0, false},
	}
	for _, tc := range cases {
		got, ok := plParse(gjson.Parse(tc.json), tc.rv)
		if got != tc.want || ok != tc.ok {
			t.Errorf("plParse(%s, v%s) = %d, %v; want %d, %v", tc.json, tc.rv.ID, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPowerLevelHelpers(t *testing.T) {
	for v := 1; v <= 12; v++ {
		r := newTestRoom(t, v, map[string]any{"additional_creators": []any{uCarol}})
		wantAlice := int64(100)
		if v >= 12 {
			wantAlice = InfinitePowerLevel
		}
		expect := func(name string, got, want int64) {
			t.Helper()
			if got != want {
				t.Errorf("v%d %s = %d, want %d", v, name, got, want)
			}
		}
		expect("alice", PowerLevelOf(uAlice, r.state), wantAlice)
		expect("mod", PowerLevelOf(uMod, r.state), 50)
		expect("bob", PowerLevelOf(uBob, r.state), 0)
		expect("name level", RequiredPowerLevel("m.room.name", true, r.state), 50)
		expect("topic level", RequiredPowerLevel("m.room.topic", true, r.state), 50)
		expect("message level", RequiredPowerLevel("m.room.message", false, r.state), 0)
		expect("redact", ActionPowerLevel(PowerRedact, r.state), 50)

		delete(r.state, keyPowerLevels)
		expect("alice, no PL", PowerLevelOf(uAlice, r.state), wantAlice)
		expect("mod, no PL", PowerLevelOf(uMod, r.state), 0)
		expect("state, no PL", RequiredPowerLevel("m.room.topic", true, r.state), 50)
		expect("message, no PL", RequiredPowerLevel("m.room.message", false, r.state), 0)
		expect("invite, no PL", ActionPowerLevel(PowerInvite, r.state), 0)
		expect("kick, no PL", ActionPowerLevel(PowerKick, r.state), 50)
		expect("ban, no PL", ActionPowerLevel(PowerBan, r.state), 50)
		wantCarol := int64(0)
		if v >= 12 {
			wantCarol = InfinitePowerLevel
		}
		expect("additional creator", PowerLevelOf(uCarol, r.state), wantCarol)
	}
	if got := PowerLevelOf(uBob, testState{}); got != 0 {
		t.Errorf("empty state: %d", got)
	}
}
