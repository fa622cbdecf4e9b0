package push

import (
	"encoding/json"
	"errors"
	"testing"
)

func actions(s string) []json.RawMessage {
	var out []json.RawMessage
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		panic(err)
	}
	return out
}

func ids(rules []Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.RuleID
	}
	return out
}

func TestPutOrdersUserRules(t *testing.T) {
	rs := Defaults(me)
	cake, lie := "cake", "cake*lie"
	must(t, rs.Put(KindContent, "a", RuleBody{Actions: actions(`["notify"]`), Pattern: &cake}, "", ""))
	must(t, rs.Put(KindContent, "b", RuleBody{Actions: actions(`["notify"]`), Pattern: &lie}, "a", ""))
	must(t, rs.Put(KindContent, "c", RuleBody{Actions: actions(`[]`), Pattern: &cake}, "", "a"))
	if got := ids(rs.Content); len(got) != 3 || got[0] != "b" || got[1] != "a" || got[2] != "c" {
		t.Errorf("order %v, want [b a c]", got)
	}
	must(t, rs.Put(KindOverride, "mine", RuleBody{Actions: actions(`["notify"]`)}, "", ""))
	if rs.Override[0].RuleID != ".m.rule.master" || rs.Override[1].RuleID != "mine" {
		t.Errorf("a new override goes after master, before the other defaults: %v", ids(rs.Override))
	}
	// Replacing keeps the place and the enabled flag.
	must(t, rs.SetEnabled(KindContent, "a", false))
	must(t, rs.Put(KindContent, "a", RuleBody{Actions: actions(`[]`), Pattern: &lie}, "", ""))
	if r, i := rs.Find(KindContent, "a"); i != 1 || r.Enabled || *r.Pattern != lie {
		t.Errorf("replaced rule %+v at %d", r, i)
	}
}

func TestPutRefusesBadRules(t *testing.T) {
	pat := "x"
	long := string(make([]byte, maxPatternLength+1))
	cases := []struct {
		name, kind, id string
		body           RuleBody
		before         string
	}{
		{"reserved id", KindOverride, ".m.rule.mine", RuleBody{Actions: actions(`[]`)}, ""},
		{"slash", KindOverride, "a/b", RuleBody{Actions: actions(`[]`)}, ""},
		{"no actions", KindOverride, "a", RuleBody{}, ""},
		{"unknown action", KindOverride, "a", RuleBody{Actions: actions(`["explode"]`)}, ""},
		{"bad action object", KindOverride, "a", RuleBody{Actions: actions(`[{"sound":"x"}]`)}, ""},
		{"content without pattern", KindContent, "a", RuleBody{Actions: actions(`[]`)}, ""},
		{"content pattern too long", KindContent, "a", RuleBody{Actions: actions(`[]`), Pattern: &long}, ""},
		{"room rule not a room", KindRoom, "notaroom", RuleBody{Actions: actions(`[]`)}, ""},
		{"sender rule not a user", KindSender, "notauser", RuleBody{Actions: actions(`[]`)}, ""},
		{"unknown kind", "global", "a", RuleBody{Actions: actions(`[]`)}, ""},
		{"before a missing rule", KindContent, "a", RuleBody{Actions: actions(`[]`), Pattern: &pat}, "nope"},
		{"before a default rule", KindOverride, "a", RuleBody{Actions: actions(`[]`)}, ".m.rule.master"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := Defaults(me)
			before := mustJSON(t, rs)
			err := rs.Put(c.kind, c.id, c.body, c.before, "")
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("got %v, want an InvalidError", err)
			}
			if mustJSON(t, rs) != before {
				t.Error("a refused rule changed the ruleset")
			}
		})
	}
}

func TestDeleteAndDefaults(t *testing.T) {
	rs := Defaults(me)
	if err := rs.Delete(KindOverride, ".m.rule.master"); err == nil {
		t.Error("deleted a default rule")
	}
	if err := rs.Delete(KindOverride, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v", err)
	}
	if err := rs.SetActions(KindUnderride, ".m.rule.message", actions(`["dont_notify"]`)); err != nil {
		t.Fatal(err)
	}
	r, _ := rs.Find(KindUnderride, ".m.rule.message")
	if len(r.Actions) != 0 {
		t.Errorf("historical actions must be stripped: %s", r.Actions)
	}
}

func TestMergeKeepsUserRulesAndSettingsAndAddsNewDefaults(t *testing.T) {
	rs := Defaults(me)
	pat := "cake"
	must(t, rs.Put(KindContent, "cake", RuleBody{Actions: actions(`["notify"]`), Pattern: &pat}, "", ""))
	must(t, rs.Put(KindOverride, "mine", RuleBody{Actions: actions(`[]`)}, "", ""))
	must(t, rs.SetEnabled(KindUnderride, ".m.rule.message", false))
	// Drop a default from what is stored, as if it were new in this version.
	rs.Override = rs.Override[:len(rs.Override)-1]
	stored, _ := json.Marshal(Rules{Global: rs})

	merged := Merge(stored, me)
	if _, i := merged.Find(KindOverride, ".m.rule.suppress_edits"); i < 0 {
		t.Error("a default missing from the stored rules was not added")
	}
	if got := ids(merged.Override); got[0] != ".m.rule.master" || got[1] != "mine" {
		t.Errorf("override order %v", got)
	}
	if r, _ := merged.Find(KindUnderride, ".m.rule.message"); r == nil || r.Enabled {
		t.Error("the stored enabled flag of a default was lost")
	}
	if r, _ := merged.Find(KindContent, "cake"); r == nil || *r.Pattern != "cake" {
		t.Error("a user rule was lost")
	}
	if fresh := Merge(nil, me); mustJSON(t, fresh) != mustJSON(t, Defaults(me)) {
		t.Error("no stored rules must give the defaults")
	}
	if garbage := Merge([]byte(`{not json`), me); len(garbage.Underride) != len(Defaults(me).Underride) {
		t.Error("unreadable stored rules must give the defaults")
	}
}

func TestDefaultsNameTheUser(t *testing.T) {
	rs := Defaults(`@we"ird:example.org`)
	r, _ := rs.Find(KindOverride, ".m.rule.invite_for_me")
	if *r.Conditions[2].Pattern != `@we"ird:example.org` {
		t.Errorf("pattern %q", *r.Conditions[2].Pattern)
	}
	raw := mustJSON(t, Rules{Global: rs})
	var back Rules
	if err := json.Unmarshal([]byte(raw), &back); err != nil || len(back.Global.Content) != 0 || back.Global.Content == nil {
		t.Errorf("lists must serialise as [], got %s", raw)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
