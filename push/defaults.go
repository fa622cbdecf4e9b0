package push

import (
	"encoding/json"
	"strings"
)

// userIDPlaceholder stands in defaultRulesJSON for the owner's user ID.
const userIDPlaceholder = "@USER_ID_PLACEHOLDER"

// defaultRulesJSON is the spec's server-default rule set (v1.17+: the
// legacy body-matching mention rules are gone), in the spec's order.
const defaultRulesJSON = `{
 "override": [
  {"rule_id": ".m.rule.master", "default": true, "enabled": false, "conditions": [], "actions": []},
  {"rule_id": ".m.rule.suppress_notices", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "content.msgtype", "pattern": "m.notice"}], "actions": []},
  {"rule_id": ".m.rule.invite_for_me", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.member"},
                  {"kind": "event_match", "key": "content.membership", "pattern": "invite"},
                  {"kind": "event_match", "key": "state_key", "pattern": "@USER_ID_PLACEHOLDER"}],
   "actions": ["notify", {"set_tweak": "sound", "value": "default"}]},
  {"rule_id": ".m.rule.member_event", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.member"}], "actions": []},
  {"rule_id": ".m.rule.is_user_mention", "default": true, "enabled": true,
   "conditions": [{"kind": "event_property_contains", "key": "content.m\\.mentions.user_ids", "value": "@USER_ID_PLACEHOLDER"}],
   "actions": ["notify", {"set_tweak": "sound", "value": "default"}, {"set_tweak": "highlight"}]},
  {"rule_id": ".m.rule.is_room_mention", "default": true, "enabled": true,
   "conditions": [{"kind": "event_property_is", "key": "content.m\\.mentions.room", "value": true},
                  {"kind": "sender_notification_permission", "key": "room"}],
   "actions": ["notify", {"set_tweak": "highlight"}]},
  {"rule_id": ".m.rule.tombstone", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.tombstone"},
                  {"kind": "event_match", "key": "state_key", "pattern": ""}],
   "actions": ["notify", {"set_tweak": "highlight"}]},
  {"rule_id": ".m.rule.reaction", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.reaction"}], "actions": []},
  {"rule_id": ".m.rule.room.server_acl", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.server_acl"},
                  {"kind": "event_match", "key": "state_key", "pattern": ""}], "actions": []},
  {"rule_id": ".m.rule.suppress_edits", "default": true, "enabled": true,
   "conditions": [{"kind": "event_property_is", "key": "content.m\\.relates_to.rel_type", "value": "m.replace"}], "actions": []}
 ],
 "content": [],
 "room": [],
 "sender": [],
 "underride": [
  {"rule_id": ".m.rule.call", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.call.invite"}],
   "actions": ["notify", {"set_tweak": "sound", "value": "ring"}]},
  {"rule_id": ".m.rule.encrypted_room_one_to_one", "default": true, "enabled": true,
   "conditions": [{"kind": "room_member_count", "is": "2"}, {"kind": "event_match", "key": "type", "pattern": "m.room.encrypted"}],
   "actions": ["notify", {"set_tweak": "sound", "value": "default"}]},
  {"rule_id": ".m.rule.room_one_to_one", "default": true, "enabled": true,
   "conditions": [{"kind": "room_member_count", "is": "2"}, {"kind": "event_match", "key": "type", "pattern": "m.room.message"}],
   "actions": ["notify", {"set_tweak": "sound", "value": "default"}]},
  {"rule_id": ".m.rule.message", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.message"}], "actions": ["notify"]},
  {"rule_id": ".m.rule.encrypted", "default": true, "enabled": true,
   "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.room.encrypted"}], "actions": ["notify"]}
 ]
}`

// Defaults returns the server-default rules for userID.
func Defaults(userID string) Ruleset {
	quoted, _ := json.Marshal(userID)
	raw := strings.ReplaceAll(defaultRulesJSON, `"`+userIDPlaceholder+`"`, string(quoted))
	var rs Ruleset
	if err := json.Unmarshal([]byte(raw), &rs); err != nil {
		panic("push: default rules do not parse: " + err.Error())
	}
	rs.normalise()
	return rs
}

// Merge returns the user's effective rules: stored (the content of their
// m.push_rules, nil if none) with every server-default rule present.
// Server-default rules rank below the user's own rules of the same kind,
// except .m.rule.master, which ranks above all (spec: "Predefined
// Rules"); a default takes the enabled flag and actions stored for it. A
// default missing from stored (new in this server version) is added.
func Merge(stored []byte, userID string) Ruleset {
	defaults := Defaults(userID)
	var saved Rules
	if len(stored) > 0 && json.Unmarshal(stored, &saved) != nil {
		saved = Rules{} // unreadable stored rules: start from the defaults
	}
	out := Ruleset{}
	for _, kind := range Kinds {
		*out.List(kind) = mergeKind(*saved.Global.List(kind), *defaults.List(kind))
	}
	out.normalise()
	return out
}

// mergeKind orders one kind: the master rule, the user's rules in their
// stored order, then the other defaults in the spec's order.
func mergeKind(stored, defaults []Rule) []Rule {
	settings := map[string]Rule{}
	var user []Rule
	for _, r := range stored {
		if strings.HasPrefix(r.RuleID, ".") {
			settings[r.RuleID] = r
		} else {
			r.Default = false
			user = append(user, r)
		}
	}
	out := make([]Rule, 0, len(user)+len(defaults))
	rest := make([]Rule, 0, len(defaults))
	for _, d := range defaults {
		if s, ok := settings[d.RuleID]; ok {
			d.Enabled, d.Actions = s.Enabled, s.Actions
		}
		if d.RuleID == ".m.rule.master" {
			out = append(out, d)
		} else {
			rest = append(rest, d)
		}
	}
	out = append(out, user...)
	return append(out, rest...)
}
