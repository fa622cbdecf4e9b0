package mxcore

import (
	"fmt"

	"github.com/tidwall/gjson"
)

// The redaction algorithm (room version specs, "Redactions"): keep only
// the top-level keys that give an event its place in the room, and only
// the content keys the auth rules read. Signatures and event IDs are
// computed over the redacted form, so a redacted copy still verifies.

// redactionKeepsTopLevel lists the top-level keys every redaction
// algorithm keeps.
var redactionKeepsTopLevel = map[string]bool{
	"event_id": true, "type": true, "room_id": true, "sender": true,
	"state_key": true, "content": true, "hashes": true, "signatures": true,
	"depth": true, "prev_events": true, "auth_events": true,
	"origin_server_ts": true,
}

// redactionKeepsBeforeV11 lists the top-level keys only the algorithms
// before room version 11 keep.
var redactionKeepsBeforeV11 = map[string]bool{"origin": true, "membership": true, "prev_state": true}

// contentKeysKept maps event type to the content keys redaction keeps, per
// algorithm. Types not listed lose all their content.
var contentKeysKept = map[RedactionRules]map[string][]string{
	RedactionV1: {
		"m.room.member":             {"membership"},
		"m.room.create":             {"creator"},
		"m.room.join_rules":         {"join_rule"},
		"m.room.power_levels":       powerLevelKeysBeforeV11,
		"m.room.aliases":            {"aliases"},
		"m.room.history_visibility": {"history_visibility"},
	},
	RedactionV6: { // v6 drops m.room.aliases
		"m.room.member":             {"membership"},
		"m.room.create":             {"creator"},
		"m.room.join_rules":         {"join_rule"},
		"m.room.power_levels":       powerLevelKeysBeforeV11,
		"m.room.history_visibility": {"history_visibility"},
	},
	RedactionV9: { // v9 keeps what restricted joins need
		"m.room.member":             {"membership", "join_authorised_via_users_server"},
		"m.room.create":             {"creator"},
		"m.room.join_rules":         {"join_rule", "allow"},
		"m.room.power_levels":       powerLevelKeysBeforeV11,
		"m.room.history_visibility": {"history_visibility"},
	},
	RedactionV11: { // create (all keys) and the member's third_party_invite are special-cased
		"m.room.member":             {"membership", "join_authorised_via_users_server"},
		"m.room.join_rules":         {"join_rule", "allow"},
		"m.room.power_levels":       append([]string{"invite"}, powerLevelKeysBeforeV11...),
		"m.room.history_visibility": {"history_visibility"},
		"m.room.redaction":          {"redacts"},
	},
}

var powerLevelKeysBeforeV11 = []string{
	"ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default",
}

// Redact returns the redacted form of an event under the room version's
// redaction algorithm, as canonical JSON (with the number rules of the
// room version). The result always has a "content" object and no
// "unsigned": callers that serve redacted events to clients add their own
// unsigned data. The whole event must be valid JSON without duplicate
// keys, including the parts redaction removes.
func Redact(eventJSON []byte, ver RoomVersion) ([]byte, error) {
	filter, err := redactionFilterFor(eventJSON, ver)
	if err != nil {
		return nil, err
	}
	opts := canonOptionsFor(ver)
	opts.redaction = filter
	redacted, err := canonicalJSON(eventJSON, opts)
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	if redacted[0] != '{' {
		return nil, fmt.Errorf("redact: %w", errNotObject)
	}
	return redacted, nil
}

// Redacting while canonicalising. Reference hashes and event signatures
// cover the canonical JSON of the redacted event; the canonicaliser
// produces it in one pass by dropping keys as it reads them. The result
// equals CanonicalJSON(Redact(event)) (a test holds the two together),
// except that keys redaction drops are validated too.

// redactionFilter holds the redaction rules for one event.
type redactionFilter struct {
	active         bool
	ver            RoomVersion
	contentKeys    []string // content keys kept for the event's type
	keepAllContent bool     // v11+ m.room.create
	signedOnly     bool     // v11+ m.room.member: third_party_invite keeps only "signed"
}

// newRedactionFilter returns the filter for an event of eventType, which
// is nil when the event's type is missing or not a string (its content is
// then emptied).
func newRedactionFilter(ver RoomVersion, eventType *string) (redactionFilter, error) {
	rules, ok := contentKeysKept[ver.Redact]
	if !ok {
		return redactionFilter{}, fmt.Errorf("redact: unknown room version %q", ver.ID)
	}
	f := redactionFilter{active: true, ver: ver}
	if eventType != nil {
		v11 := ver.Redact >= RedactionV11
		f.contentKeys = rules[*eventType]
		f.keepAllContent = v11 && *eventType == "m.room.create"
		f.signedOnly = v11 && *eventType == "m.room.member"
	}
	return f, nil
}

// redactionFilterFor reads the event's type to pick its filter.
func redactionFilterFor(eventJSON []byte, ver RoomVersion) (redactionFilter, error) {
	typ := topLevelField(eventJSON, "type")
	if typ.Type != gjson.String {
		return newRedactionFilter(ver, nil)
	}
	return newRedactionFilter(ver, &typ.Str)
}

// objectScope says which object of an event the canonicaliser is in, for
// the key filters of canonOptions.
type objectScope uint8

const (
	scopeOther   objectScope = iota
	scopeTop                 // the top-level object
	scopeContent             // the event's content, under redaction
	scopeInvite              // content.third_party_invite of a v11+ member event, under redaction
)

// dropsKey reports whether a member of an object in scope is left out.
func (c *canonicaliser) dropsKey(scope objectScope, key []byte) bool {
	f := &c.opts.redaction
	switch scope {
	case scopeTop:
		for _, k := range c.opts.skipTop {
			if string(key) == k {
				return true
			}
		}
		return f.active && !redactionKeepsTopLevel[string(key)] &&
			!(f.ver.Redact < RedactionV11 && redactionKeepsBeforeV11[string(key)])
	case scopeContent:
		return !f.keepAllContent && !containsBytes(f.contentKeys, key) &&
			!(f.signedOnly && string(key) == "third_party_invite")
	case scopeInvite:
		return string(key) != "signed"
	}
	return false
}

// scopeUnder is the scope of an object that is the value of key in scope.
func (c *canonicaliser) scopeUnder(scope objectScope, key []byte) objectScope {
	f := &c.opts.redaction
	switch {
	case !f.active:
		return scopeOther
	case scope == scopeTop && string(key) == "content" && !f.keepAllContent:
		return scopeContent
	case scope == scopeContent && f.signedOnly && string(key) == "third_party_invite":
		return scopeInvite
	}
	return scopeOther
}

// redactValue handles kept members whose value is not an object where
// redaction expects one: content becomes {}, and a v11+ member's
// third_party_invite is dropped. It reports whether to drop the member.
func (c *canonicaliser) redactValue(scope objectScope, key []byte, valueStart int) bool {
	if !c.opts.redaction.active || c.out[valueStart] == '{' {
		return false
	}
	switch {
	case scope == scopeTop && string(key) == "content":
		c.out = append(c.out[:valueStart], '{', '}')
	case scope == scopeContent && c.opts.redaction.signedOnly && string(key) == "third_party_invite":
		return true
	}
	return false
}

// addContentIfMissing gives a redacted event without content an empty
// one, as Redact does.
func (c *canonicaliser) addContentIfMissing(base, bodyStart int) {
	for i := base; i < len(c.members); i++ {
		if !c.members[i].skipped && string(c.key(&c.members[i])) == "content" {
			return
		}
	}
	if len(c.out) > bodyStart {
		c.out = append(c.out, ',')
	}
	m := member{start: len(c.out), keyStart: len(c.out) + 1}
	c.out = append(c.out, `"content"`...)
	m.keyEnd = len(c.out) - 1
	c.out = append(c.out, ":{}"...)
	m.end = len(c.out)
	c.members = append(c.members, m)
}

func containsBytes(list []string, b []byte) bool {
	for _, s := range list {
		if s == string(b) {
			return true
		}
	}
	return false
}
