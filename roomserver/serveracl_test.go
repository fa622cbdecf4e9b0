package roomserver

import "testing"

func TestServerACLAllows(t *testing.T) {
	cases := []struct {
		name    string
		content string
		server  string
		want    bool
	}{
		{"allow all", `{"allow":["*"]}`, "a.example", true},
		{"missing allow denies all", `{"deny":[]}`, "a.example", false},
		{"empty content denies all", `{}`, "a.example", false},
		{"allow not a list denies all", `{"allow":"*"}`, "a.example", false},
		{"deny wins over allow", `{"allow":["*"],"deny":["evil.example"]}`, "evil.example", false},
		{"deny glob", `{"allow":["*"],"deny":["*.evil.example"]}`, "sub.evil.example", false},
		{"deny glob does not match the apex", `{"allow":["*"],"deny":["*.evil.example"]}`, "evil.example", true},
		{"port ignored on the server", `{"allow":["*"],"deny":["evil.example"]}`, "evil.example:8448", false},
		{"port ignored in allow", `{"allow":["good.example"]}`, "good.example:1234", true},
		{"not allowed", `{"allow":["good.example"]}`, "other.example", false},
		{"question mark is one character", `{"allow":["a?.example"]}`, "ab.example", true},
		{"question mark is not zero characters", `{"allow":["a?.example"]}`, "a.example", false},
		{"case-insensitive", `{"allow":["*.Example.ORG"]}`, "Matrix.example.org", true},
		{"ipv4 literal denied", `{"allow":["*"],"allow_ip_literals":false}`, "1.2.3.4", false},
		{"ipv4 literal with port denied", `{"allow":["*"],"allow_ip_literals":false}`, "1.2.3.4:8448", false},
		{"ipv6 literal denied", `{"allow":["*"],"allow_ip_literals":false}`, "[::1]:8448", false},
		{"ip literals allowed by default", `{"allow":["*"]}`, "1.2.3.4", true},
		{"allow_ip_literals not a boolean means true", `{"allow":["*"],"allow_ip_literals":"no"}`, "1.2.3.4", true},
		{"a name is no ip literal", `{"allow":["*"],"allow_ip_literals":false}`, "1-2-3-4.example", true},
		{"non-string entries ignored", `{"allow":[1,null,"ok.example"]}`, "ok.example", true},
		{"invalid server name denied", `{"allow":["*"]}`, "bad name", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ServerACLAllows([]byte(c.content), c.server); got != c.want {
				t.Fatalf("ServerACLAllows(%s, %q) = %v, want %v", c.content, c.server, got, c.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"a*b", "ab", true},
		{"a*b", "axxb", true},
		{"a*b", "axxbc", false},
		{"*a*b*", "xxaxxbxx", true},
		{"?", "", false},
		{"??", "ab", true},
		{"a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"ü?", "üx", true},
		{"[ab]", "a", false}, // no character classes: brackets are literal
		{"[ab]", "[ab]", true},
	}
	for _, c := range cases {
		if got := GlobMatch(c.pattern, c.s); got != c.want {
			t.Errorf("GlobMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
