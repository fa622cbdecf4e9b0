package roomserver

import (
	"testing"

	"github.com/tidwall/gjson"
)

// authField must match keys literally, exactly as a walk over the object
// does, whatever gjson's path syntax makes of the characters.
func TestAuthFieldIsLiteral(t *testing.T) {
	keys := []string{
		"", "a", "@bob:b.test", "m.room.name", "a*b", "a?b", "#", "@this", "a|b", "a\\b", "a\"b",
		"0", "1", "日本", "@bob:b.test:8448", "..", "a.b.c", "!", "a b", "@reverse", "a\\.b", "\u0000",
	}
	for _, k := range keys {
		q := authMustJSON(k)
		obj := `{"x":1,` + q + `:{"v":` + q + `},"y":2}`
		if !gjson.Valid(obj) {
			t.Fatalf("bad fixture %s", obj)
		}
		if got := authField(gjson.Parse(obj), k).Get("v").Str; got != k {
			t.Errorf("authField(%q) = %q", k, got)
		}
	}
	// JSON escapes in the document's keys are decoded before matching.
	if authField(gjson.Parse(`{"\u0040bob:b.test":5}`), "@bob:b.test").Int() != 5 {
		t.Error("escaped key not matched")
	}
	if authField(gjson.Parse(`{"a":1,"a":2}`), "a").Int() != 1 {
		t.Error("first duplicate not chosen")
	}
	if authField(gjson.Parse(`[7]`), "0").Exists() || authField(gjson.Parse(`"s"`), "s").Exists() {
		t.Error("non-object yielded a field")
	}
	for _, k := range []string{"a.b", "*", "a"} {
		if authField(gjson.Parse(`{"a":{"b":1},"x":2}`), k).Raw != authFieldScan(gjson.Parse(`{"a":{"b":1},"x":2}`), k).Raw {
			t.Errorf("authField(%q) differs from a walk", k)
		}
	}
}

func TestUserIDAndServerName(t *testing.T) {
	good := []string{"@a:b", "@bob:b.test", "@bob:b.test:8448", "@bob:1.2.3.4", "@bob:[::1]:80", "@Bob!:b.test", "@:b.test"}
	bad := []string{"", "@", "bob:b.test", "@bob", "@bob:", "@bob:b_test", "@bob:b.test:", "@bob:b.test:123456",
		"@bob:[::1", "@bob:[zz]", "@bo\x00b:b.test", "@bob:b.test:80:80", "@" + string(make([]byte, 255)) + ":b"}
	for _, u := range good {
		if !authValidUserID(u) {
			t.Errorf("%q rejected", u)
		}
	}
	for _, u := range bad {
		if authValidUserID(u) {
			t.Errorf("%q accepted", u)
		}
	}
}

func FuzzAuthField(f *testing.F) {
	f.Add(`{"a.b":1,"a":{"b":2}}`, "a.b")
	f.Add(`{"@x":1}`, "@x")
	f.Fuzz(func(t *testing.T, doc, key string) {
		if !gjson.Valid(doc) {
			return
		}
		obj := gjson.Parse(doc)
		if got, want := authField(obj, key), authFieldScan(obj, key); obj.IsObject() && got.Raw != want.Raw {
			t.Fatalf("authField(%s, %q) = %q, walk gives %q", doc, key, got.Raw, want.Raw)
		}
	})
}
