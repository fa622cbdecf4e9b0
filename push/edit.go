package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound: no rule of that kind and ID.
var ErrNotFound = errors.New("push: rule not found")

// InvalidError says why a rule or request is refused (400).
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// RuleBody is what PUT /pushrules/global/{kind}/{ruleId} takes.
type RuleBody struct {
	Actions    []json.RawMessage `json:"actions"`
	Conditions []Condition       `json:"conditions"`
	Pattern    *string           `json:"pattern"`
}

// Limits on what a user may store: rules are evaluated for every event
// of every room the user is in.
const (
	maxRulesPerKind     = 200
	maxConditions       = 20
	maxActions          = 20
	maxPatternLength    = 500
	maxRuleIDLength     = 255
	maxConditionKeySize = 255
)

// Put adds or replaces the user-defined rule kind/ruleID. A new rule
// goes first among the user's rules of its kind unless before or after
// names a user-defined rule to place it next to; a replaced rule keeps
// its place unless one of them is given.
func (rs *Ruleset) Put(kind, ruleID string, body RuleBody, before, after string) error {
	list := rs.List(kind)
	if list == nil {
		return invalid("unknown rule kind %q", kind)
	}
	if err := validateRule(kind, ruleID, body); err != nil {
		return err
	}
	rule := Rule{RuleID: ruleID, Enabled: true, Actions: stripHistoricalActions(body.Actions)}
	if kind == KindOverride || kind == KindUnderride {
		rule.Conditions = body.Conditions
		if rule.Conditions == nil {
			rule.Conditions = []Condition{}
		}
	}
	if kind == KindContent {
		rule.Pattern = body.Pattern
	}
	if existing, i := rs.Find(kind, ruleID); existing != nil {
		rule.Enabled = existing.Enabled
		if before == "" && after == "" {
			(*list)[i] = rule
			return nil
		}
		*list = append((*list)[:i], (*list)[i+1:]...)
	} else if len(*list) >= maxRulesPerKind {
		return invalid("too many %s rules", kind)
	}
	at, err := insertIndex(*list, before, after)
	if err != nil {
		return err
	}
	*list = append((*list)[:at], append([]Rule{rule}, (*list)[at:]...)...)
	return nil
}

// insertIndex finds where a rule goes: next to before/after, else first
// among user rules (after .m.rule.master, which outranks everything).
func insertIndex(list []Rule, before, after string) (int, error) {
	anchor := before
	if anchor == "" {
		anchor = after
	}
	if anchor != "" {
		for i, r := range list {
			if r.RuleID == anchor && !r.Default {
				if before != "" {
					return i, nil
				}
				return i + 1, nil
			}
		}
		return 0, invalid("before/after rule not found: %s", anchor)
	}
	for i, r := range list {
		if r.RuleID != ".m.rule.master" {
			return i, nil
		}
	}
	return len(list), nil
}

// Delete removes a user-defined rule; default rules cannot be deleted.
func (rs *Ruleset) Delete(kind, ruleID string) error {
	r, i := rs.Find(kind, ruleID)
	if r == nil {
		return ErrNotFound
	}
	if r.Default {
		return invalid("server-default rules cannot be deleted")
	}
	list := rs.List(kind)
	*list = append((*list)[:i], (*list)[i+1:]...)
	return nil
}

// SetEnabled enables or disables any rule, defaults included.
func (rs *Ruleset) SetEnabled(kind, ruleID string, enabled bool) error {
	r, _ := rs.Find(kind, ruleID)
	if r == nil {
		return ErrNotFound
	}
	r.Enabled = enabled
	return nil
}

// SetActions replaces any rule's actions, defaults included.
func (rs *Ruleset) SetActions(kind, ruleID string, actions []json.RawMessage) error {
	r, _ := rs.Find(kind, ruleID)
	if r == nil {
		return ErrNotFound
	}
	if err := validateActions(actions); err != nil {
		return err
	}
	r.Actions = stripHistoricalActions(actions)
	return nil
}

func validateRule(kind, ruleID string, body RuleBody) error {
	switch {
	case ruleID == "" || len(ruleID) > maxRuleIDLength:
		return invalid("rule_id must be 1 to %d bytes", maxRuleIDLength)
	case strings.HasPrefix(ruleID, "."):
		return invalid("rule IDs starting with '.' are reserved for server-default rules")
	case strings.ContainsAny(ruleID, `/\`):
		return invalid("rule IDs may not contain slashes or backslashes")
	case body.Actions == nil:
		return invalid("actions is required")
	case kind == KindContent && (body.Pattern == nil || len(*body.Pattern) > maxPatternLength):
		return invalid("content rules need a pattern of at most %d bytes", maxPatternLength)
	case kind == KindRoom && !strings.HasPrefix(ruleID, "!"):
		return invalid("the rule_id of a room rule is a room ID")
	case kind == KindSender && !strings.HasPrefix(ruleID, "@"):
		return invalid("the rule_id of a sender rule is a user ID")
	}
	if err := validateActions(body.Actions); err != nil {
		return err
	}
	return validateConditions(body.Conditions)
}

func validateActions(actions []json.RawMessage) error {
	if len(actions) > maxActions {
		return invalid("at most %d actions", maxActions)
	}
	for _, a := range actions {
		var s string
		if json.Unmarshal(a, &s) == nil {
			if s != "notify" && s != "dont_notify" && s != "coalesce" {
				return invalid("unknown action %q", s)
			}
			continue
		}
		var tweak map[string]json.RawMessage
		if json.Unmarshal(a, &tweak) != nil || tweak["set_tweak"] == nil {
			return invalid("an action is a string or an object with set_tweak")
		}
	}
	return nil
}

func validateConditions(conds []Condition) error {
	if len(conds) > maxConditions {
		return invalid("at most %d conditions", maxConditions)
	}
	for _, c := range conds {
		if c.Kind == "" {
			return invalid("a condition needs a kind")
		}
		if len(c.Key) > maxConditionKeySize || c.Pattern != nil && len(*c.Pattern) > maxPatternLength {
			return invalid("condition key or pattern too long")
		}
	}
	return nil
}
