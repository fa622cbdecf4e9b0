package mxcore

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`say "hi"\now`, `"say \"hi\"\\now"`},
		{"tab\tnl\ncr\rbs\bff\f", `"tab\tnl\ncr\rbs\bff\f"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"<a&b>", `"<a&b>"`},
		{"héllo ☃ 🐦", `"héllo ☃ 🐦"`},
		{"bad \xff byte", "\"bad \ufffd byte\""},
		{"cut \xe2\x98", "\"cut \ufffd\ufffd\""},
		{"\u2028", "\"\u2028\""},
	}
	for _, c := range cases {
		got := string(AppendJSONString([]byte("x"), c.in))
		if got != "x"+c.want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", c.in, got[1:], c.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got[1:]), &back); err != nil {
			t.Errorf("AppendJSONString(%q) = %s: not JSON: %v", c.in, got[1:], err)
		}
	}
}
