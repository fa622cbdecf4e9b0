package mxcore

import (
	"encoding/json"
	"testing"

	"github.com/tidwall/gjson"
)

// TestFieldTakesKeysLiterally checks that keys full of gjson path syntax
// (server names, key IDs, anything a remote server sends) match exactly.
func TestFieldTakesKeysLiterally(t *testing.T) {
	keys := []string{
		"plain", "ed25519:1", "example.org", "[::1]:8448", "a*b", "a?b", "#", "#(a==b)", "@this", "@reverse",
		"a|b", `a\b`, `a\.b`, "é", `a"b`, "!x", "a=b", "a b", "..", "a.b.c", "~", "{a}", "a,b", "\n", "a\x00b", "",
	}
	obj := make(map[string]int, len(keys))
	for i, k := range keys {
		obj[k] = i
	}
	js, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	root := gjson.ParseBytes(js)
	for i, k := range keys {
		if got := field(root, k); !got.Exists() || got.Int() != int64(i) {
			t.Errorf("field(%q) = %q, want %d", k, got.Raw, i)
		}
	}
	if got := field(gjson.Parse(`{"a":{"b":1}}`), "a.b"); got.Exists() {
		t.Errorf(`field("a.b") reached into a nested object: %s`, got.Raw)
	}
	if got := field(gjson.Parse(`{"\u0061b":1}`), "ab"); got.Int() != 1 {
		t.Error("escaped key in the JSON did not match")
	}
	if got := field(gjson.Parse(`["x"]`), ""); got.Exists() {
		t.Error("field found a member in an array")
	}
}
