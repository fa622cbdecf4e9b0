package clientapi

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
)

// The pure half of room upgrades: which state moves to the new room and
// how the power levels are carried over.

// upgradeTransferTypes are the state events (state key "") an upgrade
// copies, as the spec recommends: the power levels go separately, and
// membership cannot be copied (other servers' users cannot be
// impersonated), except bans, which the upgrading moderator re-issues.
var upgradeTransferTypes = []string{
	"m.room.server_acl", "m.room.encryption", "m.room.name", "m.room.avatar", "m.room.topic",
	"m.room.guest_access", "m.room.history_visibility", "m.room.join_rules", "m.room.canonical_alias",
}

// maxUpgradeBans bounds how many bans an upgrade carries over.
const maxUpgradeBans = 1000

// powerLevelIntKeys are the top-level power level fields holding a level.
var powerLevelIntKeys = []string{"ban", "events_default", "invite", "kick", "redact", "state_default", "users_default"}

// powerLevels is a power levels content with every level an integer:
// old room versions allow levels written as strings, which v10 and later
// refuse, so copying them unchanged could make the new room unusable.
type powerLevels struct {
	levels        map[string]int64 // powerLevelIntKeys present in the content
	users         map[string]int64
	events        map[string]int64
	notifications map[string]int64
	rest          map[string]json.RawMessage // other keys, kept as they are
}

// parsePowerLevels reads a power levels content (nil: no power levels
// event). Levels that are neither integers nor integer strings are
// dropped, so their defaults apply.
func parsePowerLevels(content []byte) powerLevels {
	pl := powerLevels{levels: map[string]int64{}, users: map[string]int64{}, events: map[string]int64{},
		notifications: map[string]int64{}, rest: map[string]json.RawMessage{}}
	var raw map[string]json.RawMessage
	if json.Unmarshal(content, &raw) != nil {
		return pl
	}
	for k, v := range raw {
		switch {
		case slices.Contains(powerLevelIntKeys, k):
			if n, ok := levelOf(v); ok {
				pl.levels[k] = n
			}
		case k == "users":
			pl.users = levelMap(v)
		case k == "events":
			pl.events = levelMap(v)
		case k == "notifications":
			pl.notifications = levelMap(v)
		default:
			pl.rest[k] = v
		}
	}
	return pl
}

// levelOf reads a level written as an integer or an integer string.
func levelOf(raw json.RawMessage) (int64, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		v, err := n.Int64()
		return v, err == nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		return v, err == nil
	}
	return 0, false
}

func levelMap(raw json.RawMessage) map[string]int64 {
	var m map[string]json.RawMessage
	out := map[string]int64{}
	if json.Unmarshal(raw, &m) != nil {
		return out
	}
	for k, v := range m {
		if n, ok := levelOf(v); ok {
			out[k] = n
		}
	}
	return out
}

// content renders the power levels as an event content.
func (pl powerLevels) content() json.RawMessage {
	out := make(map[string]any, len(pl.rest)+len(pl.levels)+3)
	for k, v := range pl.rest {
		out[k] = v
	}
	for k, v := range pl.levels {
		out[k] = v
	}
	out["users"], out["events"] = pl.users, pl.events
	if len(pl.notifications) > 0 {
		out["notifications"] = pl.notifications
	}
	b, _ := json.Marshal(out)
	return b
}

func (pl powerLevels) clone() powerLevels {
	return powerLevels{levels: maps.Clone(pl.levels), users: maps.Clone(pl.users), events: maps.Clone(pl.events),
		notifications: maps.Clone(pl.notifications), rest: maps.Clone(pl.rest)}
}

// level returns a top-level level, or def if unset.
func (pl powerLevels) level(key string, def int64) int64 {
	if v, ok := pl.levels[key]; ok {
		return v
	}
	return def
}

// highest is the highest level the content names anywhere: a user at it
// may send every event and grant every level the content holds.
func (pl powerLevels) highest() int64 {
	top := int64(100)
	for _, m := range []map[string]int64{pl.levels, pl.users, pl.events, pl.notifications} {
		for _, v := range m {
			top = max(top, v)
		}
	}
	return top
}

// upgradedPowerLevels carries the old room's power levels over to a room
// of version target. Users' levels are kept. In a v12 room the creators
// (the upgrader and additional creators) stand above all levels and may
// not be listed; former creators who are no longer ones (upgrading from
// v12) keep moderator rights with level 100. Before v12 the upgrader is
// the new room's only creator, so keeps at least the old level.
//
// bootstrap is the power levels the new room starts with, putting the
// upgrader above every level named, so that every copied state event and
// ban is allowed; final is what the room ends with (equal to bootstrap in
// v12, where the upgrader is a creator).
func upgradedPowerLevels(old powerLevels, oldCreators, newCreators []string, upgrader string, target mxcore.RoomVersion) (bootstrap, final powerLevels) {
	final = old.clone()
	for _, c := range oldCreators {
		if !slices.Contains(newCreators, c) {
			final.users[c] = max(final.users[c], 100)
		}
	}
	if target.PrivilegedCreators {
		for _, c := range newCreators {
			delete(final.users, c)
		}
		return final, final
	}
	bootstrap = final.clone()
	if final.users[upgrader] <= final.highest() {
		// Above everyone, so the upgrader may also re-ban any user.
		bootstrap.users[upgrader] = final.highest() + 1
	}
	return bootstrap, final
}

// restrictedPowerLevels is the old room's power levels after an upgrade:
// sending messages and inviting need at least 50 and more than the
// default user level, as the spec suggests, so the old room quietens.
func restrictedPowerLevels(pl powerLevels) powerLevels {
	out := pl.clone()
	floor := max(50, pl.level("users_default", 0)+1)
	out.levels["events_default"] = max(pl.level("events_default", 0), floor)
	out.levels["invite"] = max(pl.level("invite", 0), floor)
	return out
}
