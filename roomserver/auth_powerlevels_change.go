package roomserver

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// checkPowerLevels is the m.room.power_levels rule (rule 10 in v1–5 and
// v12, rule 9 in v6–11): the new content must be well formed, and a sender
// may only change levels that are, and stay, within their own power.
func checkPowerLevels(ev Event, c *authContext) error {
	next := authContent(ev)
	if err := validatePowerLevels(next, c); err != nil {
		return err
	}
	if !c.hasPL { // 10.2 (v6–9: 9.2, v10–11: 9.4, v12: 10.5): the first one is allowed
		return nil
	}
	sender := c.userLevel(ev.Sender())
	if err := checkNamedLevelChanges(c.pl, next, sender, c); err != nil {
		return err
	}
	if err := checkMapChanges("events", c.pl, next, sender, c); err != nil {
		return err
	}
	if c.rv.NotificationsPowerLevel { // v6+: notifications joins the events rules
		if err := checkMapChanges("notifications", c.pl, next, sender, c); err != nil {
			return err
		}
	}
	return checkUserChanges(c.pl, next, ev.Sender(), sender, c)
}

// validatePowerLevels covers the shape rules: integer-only values from v10
// (9.1–9.2 in v10–11, 10.1–10.2 in v12), valid users (10.1 in v1–5, 9.1 in
// v6–9, 9.3 in v10–11, 10.3 in v12) and, in v12, no creator in users (10.4).
func validatePowerLevels(next gjson.Result, c *authContext) error {
	if c.rv.IntegerPowerLevels {
		if err := checkIntegerLevels(next); err != nil {
			return err
		}
	}
	users := authField(next, "users")
	if err := checkUsersMap(users, c); err != nil {
		return err
	}
	if c.rv.PrivilegedCreators {
		for _, creator := range c.creators {
			if authField(users, creator).Exists() {
				return authReject(RulePowerLevelsCreator, "room creator %s may not be listed in users", creator)
			}
		}
	}
	return nil
}

func checkIntegerLevels(next gjson.Result) error {
	for _, name := range plNamedLevels {
		if v := authField(next, name); v.Exists() && !plIsInteger(v) {
			return authReject(RulePowerLevelsNotInteger, "%s is not an integer", name)
		}
	}
	for _, name := range [...]string{"events", "notifications"} {
		if v := authField(next, name); v.Exists() && !plIsIntegerMap(v) {
			return authReject(RulePowerLevelsBadMap, "%s is not an object of integers", name)
		}
	}
	return nil
}

func plIsIntegerMap(v gjson.Result) bool {
	if !v.IsObject() {
		return false
	}
	ok := true
	v.ForEach(func(_, val gjson.Result) bool {
		ok = plIsInteger(val)
		return ok
	})
	return ok
}

// checkUsersMap: users, when present, maps valid user IDs to levels the room
// version accepts. An absent users property is an empty map.
func checkUsersMap(users gjson.Result, c *authContext) error {
	if !users.Exists() {
		return nil
	}
	if !users.IsObject() {
		return authReject(RulePowerLevelsUsers, "users is not an object")
	}
	var err error
	users.ForEach(func(k, v gjson.Result) bool {
		if !authValidUserID(k.Str) {
			err = authReject(RulePowerLevelsUsers, "users key %q is not a valid user ID", k.Str)
		} else if _, ok := plParse(v, c.rv); !ok {
			err = authReject(RulePowerLevelsUsers, "users[%s] is not an integer power level", k.Str)
		}
		return err == nil
	})
	return err
}

// plEntry is one power level property as found in old or new content.
type plEntry struct {
	raw     gjson.Result
	present bool
	valid   bool
	value   int64
}

func plReadEntry(v gjson.Result, c *authContext) plEntry {
	e := plEntry{raw: v, present: v.Exists()}
	if e.present {
		e.value, e.valid = plParse(v, c.rv)
	}
	return e
}

// plUnchanged: both absent, the same level, or (unreadable) the same text.
func plUnchanged(old, next plEntry) bool {
	switch {
	case !old.present || !next.present:
		return old.present == next.present
	case old.valid && next.valid:
		return old.value == next.value
	}
	return old.raw.Raw == next.raw.Raw
}

// checkNamedLevelChanges is 10.3 (v6–9: 9.3, v10–11: 9.5, v12: 10.6): an added,
// changed or removed level must not exceed the sender's level, before or
// after. A new value that is not a level (v1–9 text) cannot be shown to be
// within the sender's power, so it is rejected.
func checkNamedLevelChanges(prev, next gjson.Result, sender int64, c *authContext) error {
	for _, name := range plNamedLevels {
		old, now := plReadEntry(authField(prev, name), c), plReadEntry(authField(next, name), c)
		if plUnchanged(old, now) {
			continue
		}
		if old.valid && old.value > sender {
			return authReject(RulePowerLevelsLevel, "cannot change %s from %d above own level %s", name, old.value, plText(sender))
		}
		if now.present && (!now.valid || now.value > sender) {
			return authReject(RulePowerLevelsLevel, "cannot set %s to %s above own level %s", name, now.raw.Raw, plText(sender))
		}
	}
	return nil
}

// checkMapChanges is 10.4–10.5 (v6–9: 9.4–9.5, v10–11: 9.6–9.7, v12:
// 10.7–10.8) for events and, from v6, notifications:
// changed or removed entries must not have been above the sender's level,
// added or changed ones must not end up above it.
func checkMapChanges(name string, prev, next gjson.Result, sender int64, c *authContext) error {
	return forEachChangedEntry(authField(prev, name), authField(next, name), c, func(key string, old, now plEntry) error {
		if old.valid && old.value > sender {
			return authReject(RulePowerLevelsEvents, "cannot change %s[%s] from %d above own level %s", name, key, old.value, plText(sender))
		}
		if now.present && (!now.valid || now.value > sender) {
			return authReject(RulePowerLevelsEvents, "cannot set %s[%s] to %s above own level %s", name, key, now.raw.Raw, plText(sender))
		}
		return nil
	})
}

// checkUserChanges is 10.6–10.7 (v6–9: 9.6–9.7, v10–11: 9.8–9.9, v12:
// 10.9–10.10): other
// users whose level changes must be strictly below the sender, and nobody
// may be raised above the sender.
func checkUserChanges(prev, next gjson.Result, senderID string, sender int64, c *authContext) error {
	return forEachChangedEntry(authField(prev, "users"), authField(next, "users"), c, func(user string, old, now plEntry) error {
		if user != senderID && old.valid && old.value >= sender {
			return authReject(RulePowerLevelsUser, "cannot change level of %s (%d), not below own level %s", user, old.value, plText(sender))
		}
		if now.present && (!now.valid || now.value > sender) {
			return authReject(RulePowerLevelsUser, "cannot set %s to %s above own level %s", user, now.raw.Raw, plText(sender))
		}
		return nil
	})
}

// forEachChangedEntry calls fn, in document order, for every key of the old
// or new object whose entry was added, changed or removed, stopping at the
// first error.
func forEachChangedEntry(prev, next gjson.Result, c *authContext, fn func(key string, old, now plEntry) error) error {
	oldKeys, oldMap := authObjectEntries(prev)
	newKeys, newMap := authObjectEntries(next)
	for _, key := range oldKeys {
		old, now := plReadEntry(oldMap[key], c), plReadEntry(newMap[key], c)
		if plUnchanged(old, now) {
			continue
		}
		if err := fn(key, old, now); err != nil {
			return err
		}
	}
	for _, key := range newKeys {
		if _, seen := oldMap[key]; seen {
			continue
		}
		if err := fn(key, plEntry{}, plReadEntry(newMap[key], c)); err != nil {
			return err
		}
	}
	return nil
}

// authObjectEntries lists an object's keys in order and maps them to values,
// keeping the first of duplicate keys as authField does. A non-object has none.
func authObjectEntries(obj gjson.Result) ([]string, map[string]gjson.Result) {
	var keys []string
	vals := map[string]gjson.Result{}
	if !obj.IsObject() {
		return keys, vals
	}
	obj.ForEach(func(k, v gjson.Result) bool {
		if _, dup := vals[k.Str]; !dup {
			keys = append(keys, k.Str)
			vals[k.Str] = v
		}
		return true
	})
	return keys, vals
}

// plText renders a level for messages, naming the infinite creator level.
func plText(l int64) string {
	if l == InfinitePowerLevel {
		return "infinite"
	}
	return strconv.FormatInt(l, 10)
}
