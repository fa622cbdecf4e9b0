package roomserver

import (
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Helpers shared by the auth rules: identifier grammar and read-only gjson
// views. They live here, not in mxcore, because mxcore is being written in
// parallel; once it exports identifier validation these should call it.

// authDomain returns the server name of a user, room or (v1–2) event ID: the
// part after the first ':' (localparts cannot contain ':', server names may
// carry a port). It is "" when the ID has no domain.
func authDomain(id string) string {
	i := strings.IndexByte(id, ':')
	if i < 0 {
		return ""
	}
	return id[i+1:]
}

// authValidUserID reports whether s is a user ID the auth rules accept. It
// applies the historical grammar servers must accept over federation: any
// localpart without ':' or NUL, a valid server name, at most 255 bytes.
func authValidUserID(s string) bool {
	if len(s) > 255 || len(s) < 2 || s[0] != '@' {
		return false
	}
	i := strings.IndexByte(s, ':')
	if i < 0 || strings.IndexByte(s[1:i], 0) >= 0 {
		return false
	}
	return authValidServerName(s[i+1:])
}

// authValidServerName checks the server name grammar: hostname [":" port],
// where hostname is an IPv4 literal or DNS name, or a bracketed IPv6 literal.
func authValidServerName(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		host, port = s[:end+1], s[end+1:]
		if !authValidIPv6(host[1 : len(host)-1]) {
			return false
		}
	} else {
		if i := strings.IndexByte(s, ':'); i >= 0 {
			host, port = s[:i], s[i:]
		}
		if !authValidDNSName(host) {
			return false
		}
	}
	return port == "" || authValidPort(port)
}

func authValidIPv6(s string) bool {
	if len(s) < 2 || len(s) > 45 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !authHexDigit(c) && c != ':' && c != '.' {
			return false
		}
	}
	return true
}

// authValidDNSName also admits IPv4 literals, whose characters are a subset.
func authValidDNSName(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !authDigit(c) && !authAlpha(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// authValidPort checks ":" followed by one to five digits.
func authValidPort(p string) bool {
	if len(p) < 2 || len(p) > 6 || p[0] != ':' {
		return false
	}
	for i := 1; i < len(p); i++ {
		if !authDigit(p[i]) {
			return false
		}
	}
	return true
}

func authDigit(c byte) bool    { return c >= '0' && c <= '9' }
func authAlpha(c byte) bool    { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func authHexDigit(c byte) bool { return authDigit(c) || ((c|0x20) >= 'a' && (c|0x20) <= 'f') }

// authJSON gives a gjson view of raw JSON without copying it. The result
// aliases b, so it must not outlive the call that reads it; Event's byte
// slices are read-only by contract.
func authJSON(b []byte) gjson.Result {
	if len(b) == 0 {
		return gjson.Result{}
	}
	return gjson.Parse(unsafe.String(unsafe.SliceData(b), len(b)))
}

// authField returns obj[key] for a JSON object, matching the key exactly
// (the first of duplicate keys). The key is escaped so gjson's path syntax
// ('.', '*', '?', '@', '#', '|' in user IDs and event types) stays literal.
// A non-object yields a missing result, so "0" never indexes an array.
func authField(obj gjson.Result, key string) gjson.Result {
	if !obj.IsObject() {
		return gjson.Result{}
	}
	if key == "" { // an empty path selects nothing in gjson
		return authFieldScan(obj, key)
	}
	return obj.Get(gjson.Escape(key))
}

// authFieldScan finds key by walking the object.
func authFieldScan(obj gjson.Result, key string) gjson.Result {
	var out gjson.Result
	obj.ForEach(func(k, v gjson.Result) bool {
		if k.Str == key {
			out = v
			return false
		}
		return true
	})
	return out
}

// authString returns obj[key] when it is a JSON string.
func authString(obj gjson.Result, key string) (string, bool) {
	v := authField(obj, key)
	if v.Type != gjson.String {
		return "", false
	}
	return v.Str, true
}

// authContent parses an event's content; absent events have no content.
func authContent(ev Event) gjson.Result {
	if ev == nil {
		return gjson.Result{}
	}
	return authJSON(ev.Content())
}
