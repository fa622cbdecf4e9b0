package mxcore

import (
	"bytes"
	"errors"

	"github.com/tidwall/gjson"
)

// Small helpers for reading and rewriting JSON objects without
// unmarshalling them. Keys are matched by their decoded value: lookups
// escape everything gjson's path syntax gives meaning to ('.', '*', '?',
// '#', '@', '|' and more), all of which can occur in server names and key
// IDs that remote servers choose.

var errNotObject = errors.New("JSON value is not an object")

// parseObject parses JSON whose top-level value must be an object. Leading
// whitespace is trimmed first, so the Index of each member gjson reports
// is an offset into the returned bytes.
func parseObject(js []byte) (gjson.Result, []byte, error) {
	js = bytes.TrimLeft(js, " \t\r\n")
	if len(js) == 0 || js[0] != '{' {
		return gjson.Result{}, nil, errNotObject
	}
	return gjson.ParseBytes(js), js, nil
}

// field returns the member of object obj whose decoded key is key; nothing
// if obj is not an object. It goes through gjson's path lookup, which skips
// other members without decoding them, with every ASCII punctuation byte
// of key escaped so that none of it is read as path syntax.
func field(obj gjson.Result, key string) gjson.Result {
	if !obj.IsObject() {
		return gjson.Result{}
	}
	if key == "" { // no gjson path names the empty key
		var found gjson.Result
		obj.ForEach(func(k, v gjson.Result) bool {
			if k.Str == "" {
				found = v
				return false
			}
			return true
		})
		return found
	}
	return obj.Get(literalPath(key))
}

// literalPath turns a key into a gjson path that matches exactly it.
func literalPath(key string) string {
	plain := true
	for i := 0; i < len(key) && plain; i++ {
		plain = !needsPathEscape(key[i])
	}
	if plain {
		return key
	}
	path := make([]byte, 0, 2*len(key))
	for i := 0; i < len(key); i++ {
		if needsPathEscape(key[i]) {
			path = append(path, '\\')
		}
		path = append(path, key[i])
	}
	return string(path)
}

func needsPathEscape(b byte) bool {
	return b < 0x80 && !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || isDigit(b) || b == '_')
}

// setMember returns the object js with its top-level member key replaced by
// (or, if absent, extended with) key: value. value must be JSON.
func setMember(js []byte, key string, value []byte) ([]byte, error) {
	obj, _, err := parseObject(js)
	if err != nil {
		return nil, err
	}
	out := copyMembersExcept(obj, key)
	out = appendRawMember(out, jsonString(key), string(value))
	return append(out, '}'), nil
}

// copyMembersExcept starts a new object (without its closing brace) with
// every member of obj but key; obj may be missing.
func copyMembersExcept(obj gjson.Result, key string) []byte {
	out := []byte{'{'}
	obj.ForEach(func(k, v gjson.Result) bool {
		if k.Str != key {
			out = appendRawMember(out, k.Raw, v.Raw)
		}
		return true
	})
	return out
}

// jsonString encodes s as a JSON string.
func jsonString(s string) string { return string(AppendJSONString(nil, s)) }

// appendRawMember appends "key":value to an object being built in out,
// with a comma unless it is the first member.
func appendRawMember(out []byte, rawKey, rawValue string) []byte {
	if out[len(out)-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, rawKey...)
	out = append(out, ':')
	return append(out, rawValue...)
}

// topLevelField looks up one member of a JSON object without copying the
// whole document (gjson.GetBytes reads the bytes in place). Nothing is
// found if js is not an object.
func topLevelField(js []byte, key string) gjson.Result {
	js = bytes.TrimLeft(js, " \t\r\n")
	if len(js) == 0 || js[0] != '{' || key == "" {
		root, _, _ := parseObject(js)
		return field(root, key)
	}
	return gjson.GetBytes(js, literalPath(key))
}
