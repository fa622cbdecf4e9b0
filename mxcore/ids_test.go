package mxcore

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseServerName(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
	}{
		// The spec's examples of valid server names.
		{"matrix.org", "matrix.org", 0},
		{"matrix.org:8888", "matrix.org", 8888},
		{"1.2.3.4", "1.2.3.4", 0},
		{"1.2.3.4:1234", "1.2.3.4", 1234},
		{"[1234:5678::abcd]", "[1234:5678::abcd]", 0},
		{"[1234:5678::abcd]:5678", "[1234:5678::abcd]", 5678},
		// More.
		{"localhost", "localhost", 0},
		{"Example.COM", "Example.COM", 0},
		{"a-b.c", "a-b.c", 0},
		{"x:1", "x", 1},
		{"x:65535", "x", 65535},
		{"x:08448", "x", 8448},
		{"123", "123", 0},
		{"1.2.3", "1.2.3", 0},
		{"1.2.3.4.5", "1.2.3.4.5", 0},
		{"255.255.255.255", "255.255.255.255", 0},
		{"[::1]", "[::1]", 0},
		{"[::ffff:1.2.3.4]:80", "[::ffff:1.2.3.4]", 80},
		{"[ABCD::EF]", "[ABCD::EF]", 0},
		{strings.Repeat("a", 255), strings.Repeat("a", 255), 0},
	}
	for _, tc := range tests {
		host, port, err := ParseServerName(tc.in)
		if err != nil || host != tc.host || port != tc.port {
			t.Errorf("ParseServerName(%q) = %q, %d, %v; want %q, %d", tc.in, host, port, err, tc.host, tc.port)
		}
	}
}

func TestParseServerNameRejects(t *testing.T) {
	for _, in := range []string{
		"", ":8448", "example.com:", "example.com:0", "example.com:65536", "example.com:123456",
		"example.com:12a", "example.com:-1", "example.com:+80", "exa mple.com", "exa_mple.com",
		"ex\u00e4mple.com", "example.com/", "a:b:c",
		"1.2.3.256", "999.1.1.1",
		"[::1", "[::1]x", "[::1]:", "[]", "[:]", "[1.2.3.4]", "[fe80::1%eth0]", "[::g]", "[1:2:3:4:5:6:7:8:9]",
		"::1", strings.Repeat("a", 256),
	} {
		if host, port, err := ParseServerName(in); err == nil {
			t.Errorf("ParseServerName(%q) = %q, %d; want an error", in, host, port)
		}
	}
}

func TestParseUserID(t *testing.T) {
	tests := []struct {
		in                string
		localpart, server string
		compliant         bool
	}{
		{"@alice:example.org", "alice", "example.org", true},
		{"@a.b_c=d-e/f+g:example.org:8448", "a.b_c=d-e/f+g", "example.org:8448", true},
		{"@bob:[::1]:80", "bob", "[::1]:80", true},
		// Historical IDs, which servers must accept in events.
		{"@Alice:example.org", "Alice", "example.org", true},
		{"@:example.org", "", "example.org", false},
		{"@ünïcode:example.org", "ünïcode", "example.org", false},
		{"@with space:example.org", "with space", "example.org", false},
		{"@ctl\x01:example.org", "ctl\x01", "example.org", false},
		{"@" + strings.Repeat("a", 255-len("@:x")) + ":x", strings.Repeat("a", 255-len("@:x")), "x", true},
	}
	for _, tc := range tests {
		u, err := ParseUserID(tc.in)
		if err != nil || u.Localpart != tc.localpart || u.Server != tc.server {
			t.Errorf("ParseUserID(%q) = %+v, %v", tc.in, u, err)
			continue
		}
		if u.String() != tc.in {
			t.Errorf("String() = %q, want %q", u.String(), tc.in)
		}
		if u.Compliant() != tc.compliant {
			t.Errorf("%q: Compliant() = %v", tc.in, u.Compliant())
		}
	}
	for _, in := range []string{
		"", "@", "alice:example.org", "#alice:example.org", "@alice", "@alice:", "@alice:bad_server",
		"@nul\x00:example.org", "@bad\xff:example.org", "@" + strings.Repeat("a", 256-len("@:x")) + ":x",
	} {
		if u, err := ParseUserID(in); err == nil {
			t.Errorf("ParseUserID(%q) = %+v; want an error", in, u)
		}
	}
}

func TestValidLocalpart(t *testing.T) {
	tests := []struct {
		in             string
		strict, legacy bool
	}{
		{"alice", true, true},
		{"a.b_c=d-e/f+g09", true, true},
		{"", false, true},
		{"Alice", false, true},
		{"ünï", false, true},
		{"a b", false, true},
		{"a*b", false, true},
		{"a:b", false, false},
		{"a\x00b", false, false},
		{"a\xffb", false, false},
	}
	for _, tc := range tests {
		if got := ValidLocalpart(tc.in, true); got != tc.strict {
			t.Errorf("ValidLocalpart(%q, strict) = %v", tc.in, got)
		}
		if got := ValidLocalpart(tc.in, false); got != tc.legacy {
			t.Errorf("ValidLocalpart(%q, historical) = %v", tc.in, got)
		}
	}
}

func TestParseRoomAndEventIDs(t *testing.T) {
	rooms := []struct{ in, opaque, server string }{
		{"!abc:example.org", "abc", "example.org"},
		{"!abc:example.org:8448", "abc", "example.org:8448"},
		{"!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ", "Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ", ""},
	}
	for _, tc := range rooms {
		r, err := ParseRoomID(tc.in)
		if err != nil || r.Opaque != tc.opaque || r.Server != tc.server || r.String() != tc.in {
			t.Errorf("ParseRoomID(%q) = %+v, %v", tc.in, r, err)
		}
	}
	events := []struct{ in, opaque, server string }{
		{"$a4ecee13e2accdadf56c1025:example.com", "a4ecee13e2accdadf56c1025", "example.com"},
		{"$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk", "acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk", ""},
		{"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", "Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", ""},
	}
	for _, tc := range events {
		e, err := ParseEventID(tc.in)
		if err != nil || e.Opaque != tc.opaque || e.Server != tc.server || e.String() != tc.in {
			t.Errorf("ParseEventID(%q) = %+v, %v", tc.in, e, err)
		}
	}
	for _, in := range []string{"", "!", "$abc", "!:example.org", "!abc:", "!abc:bad server", "!a\x00b", "#abc:x", "!" + strings.Repeat("a", 255)} {
		if r, err := ParseRoomID(in); err == nil {
			t.Errorf("ParseRoomID(%q) = %+v; want an error", in, r)
		}
	}
	for _, in := range []string{"", "$", "!abc", "$:x", "$a:", "$a\xff", "$" + strings.Repeat("a", 255)} {
		if e, err := ParseEventID(in); err == nil {
			t.Errorf("ParseEventID(%q) = %+v; want an error", in, e)
		}
	}
}

func TestParseRoomAlias(t *testing.T) {
	a, err := ParseRoomAlias("#room:example.org")
	if err != nil || a.Alias != "room" || a.Server != "example.org" || a.String() != "#room:example.org" {
		t.Errorf("ParseRoomAlias = %+v, %v", a, err)
	}
	if a, err := ParseRoomAlias("#Ünïcode room:example.org"); err != nil || a.Alias != "Ünïcode room" {
		t.Errorf("ParseRoomAlias(unicode) = %+v, %v", a, err)
	}
	for _, in := range []string{"", "#", "#:example.org", "#room", "room:example.org", "#a\x00:x", "#room:bad server", "#" + strings.Repeat("a", 253) + ":x"} {
		if a, err := ParseRoomAlias(in); err == nil {
			t.Errorf("ParseRoomAlias(%q) = %+v; want an error", in, a)
		}
	}
}

func FuzzParseServerName(f *testing.F) {
	for _, s := range []string{"matrix.org", "matrix.org:8888", "1.2.3.4:1234", "[1234:5678::abcd]:5678", "[::1", "x:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := ParseServerName(s)
		if err != nil {
			return
		}
		rebuilt := host
		if port != 0 {
			rebuilt += ":" + strconv.Itoa(port)
		}
		host2, port2, err := ParseServerName(rebuilt)
		if err != nil || host2 != host || port2 != port {
			t.Fatalf("%q -> %q, %d -> %q -> %q, %d, %v", s, host, port, rebuilt, host2, port2, err)
		}
		if port < 0 || port > 65535 || !strings.HasPrefix(s, host) {
			t.Fatalf("%q gave host %q port %d", s, host, port)
		}
	})
}

func FuzzParseUserID(f *testing.F) {
	for _, s := range []string{"@alice:example.org", "@:x", "@a:[::1]:80", "@ü:x:1", "@a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUserID(s)
		if err != nil {
			return
		}
		if u.String() != s {
			t.Fatalf("%q round-trips to %q", s, u.String())
		}
		again, err := ParseUserID(u.String())
		if err != nil || again != u {
			t.Fatalf("%q re-parses to %+v, %v", s, again, err)
		}
		if ValidLocalpart(u.Localpart, true) && !u.Compliant() {
			t.Fatalf("%q: strict localpart but not compliant", s)
		}
	})
}
