package mxcore

import (
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
)

// redactOracle is a second, independent implementation of the redaction
// algorithm, written the obvious way (walk the event with gjson, copy what
// is kept), that tests hold Redact to. Its output is not canonical, and it
// only needs the kept parts of the event to be free of duplicate keys.
func redactOracle(eventJSON []byte, ver RoomVersion) ([]byte, error) {
	rules, ok := contentKeysKept[ver.Redact]
	if !ok {
		return nil, fmt.Errorf("redact: unknown room version %q", ver.ID)
	}
	if !gjson.ValidBytes(eventJSON) {
		return nil, errors.New("redact: invalid JSON")
	}
	event, _, err := parseObject(eventJSON)
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	out := make([]byte, 0, len(eventJSON))
	out = append(out, '{')
	seen := make(map[string]bool, 16)
	var eventType, content gjson.Result
	event.ForEach(func(k, v gjson.Result) bool {
		if !oracleKeeps(k.Str, ver) {
			return true
		}
		if seen[k.Str] {
			err = fmt.Errorf("redact: duplicate key %q", k.Str)
			return false
		}
		seen[k.Str] = true
		switch k.Str {
		case "content":
			content = v
		case "type":
			eventType = v
			fallthrough
		default:
			out = appendRawMember(out, k.Raw, v.Raw)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	out = appendRawMember(out, `"content"`, "")
	out = oracleContent(out, eventType, content, ver, rules)
	return append(out, '}'), nil
}

func oracleKeeps(key string, ver RoomVersion) bool {
	if redactionKeepsTopLevel[key] {
		return true
	}
	return ver.Redact < RedactionV11 && redactionKeepsBeforeV11[key]
}

// oracleContent writes the kept part of content, always an object.
func oracleContent(out []byte, eventType, content gjson.Result, ver RoomVersion, rules map[string][]string) []byte {
	if !content.IsObject() || eventType.Type != gjson.String {
		return append(out, '{', '}')
	}
	typ := eventType.Str
	if ver.Redact >= RedactionV11 && typ == "m.room.create" {
		return append(out, content.Raw...) // v11: the create event keeps everything
	}
	kept := rules[typ]
	v11Member := ver.Redact >= RedactionV11 && typ == "m.room.member"
	out = append(out, '{')
	content.ForEach(func(k, v gjson.Result) bool {
		switch {
		case oracleContains(kept, k.Str):
			out = appendRawMember(out, k.Raw, v.Raw)
		case v11Member && k.Str == "third_party_invite" && v.IsObject():
			out = appendRawMember(out, k.Raw, "")
			out = oracleOnlySigned(out, v)
		}
		return true
	})
	return append(out, '}')
}

// oracleOnlySigned writes the third_party_invite object of a v11+ member
// event reduced to its "signed" key, which the auth rules check. An
// invite without one becomes an empty object.
func oracleOnlySigned(out []byte, invite gjson.Result) []byte {
	out = append(out, '{')
	if signed := field(invite, "signed"); signed.Exists() {
		out = appendRawMember(out, `"signed"`, signed.Raw)
	}
	return append(out, '}')
}

func oracleContains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}
