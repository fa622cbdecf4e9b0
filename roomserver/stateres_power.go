package roomserver

import (
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// srInfinitePower is the power level of a room creator in room versions
// with privileged creators (v12): higher than any integer a power levels
// event can hold.
const srInfinitePower = math.MaxInt64

// srPowerLevels is the part of an m.room.power_levels event's content that
// state resolution reads: the per-user levels and users_default. It is
// parsed once per event per resolution.
type srPowerLevels struct {
	users        map[string]int64
	usersDefault int64
}

func (p *srPowerLevels) userLevel(user string) int64 {
	if l, ok := p.users[user]; ok {
		return l
	}
	return p.usersDefault
}

// parseSRPowerLevels reads users and users_default from power levels
// content. Values that are not integers (or, in old room versions,
// strings or floats holding one) are ignored, so they fall back to the
// defaults as the auth rules would never have let them in anyway.
func parseSRPowerLevels(content []byte) *srPowerLevels {
	p := &srPowerLevels{}
	if d, ok := srPowerValue(gjson.GetBytes(content, "users_default")); ok {
		p.usersDefault = d
	}
	users := gjson.GetBytes(content, "users")
	if users.IsObject() {
		p.users = make(map[string]int64)
		users.ForEach(func(k, v gjson.Result) bool {
			if l, ok := srPowerValue(v); ok {
				p.users[k.String()] = l
			}
			return true
		})
	}
	return p
}

// srPowerValue reads one power level value: an integer, a float truncated
// towards zero (v1–v5 "floaty" levels) or a string holding a base-10
// integer with optional sign and surrounding whitespace (v1–v9 "stringy"
// levels).
func srPowerValue(v gjson.Result) (int64, bool) {
	switch v.Type {
	case gjson.Number:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return v.Int(), true
	case gjson.String:
		l, err := strconv.ParseInt(strings.TrimSpace(v.Str), 10, 64)
		return l, err == nil
	default:
		return 0, false
	}
}

// srMembership returns content.membership of a member event.
func srMembership(ev Event) string {
	return gjson.GetBytes(ev.Content(), "membership").String()
}

// srIsPowerEvent implements the v2 "power event" definition: power levels,
// join rules, or a member event with membership leave or ban whose sender
// is not its state key (a kick or a ban).
func srIsPowerEvent(ev Event) bool {
	sk := ev.StateKey()
	if sk == nil {
		return false
	}
	switch ev.Type() {
	case srTypePowerLevels, srTypeJoinRules:
		return true
	case srTypeMember:
		if *sk == ev.Sender() {
			return false
		}
		m := srMembership(ev)
		return m == "leave" || m == "ban"
	}
	return false
}

// srCreators is who counts as a room creator for power purposes.
type srCreators struct {
	users []string
}

func (c *srCreators) has(user string) bool {
	if c == nil {
		return false
	}
	for _, u := range c.users {
		if u == user {
			return true
		}
	}
	return false
}

// srCreatorsOf reads the creators from an m.room.create event: before v11 the
// content's "creator"; from v11 the sender; from v12 also the
// additional_creators array.
func srCreatorsOf(create Event, implicitCreator, additional bool) *srCreators {
	if create == nil {
		return nil
	}
	c := &srCreators{}
	if implicitCreator {
		c.users = append(c.users, create.Sender())
	} else if u := gjson.GetBytes(create.Content(), "creator").String(); u != "" {
		c.users = append(c.users, u)
	}
	if additional {
		for _, u := range gjson.GetBytes(create.Content(), "additional_creators").Array() {
			if u.Type == gjson.String {
				c.users = append(c.users, u.Str)
			}
		}
	}
	return c
}

// srCreateEventID is the v12 create event ID implied by a room ID: the
// room ID with sigil "$" instead of "!".
func srCreateEventID(roomID string) string {
	if roomID == "" {
		return ""
	}
	return "$" + roomID[1:]
}
