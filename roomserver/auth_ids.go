package roomserver

import (
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// Helpers shared by the auth rules: identifier checks and read-only gjson
// views.

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

// authValidUserID reports whether s is a user ID the auth rules accept: the
// historical grammar servers must accept over federation (mxcore.ParseUserID).
func authValidUserID(s string) bool {
	_, err := mxcore.ParseUserID(s)
	return err == nil
}

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
