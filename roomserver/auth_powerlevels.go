package roomserver

import (
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// InfinitePowerLevel is the power level of room creators from room version
// 12 on ("infinitely high"). No power level an event can state reaches it
// (canonical JSON caps integers at 2^53-1), so plain comparisons work: a
// creator outranks everyone and never another creator.
const InfinitePowerLevel int64 = math.MaxInt64

// Defaults from the m.room.power_levels schema, used when the event or the
// property is absent.
const (
	plDefaultUsers   = 0
	plDefaultEvents  = 0
	plDefaultState   = 50
	plDefaultInvite  = 0
	plDefaultAction  = 50 // kick, ban, redact
	plCreatorNoEvent = 100
)

// PowerAction names one of the levels a power_levels event sets for an
// action rather than an event type.
type PowerAction string

const (
	PowerInvite PowerAction = "invite"
	PowerKick   PowerAction = "kick"
	PowerBan    PowerAction = "ban"
	PowerRedact PowerAction = "redact"
)

// plNamedLevels are the top-level integer properties whose changes rule 10.3
// (v6–9: 9.3, v10–11: 9.5, v12: 10.6) restricts.
var plNamedLevels = [...]string{"users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"}

// PowerLevelOf returns a user's power level in the given state: infinite for
// v12 creators, else users[user] or users_default of m.room.power_levels,
// or, with no such event, 100 for the room creator and 0 for anyone else.
func PowerLevelOf(userID string, state AuthStateProvider) int64 {
	return newAuthContext(stateRoomVersion(state), state).userLevel(userID)
}

// RequiredPowerLevel returns the level needed to send an event of the given
// type: events[type], else state_default (50) or events_default (0).
func RequiredPowerLevel(eventType string, isState bool, state AuthStateProvider) int64 {
	return newAuthContext(stateRoomVersion(state), state).requiredLevel(eventType, isState)
}

// ActionPowerLevel returns the invite (default 0), kick, ban or redact
// (default 50) level. Code applying redactions in v3+ rooms needs the
// redact level, which the auth rules of those versions no longer check.
func ActionPowerLevel(action PowerAction, state AuthStateProvider) int64 {
	return newAuthContext(stateRoomVersion(state), state).actionLevel(action)
}

// stateRoomVersion reads the room version off the state's own events, for
// the exported helpers that are not given an event to authorise.
func stateRoomVersion(state AuthStateProvider) mxcore.RoomVersion {
	if ev := state.StateEvent(mRoomCreate, ""); ev != nil {
		return ev.Version()
	}
	if ev := state.StateEvent(mRoomPowerLevels, ""); ev != nil {
		return ev.Version()
	}
	return mxcore.RoomVersion{}
}

// userLevel implements the power level of a user in this state.
func (c *authContext) userLevel(user string) int64 {
	if c.rv.PrivilegedCreators && c.isCreator(user) {
		return InfinitePowerLevel
	}
	if !c.hasPL {
		if c.create != nil && user == c.creator() {
			return plCreatorNoEvent
		}
		return plDefaultUsers
	}
	if lvl, ok := plParse(authField(authField(c.pl, "users"), user), c.rv); ok {
		return lvl
	}
	return c.namedLevel("users_default", plDefaultUsers)
}

func (c *authContext) requiredLevel(eventType string, isState bool) int64 {
	if c.hasPL {
		if lvl, ok := plParse(authField(authField(c.pl, "events"), eventType), c.rv); ok {
			return lvl
		}
	}
	if isState {
		return c.namedLevel("state_default", plDefaultState)
	}
	return c.namedLevel("events_default", plDefaultEvents)
}

func (c *authContext) actionLevel(a PowerAction) int64 {
	if a == PowerInvite {
		return c.namedLevel(string(a), plDefaultInvite)
	}
	return c.namedLevel(string(a), plDefaultAction)
}

// namedLevel reads a top-level level, falling back to def when the event or
// the property is absent or (in an already accepted event) unreadable.
func (c *authContext) namedLevel(name string, def int64) int64 {
	if !c.hasPL {
		return def
	}
	if lvl, ok := plParse(authField(c.pl, name), c.rv); ok {
		return lvl
	}
	return def
}

// plParse reads one power level value as the room version allows:
// integers always; integer strings in v1–9 ("stringy" power levels); floats,
// truncated, in v1–5 ("floaty" power levels, before canonical JSON).
func plParse(v gjson.Result, rv mxcore.RoomVersion) (int64, bool) {
	switch v.Type {
	case gjson.Number:
		return plParseNumber(v.Raw, rv)
	case gjson.String:
		if rv.IntegerPowerLevels {
			return 0, false
		}
		return plParseString(v.Str)
	}
	return 0, false
}

func plParseNumber(raw string, rv mxcore.RoomVersion) (int64, bool) {
	if authIntLiteral(raw) {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err == nil {
			return n, true
		}
	}
	if rv.StrictCanonicalJSON {
		return 0, false
	}
	return plTruncateFloat(raw)
}

// plTruncateFloat applies the v1–5 float rule: exponent first, then truncate;
// values beyond a double (and so Inf/NaN) are invalid. Values beyond int64
// saturate, which keeps their order relative to every other level.
func plTruncateFloat(raw string) (int64, bool) {
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	f = math.Trunc(f)
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64, true
	case f <= math.MinInt64:
		return math.MinInt64, true
	}
	return int64(f), true
}

// plParseString accepts the v1–9 string form: optional surrounding
// whitespace, an optional single sign, then base-10 digits (leading zeros
// allowed). Anything else, including out-of-range values, is not a level.
func plParseString(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	digits := s
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		digits = s[1:]
	}
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// authIntLiteral reports whether a JSON number has no fraction or exponent.
func authIntLiteral(raw string) bool {
	return raw != "" && !strings.ContainsAny(raw, ".eE")
}

// plIsInteger reports whether v is a JSON integer (rules 9.1–9.3 of v10+).
func plIsInteger(v gjson.Result) bool {
	if v.Type != gjson.Number || !authIntLiteral(v.Raw) {
		return false
	}
	_, err := strconv.ParseInt(v.Raw, 10, 64)
	return err == nil
}
