package mxcore

import "testing"

// topLevelEvent carries every top-level key any redaction algorithm
// keeps, plus some that none keeps. Content is filled in per test.
func topLevelEvent(eventType, content string) string {
	return `{"event_id":"$e:x","type":"` + eventType + `","room_id":"!r:x","sender":"@s:x","state_key":"",` +
		`"content":` + content + `,"hashes":{"sha256":"h"},"signatures":{"x":{"ed25519:1":"s"}},"depth":1,` +
		`"prev_events":[],"prev_state":[],"auth_events":[],"origin":"x","origin_server_ts":2,"membership":"join",` +
		`"unsigned":{"age":1},"redacts":"$t:x","age_ts":3,"custom":{"a":1}}`
}

// Top-level results: versions 1–10 keep origin, membership and prev_state.
func redactedTopLevel(eventType, content string, beforeV11 bool) string {
	s := `{"event_id":"$e:x","type":"` + eventType + `","room_id":"!r:x","sender":"@s:x","state_key":"",` +
		`"content":` + content + `,"hashes":{"sha256":"h"},"signatures":{"x":{"ed25519:1":"s"}},"depth":1,` +
		`"prev_events":[],"auth_events":[],"origin_server_ts":2`
	if beforeV11 {
		s += `,"prev_state":[],"origin":"x","membership":"join"`
	}
	return s + `}`
}

func TestRedactPerVersion(t *testing.T) {
	const (
		member = `{"membership":"join","displayname":"D","join_authorised_via_users_server":"@a:x",` +
			`"third_party_invite":{"display_name":"d","signed":{"mxid":"@s:x","token":"t","signatures":{}}}}`
		create      = `{"creator":"@s:x","room_version":"1","m.federate":false,"predecessor":{"room_id":"!o:x"}}`
		joinRules   = `{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!a:x"}],"other":1}`
		powerLevels = `{"ban":50,"events":{"m.room.name":100},"events_default":0,"invite":0,"kick":50,"redact":50,` +
			`"state_default":50,"users":{"@s:x":100},"users_default":0,"notifications":{"room":50}}`
		aliases    = `{"aliases":["#a:x"],"other":1}`
		history    = `{"history_visibility":"shared","other":1}`
		redaction  = `{"redacts":"$t:x","reason":"spam"}`
		message    = `{"body":"hello","msgtype":"m.text"}`
		plPre11    = `{"ban":50,"events":{"m.room.name":100},"events_default":0,"kick":50,"redact":50,"state_default":50,"users":{"@s:x":100},"users_default":0}`
		plFrom11   = `{"ban":50,"events":{"m.room.name":100},"events_default":0,"invite":0,"kick":50,"redact":50,"state_default":50,"users":{"@s:x":100},"users_default":0}`
		memberV1   = `{"membership":"join"}`
		memberV9   = `{"membership":"join","join_authorised_via_users_server":"@a:x"}`
		memberV11  = `{"membership":"join","join_authorised_via_users_server":"@a:x","third_party_invite":{"signed":{"mxid":"@s:x","token":"t","signatures":{}}}}`
		joinRuleV1 = `{"join_rule":"restricted"}`
		joinRuleV9 = `{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!a:x"}]}`
	)
	type want map[string]string // room version → redacted content
	tests := []struct {
		eventType, content string
		want               want
	}{
		{"m.room.member", member, want{"1": memberV1, "5": memberV1, "6": memberV1, "8": memberV1, "9": memberV9, "10": memberV9, "11": memberV11, "12": memberV11}},
		{"m.room.create", create, want{"1": `{"creator":"@s:x"}`, "6": `{"creator":"@s:x"}`, "10": `{"creator":"@s:x"}`, "11": create, "12": create}},
		{"m.room.join_rules", joinRules, want{"1": joinRuleV1, "8": joinRuleV1, "9": joinRuleV9, "11": joinRuleV9, "12": joinRuleV9}},
		{"m.room.power_levels", powerLevels, want{"1": plPre11, "6": plPre11, "10": plPre11, "11": plFrom11, "12": plFrom11}},
		{"m.room.aliases", aliases, want{"1": `{"aliases":["#a:x"]}`, "5": `{"aliases":["#a:x"]}`, "6": `{}`, "11": `{}`}},
		{"m.room.history_visibility", history, want{"1": `{"history_visibility":"shared"}`, "11": `{"history_visibility":"shared"}`}},
		{"m.room.redaction", redaction, want{"1": `{}`, "10": `{}`, "11": `{"redacts":"$t:x"}`, "12": `{"redacts":"$t:x"}`}},
		{"m.room.message", message, want{"1": `{}`, "9": `{}`, "12": `{}`}},
	}
	for _, tc := range tests {
		for verID, wantContent := range tc.want {
			ver := mustVersion(t, verID)
			t.Run(tc.eventType+"/v"+verID, func(t *testing.T) {
				got, err := Redact([]byte(topLevelEvent(tc.eventType, tc.content)), ver)
				if err != nil {
					t.Fatal(err)
				}
				assertSameJSON(t, got, redactedTopLevel(tc.eventType, wantContent, ver.Redact < RedactionV11))
			})
		}
	}
}

func TestRedactThirdPartyInviteV11(t *testing.T) {
	v11 := mustVersion(t, "11")
	tests := []struct{ content, want string }{
		{`{"membership":"invite","third_party_invite":{"display_name":"d"}}`, `{"membership":"invite","third_party_invite":{}}`},
		{`{"membership":"invite","third_party_invite":"not an object"}`, `{"membership":"invite"}`},
		{`{"membership":"invite","third_party_invite":{"signed":null}}`, `{"membership":"invite","third_party_invite":{"signed":null}}`},
	}
	for _, tc := range tests {
		got, err := Redact([]byte(`{"type":"m.room.member","content":`+tc.content+`}`), v11)
		if err != nil {
			t.Fatal(err)
		}
		assertSameJSON(t, got, `{"type":"m.room.member","content":`+tc.want+`}`)
	}
}

func TestRedactOddInput(t *testing.T) {
	v1 := mustVersion(t, "1")
	tests := []struct{ name, in, want string }{
		{"no content gets an empty one", `{"type":"m.room.member"}`, `{"type":"m.room.member","content":{}}`},
		{"content not an object", `{"type":"m.room.member","content":[1]}`, `{"type":"m.room.member","content":{}}`},
		{"no type: content emptied", `{"content":{"membership":"join"}}`, `{"content":{}}`},
		{"escaped key names still match", `{"t\u0079pe":"m.room.member","content":{"membership":"join","x":1}}`, `{"type":"m.room.member","content":{"membership":"join"}}`},
		{"redacting twice is a no-op", redactedTopLevel("m.room.member", `{"membership":"join"}`, true), redactedTopLevel("m.room.member", `{"membership":"join"}`, true)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Redact([]byte(tc.in), v1)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, got, tc.want)
		})
	}
	for _, bad := range []string{`[]`, `{`, `"x"`, `{"type":"a","type":"b"}`} {
		if out, err := Redact([]byte(bad), v1); err == nil {
			t.Errorf("Redact(%s) = %s, want an error", bad, out)
		}
	}
	if _, err := Redact([]byte(`{}`), RoomVersion{}); err == nil {
		t.Error("Redact accepted the zero RoomVersion")
	}
}

// oracleCanonical redacts with redactOracle and canonicalises with the
// room version's number rules, leaving out skip at the top level.
func oracleCanonical(event []byte, ver RoomVersion, skip ...string) ([]byte, error) {
	redacted, err := redactOracle(event, ver)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(redacted, canonOptionsFor(ver, skip...))
}

// signedRedactedForm is what event signatures and reference hashes cover.
func signedRedactedForm(event []byte, ver RoomVersion) ([]byte, error) {
	opts, err := redactedCanonOptions(event, ver)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(event, opts)
}

var redactionEquivalenceEvents = []string{
	topLevelEvent("m.room.member", `{"membership":"join","join_authorised_via_users_server":"@a:x","third_party_invite":{"signed":{"a":1},"x":2},"z":1}`),
	topLevelEvent("m.room.member", `{"membership":"join","third_party_invite":"x"}`),
	topLevelEvent("m.room.member", `{"membership":"join","third_party_invite":{"x":{"signed":1}}}`),
	topLevelEvent("m.room.member", `{"membership":"join","x":{"third_party_invite":{"signed":1,"y":2}}}`),
	topLevelEvent("m.room.create", `{"creator":"@s:x","room_version":"11","a":{"b":[{"c":1}]}}`),
	topLevelEvent("m.room.join_rules", `{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"!a:x"}]}`),
	topLevelEvent("m.room.power_levels", `{"ban":50,"invite":0,"users":{"@a:x":100},"other":{"ban":1}}`),
	topLevelEvent("m.room.aliases", `{"aliases":["#a:x"],"other":1}`),
	topLevelEvent("m.room.redaction", `{"redacts":"$t:x","reason":"r"}`),
	topLevelEvent("m.room.message", `{"body":"x","content":{"membership":"join"}}`),
	topLevelEvent("m.room.member", `"not an object"`),
	topLevelEvent("m.room.create", `[1,2]`),
	`{"type":"m.room.member"}`,
	`{"type":5,"content":{"membership":"join"}}`,
	`{}`,
	`{"t\u0079pe":"m.room.member","c\u006fntent":{"m\u0065mbership":"join","x":1},"\u006frigin":"o"}`,
	`{"content":{"membership":"join"},"type":"m.room.member","signatures":{"a":{"b":"c"}},"unsigned":{"age":1}}`,
}

func TestRedactMatchesOracle(t *testing.T) {
	for _, event := range redactionEquivalenceEvents {
		for _, verID := range KnownRoomVersions() {
			ver := mustVersion(t, verID)
			checkRedactMatchesOracle(t, []byte(event), ver, true)
		}
	}
}

// checkRedactMatchesOracle compares Redact and the signed redacted form
// with the oracle. strict says that both must succeed; otherwise only a
// success of the one-pass code is checked (it is stricter: it validates
// what redaction drops too).
func checkRedactMatchesOracle(t *testing.T, event []byte, ver RoomVersion, strict bool) {
	t.Helper()
	got, err := Redact(event, ver)
	if err != nil && !strict {
		return
	}
	want, oracleErr := oracleCanonical(event, ver)
	if err != nil || oracleErr != nil || string(got) != string(want) {
		t.Fatalf("v%s %q:\n   Redact %s (%v)\n   oracle %s (%v)", ver.ID, event, got, err, want, oracleErr)
	}
	got, err = signedRedactedForm(event, ver)
	want, oracleErr = oracleCanonical(event, ver, signedJSONSkips...)
	if err != nil || oracleErr != nil || string(got) != string(want) {
		t.Fatalf("v%s %q signed form:\n     got %s (%v)\n  oracle %s (%v)", ver.ID, event, got, err, want, oracleErr)
	}
}

// FuzzRedact holds Redact and the one-pass redaction used for hashing and
// signing to the oracle.
func FuzzRedact(f *testing.F) {
	for _, event := range redactionEquivalenceEvents {
		f.Add([]byte(event), uint8(0))
		f.Add([]byte(event), uint8(11))
	}
	versions := KnownRoomVersions()
	f.Fuzz(func(t *testing.T, event []byte, version uint8) {
		ver, _ := GetRoomVersion(versions[int(version)%len(versions)])
		checkRedactMatchesOracle(t, event, ver, false)
	})
}
