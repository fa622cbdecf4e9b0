package push

import "encoding/json"

// Kinds in the order rules are checked (spec: "Push Rules").
const (
	KindOverride  = "override"
	KindContent   = "content"
	KindRoom      = "room"
	KindSender    = "sender"
	KindUnderride = "underride"
)

// Kinds lists the rule kinds in priority order.
var Kinds = []string{KindOverride, KindContent, KindRoom, KindSender, KindUnderride}

// Rule is one push rule as the API and the m.push_rules event show it.
type Rule struct {
	RuleID     string            `json:"rule_id"`
	Default    bool              `json:"default"`
	Enabled    bool              `json:"enabled"`
	Conditions []Condition       `json:"conditions,omitempty"`
	Pattern    *string           `json:"pattern,omitempty"`
	Actions    []json.RawMessage `json:"actions"`
}

// Condition is one condition of an override or underride rule. Value is
// kept raw: event_property_is compares it exactly, type included.
type Condition struct {
	Kind    string          `json:"kind"`
	Key     string          `json:"key,omitempty"`
	Pattern *string         `json:"pattern,omitempty"`
	Value   json.RawMessage `json:"value,omitempty"`
	Is      string          `json:"is,omitempty"`
}

// Ruleset is a user's rules by kind, each list most important first.
type Ruleset struct {
	Override  []Rule `json:"override"`
	Content   []Rule `json:"content"`
	Room      []Rule `json:"room"`
	Sender    []Rule `json:"sender"`
	Underride []Rule `json:"underride"`
}

// Rules is what m.push_rules and GET /pushrules/ carry.
type Rules struct {
	Global Ruleset `json:"global"`
}

// List returns a pointer to the list of kind, nil for an unknown kind.
func (rs *Ruleset) List(kind string) *[]Rule {
	switch kind {
	case KindOverride:
		return &rs.Override
	case KindContent:
		return &rs.Content
	case KindRoom:
		return &rs.Room
	case KindSender:
		return &rs.Sender
	case KindUnderride:
		return &rs.Underride
	}
	return nil
}

// Find returns the rule of kind with ruleID and its index, or -1.
func (rs *Ruleset) Find(kind, ruleID string) (*Rule, int) {
	list := rs.List(kind)
	if list == nil {
		return nil, -1
	}
	for i := range *list {
		if (*list)[i].RuleID == ruleID {
			return &(*list)[i], i
		}
	}
	return nil, -1
}

// normalise gives every list a non-nil value, so the JSON shows [] not
// null, and drops the historical actions clients and servers must ignore.
func (rs *Ruleset) normalise() {
	for _, kind := range Kinds {
		list := rs.List(kind)
		if *list == nil {
			*list = []Rule{}
		}
		for i := range *list {
			(*list)[i].Actions = stripHistoricalActions((*list)[i].Actions)
		}
	}
}

// stripHistoricalActions removes dont_notify and coalesce (spec:
// "Historical Actions").
func stripHistoricalActions(actions []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(actions))
	for _, a := range actions {
		var s string
		if json.Unmarshal(a, &s) == nil && (s == "dont_notify" || s == "coalesce") {
			continue
		}
		out = append(out, a)
	}
	return out
}
