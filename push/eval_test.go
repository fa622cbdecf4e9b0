package push

import (
	"encoding/json"
	"testing"
)

const me = "@me:example.org"

func msg(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	ev := map[string]any{"type": "m.room.message", "sender": "@other:example.org", "room_id": "!r:example.org",
		"content": map[string]any{"msgtype": "m.text", "body": "hello there"}}
	for k, v := range fields {
		ev[k] = v
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func group(members int, senderPower int64) Room {
	return Room{UserID: me, MemberCount: members, SenderPower: senderPower,
		NotificationPower: func(string) int64 { return 50 }}
}

func TestEvaluateDefaultRules(t *testing.T) {
	cases := []struct {
		name       string
		event      map[string]any
		room       Room
		wantRule   string
		wantNotify bool
		wantHigh   bool
	}{
		{"plain message in a group", nil, group(5, 0), ".m.rule.message", true, false},
		{"message in a one-to-one room", nil, group(2, 0), ".m.rule.room_one_to_one", true, false},
		{"notice is suppressed", map[string]any{"content": map[string]any{"msgtype": "m.notice", "body": "bot"}}, group(5, 0), ".m.rule.suppress_notices", false, false},
		{"user mention highlights", map[string]any{"content": map[string]any{"body": "hi", "m.mentions": map[string]any{"user_ids": []string{me}}}}, group(5, 0), ".m.rule.is_user_mention", true, true},
		{"mention of someone else", map[string]any{"content": map[string]any{"body": "hi", "m.mentions": map[string]any{"user_ids": []string{"@x:y"}}}}, group(5, 0), ".m.rule.message", true, false},
		{"@room by a moderator", map[string]any{"content": map[string]any{"body": "all", "m.mentions": map[string]any{"room": true}}}, group(5, 50), ".m.rule.is_room_mention", true, true},
		{"@room by a nobody", map[string]any{"content": map[string]any{"body": "all", "m.mentions": map[string]any{"room": true}}}, group(5, 0), ".m.rule.message", true, false},
		{"@room as a string is not true", map[string]any{"content": map[string]any{"body": "all", "m.mentions": map[string]any{"room": "true"}}}, group(5, 100), ".m.rule.message", true, false},
		{"reaction", map[string]any{"type": "m.reaction", "content": map[string]any{}}, group(5, 0), ".m.rule.reaction", false, false},
		{"edit", map[string]any{"content": map[string]any{"body": "* x", "m.relates_to": map[string]any{"rel_type": "m.replace", "event_id": "$a"}}}, group(5, 0), ".m.rule.suppress_edits", false, false},
		{"invite for me", map[string]any{"type": "m.room.member", "state_key": me, "content": map[string]any{"membership": "invite"}}, group(5, 0), ".m.rule.invite_for_me", true, false},
		{"invite for another", map[string]any{"type": "m.room.member", "state_key": "@x:y", "content": map[string]any{"membership": "invite"}}, group(5, 0), ".m.rule.member_event", false, false},
		{"tombstone", map[string]any{"type": "m.room.tombstone", "state_key": "", "content": map[string]any{"body": "moved"}}, group(5, 0), ".m.rule.tombstone", true, true},
		{"encrypted one-to-one", map[string]any{"type": "m.room.encrypted", "content": map[string]any{}}, group(2, 0), ".m.rule.encrypted_room_one_to_one", true, false},
		{"encrypted group", map[string]any{"type": "m.room.encrypted", "content": map[string]any{}}, group(3, 0), ".m.rule.encrypted", true, false},
		{"call invite", map[string]any{"type": "m.call.invite", "content": map[string]any{}}, group(3, 0), ".m.rule.call", true, false},
		{"unknown event type", map[string]any{"type": "org.example.x", "content": map[string]any{}}, group(3, 0), "", false, false},
	}
	rs := Defaults(me)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, matched := Evaluate(&rs, msg(t, c.event), c.room)
			if out.RuleID != c.wantRule || matched != (c.wantRule != "") {
				t.Fatalf("rule %q (matched %v), want %q", out.RuleID, matched, c.wantRule)
			}
			if out.Notify != c.wantNotify || out.Highlight != c.wantHigh {
				t.Errorf("notify %v highlight %v, want %v %v", out.Notify, out.Highlight, c.wantNotify, c.wantHigh)
			}
		})
	}
}

func TestMasterRuleSilencesEverything(t *testing.T) {
	rs := Defaults(me)
	if err := rs.SetEnabled(KindOverride, ".m.rule.master", true); err != nil {
		t.Fatal(err)
	}
	out, matched := Evaluate(&rs, msg(t, nil), group(2, 0))
	if !matched || out.Notify || out.RuleID != ".m.rule.master" {
		t.Errorf("got %+v", out)
	}
}

func TestGlobMatching(t *testing.T) {
	cases := []struct {
		pattern, value string
		words, want    bool
	}{
		{"lunc?*", "Lunch plans", false, true},
		{"lunc?*", "LUNCH", false, true},
		{"lunc?*", " lunch", false, false},
		{"lunc?*", "lunc", false, false},
		{"ex*ple", "An example event.", true, true},
		{"ex*ple", "exple", true, true},
		{"ex*ple", "An exciting triple-whammy", true, true},
		{"cake", "I like cake!", true, true},
		{"cake", "I like cakes", true, false},
		{"cake", "cupcake", true, false},
		{"a.b", "axb", false, false},
		{"", "", false, true},
	}
	for _, c := range cases {
		if got := globMatch(c.pattern, c.value, c.words); got != c.want {
			t.Errorf("%q ~ %q (words %v) = %v", c.pattern, c.value, c.words, got)
		}
	}
}

func TestConditions(t *testing.T) {
	str := func(s string) *string { return &s }
	ev := msg(t, map[string]any{"type": "m.room.create", "state_key": "", "content": map[string]any{
		"m.federate": true, "alt_aliases": []any{"#a:x", "#myroom:example.com", 3}, "count": 7, "nothing": nil}})
	cases := []struct {
		name string
		c    Condition
		want bool
	}{
		{"property is true", Condition{Kind: "event_property_is", Key: `content.m\.federate`, Value: json.RawMessage(`true`)}, true},
		{"property is not the string true", Condition{Kind: "event_property_is", Key: `content.m\.federate`, Value: json.RawMessage(`"true"`)}, false},
		{"property is not 1", Condition{Kind: "event_property_is", Key: `content.m\.federate`, Value: json.RawMessage(`1`)}, false},
		{"integer equal", Condition{Kind: "event_property_is", Key: "content.count", Value: json.RawMessage(`7`)}, true},
		{"null equal", Condition{Kind: "event_property_is", Key: "content.nothing", Value: json.RawMessage(`null`)}, true},
		{"absent key", Condition{Kind: "event_property_is", Key: "content.missing", Value: json.RawMessage(`null`)}, false},
		{"contains", Condition{Kind: "event_property_contains", Key: "content.alt_aliases", Value: json.RawMessage(`"#myroom:example.com"`)}, true},
		{"contains integer", Condition{Kind: "event_property_contains", Key: "content.alt_aliases", Value: json.RawMessage(`3`)}, true},
		{"partial value does not contain", Condition{Kind: "event_property_contains", Key: "content.alt_aliases", Value: json.RawMessage(`":example.com"`)}, false},
		{"contains on a non-array", Condition{Kind: "event_property_contains", Key: "content.count", Value: json.RawMessage(`7`)}, false},
		{"event_match on a non-string", Condition{Kind: "event_match", Key: "content.count", Pattern: str("*")}, false},
		{"event_match state_key empty", Condition{Kind: "event_match", Key: "state_key", Pattern: str("")}, true},
		{"unknown condition never holds", Condition{Kind: "org.example.magic"}, false},
		{"member count <=", Condition{Kind: "room_member_count", Is: "<=10"}, true},
		{"member count >", Condition{Kind: "room_member_count", Is: ">5"}, false},
		{"member count bare", Condition{Kind: "room_member_count", Is: "5"}, true},
		{"member count garbage", Condition{Kind: "room_member_count", Is: "many"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := conditionHolds(c.c, NewEvent(string(ev)), group(5, 0)); got != c.want {
				t.Errorf("got %v", got)
			}
		})
	}
}

func TestSplitPath(t *testing.T) {
	cases := map[string][]string{
		"content.body":                 {"content", "body"},
		`content.m\.mentions.user_ids`: {"content", "m.mentions", "user_ids"},
		`a\\.b`:                        {`a\`, "b"},
		`a\b`:                          {`a\b`},
	}
	for in, want := range cases {
		got := splitPath(in)
		if len(got) != len(want) {
			t.Errorf("%q: %q", in, got)
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%q: %q", in, got)
			}
		}
	}
}
