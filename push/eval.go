package push

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/internal/lru"
)

// Room is what rules may ask about the room of an event, as it stands
// after the event.
type Room struct {
	UserID      string // whose rules these are
	MemberCount int    // joined members
	// SenderPower is the sender's power level; NotificationPower the level
	// a notifications key ("room") requires (power levels' notifications,
	// default 50).
	SenderPower       int64
	NotificationPower func(key string) int64
	// DisplayName is the user's display name in the room, for the
	// deprecated contains_display_name condition; "" never matches.
	DisplayName string
}

// Outcome is what the first matching rule decided.
type Outcome struct {
	RuleID    string
	Notify    bool
	Highlight bool
	Sound     string
	Actions   []json.RawMessage
}

// Evaluate runs rs against event (its JSON as served to clients) and
// returns the first enabled matching rule's outcome; matched is false
// when no rule matches. Callers skip events the user sent themselves.
func Evaluate(rs *Ruleset, event []byte, room Room) (out Outcome, matched bool) {
	return EvaluateString(rs, string(event), room)
}

// EvaluateString is Evaluate for event JSON held as a string.
func EvaluateString(rs *Ruleset, event string, room Room) (out Outcome, matched bool) {
	return EvaluateEvent(rs, NewEvent(event), room)
}

// Event is one event's JSON and the properties rules have read from it:
// the rules of every member of a room are evaluated against one event,
// and they read the same few properties (the default rules about a dozen)
// for each member. It is not safe for concurrent use.
type Event struct {
	json  string
	props map[string]gjson.Result // by property path as rules write it
}

// NewEvent wraps an event's JSON (as served to clients) for evaluation.
func NewEvent(eventJSON string) *Event {
	return &Event{json: eventJSON, props: map[string]gjson.Result{}}
}

// property resolves a dot-separated property path (appendix: "\." is a
// literal dot, "\\" a backslash), once per event.
func (e *Event) property(path string) (gjson.Result, bool) {
	if path == "" {
		return gjson.Result{}, false
	}
	v, ok := e.props[path]
	if !ok {
		v = gjson.Get(e.json, gjsonPath(path))
		e.props[path] = v
	}
	return v, v.Exists()
}

// str is the string at a plain path ("content.body"), "" if none.
func (e *Event) str(path string) gjson.Result {
	v, _ := e.property(path)
	return v
}

// EvaluateEvent is Evaluate for an event wrapped once for many users'
// rules.
func EvaluateEvent(rs *Ruleset, event *Event, room Room) (out Outcome, matched bool) {
	for _, kind := range Kinds {
		for i := range *rs.List(kind) {
			r := &(*rs.List(kind))[i]
			if r.Enabled && ruleMatches(kind, r, event, room) {
				return outcomeOf(r), true
			}
		}
	}
	return Outcome{}, false
}

func ruleMatches(kind string, r *Rule, event *Event, room Room) bool {
	switch kind {
	case KindContent:
		if r.Pattern == nil {
			return false
		}
		body := event.str("content.body")
		return body.Type == gjson.String && globMatch(*r.Pattern, body.Str, true)
	case KindRoom:
		return event.str("room_id").Str == r.RuleID
	case KindSender:
		return event.str("sender").Str == r.RuleID
	}
	for _, c := range r.Conditions {
		if !conditionHolds(c, event, room) {
			return false
		}
	}
	return true
}

// conditionHolds evaluates one condition; unknown kinds never hold.
func conditionHolds(c Condition, event *Event, room Room) bool {
	switch c.Kind {
	case "event_match":
		v, ok := event.property(c.Key)
		return ok && c.Pattern != nil && v.Type == gjson.String &&
			globMatch(*c.Pattern, v.Str, c.Key == "content.body")
	case "event_property_is":
		v, ok := event.property(c.Key)
		return ok && scalarEqual(v, c.Value)
	case "event_property_contains":
		v, ok := event.property(c.Key)
		if !ok || !v.IsArray() {
			return false
		}
		for _, item := range v.Array() {
			if scalarEqual(item, c.Value) {
				return true
			}
		}
		return false
	case "contains_display_name":
		body := event.str("content.body")
		return room.DisplayName != "" && body.Type == gjson.String && globMatch(room.DisplayName, body.Str, true)
	case "room_member_count":
		return memberCountMatches(c.Is, room.MemberCount)
	case "sender_notification_permission":
		return room.NotificationPower != nil && room.SenderPower >= room.NotificationPower(c.Key)
	}
	return false
}

// gjsonPaths caches property paths translated for gjson: rules are
// evaluated for every member of every room an event lands in.
var gjsonPaths = lru.New[string, string](4096)

// gjsonPath translates a property path into gjson's path syntax, each
// segment taken literally.
func gjsonPath(path string) string {
	if !strings.ContainsAny(path, `\*?|#@!=<>%`) {
		return path
	}
	if p, ok := gjsonPaths.Get(path); ok {
		return p
	}
	segs := splitPath(path)
	for i, seg := range segs {
		segs[i] = escapeGJSON(seg)
	}
	p := strings.Join(segs, ".")
	gjsonPaths.Put(path, p)
	return p
}

func splitPath(path string) []string {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && i+1 < len(path) && (path[i+1] == '.' || path[i+1] == '\\'):
			cur.WriteByte(path[i+1])
			i++
		case c == '.':
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(segs, cur.String())
}

// escapeGJSON makes a key literal for gjson, whose paths give meaning to
// several characters.
func escapeGJSON(key string) string {
	var b strings.Builder
	for _, r := range key {
		if strings.ContainsRune(`\.*?|#@!=<>%`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// scalarEqual compares an event value with a condition's value exactly:
// same JSON type and value, for strings, integers, booleans and null.
func scalarEqual(v gjson.Result, want json.RawMessage) bool {
	want = bytes.TrimSpace(want)
	if len(want) == 0 {
		return false
	}
	switch v.Type {
	case gjson.String:
		var s string
		return want[0] == '"' && json.Unmarshal(want, &s) == nil && s == v.Str
	case gjson.Number:
		n, err := strconv.ParseInt(string(want), 10, 64)
		return err == nil && strconv.FormatInt(n, 10) == v.Raw
	case gjson.True:
		return string(want) == "true"
	case gjson.False:
		return string(want) == "false"
	case gjson.Null:
		return string(want) == "null"
	}
	return false
}

// memberCountMatches reads "is": an integer with an optional ==, <, >,
// <= or >= prefix (== when absent).
func memberCountMatches(is string, count int) bool {
	op := "=="
	for _, p := range []string{"==", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(is, p) {
			op, is = p, is[len(p):]
			break
		}
	}
	n, err := strconv.Atoi(is)
	if err != nil {
		return false
	}
	switch op {
	case "<":
		return count < n
	case ">":
		return count > n
	case "<=":
		return count <= n
	case ">=":
		return count >= n
	}
	return count == n
}

// outcomeOf reads a rule's actions: notify, and the highlight and sound
// tweaks (highlight without a value is true). It runs for every member an
// event notifies, so it reads the actions with gjson rather than decoding
// them.
func outcomeOf(r *Rule) Outcome {
	out := Outcome{RuleID: r.RuleID, Actions: r.Actions}
	for _, a := range r.Actions {
		action := gjson.ParseBytes(a)
		switch action.Type {
		case gjson.String:
			out.Notify = out.Notify || action.Str == "notify"
			continue
		case gjson.JSON:
		default:
			continue
		}
		if !action.IsObject() {
			continue
		}
		value := action.Get("value")
		switch action.Get("set_tweak").Str {
		case "highlight":
			out.Highlight = !value.Exists() || value.Type == gjson.True
		case "sound":
			if value.Type == gjson.String {
				out.Sound = value.Str
			}
		}
	}
	return out
}

// NotificationLevels reads the notifications object of m.room.power_levels
// content (nil: no power levels) for sender_notification_permission: the
// level each key requires, 50 when unset (the spec's default for "room").
func NotificationLevels(powerLevelsContent []byte) func(key string) int64 {
	notifications := gjson.GetBytes(powerLevelsContent, "notifications")
	return func(key string) int64 {
		if v := notifications.Get(escapeGJSON(key)); v.Exists() {
			return v.Int()
		}
		return 50
	}
}
