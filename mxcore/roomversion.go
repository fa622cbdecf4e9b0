package mxcore

import "sort"

// EventIDFormat says how a room version names its events.
type EventIDFormat int

const (
	// EventIDExplicit: v1–2, the event carries its own "$local:server" ID.
	EventIDExplicit EventIDFormat = iota + 1
	// EventIDHashStd: v3, "$" + reference hash in standard unpadded base64.
	EventIDHashStd
	// EventIDHashURL: v4+, "$" + reference hash in URL-safe unpadded base64.
	EventIDHashURL
)

// StateResAlgorithm names the state resolution algorithm of a room version.
type StateResAlgorithm int

const (
	StateResV1  StateResAlgorithm = iota + 1 // room version 1
	StateResV2                               // room versions 2–11
	StateResV21                              // room version 12 ("v2.1")
)

// RedactionRules names the redaction algorithm of a room version.
type RedactionRules int

const (
	RedactionV1  RedactionRules = iota + 1 // v1–5
	RedactionV6                            // v6–8: m.room.aliases no longer keeps "aliases"
	RedactionV9                            // v9–10: member keeps join_authorised_via_users_server
	RedactionV11                           // v11+: the v11 changes
)

// RoomVersion holds the behaviour switches of one room version. The zero
// value is not a valid version; look versions up with GetRoomVersion.
type RoomVersion struct {
	ID       string
	Stable   bool
	EventIDs EventIDFormat
	StateRes StateResAlgorithm
	Redact   RedactionRules

	// Auth rule switches.
	SpecialCaseAliasesAuth  bool // v1–5: m.room.aliases has its own auth rule
	EnforceKeyValidity      bool // v5+: signing key must be valid at origin_server_ts
	StrictCanonicalJSON     bool // v6+: integers in range, no floats
	NotificationsPowerLevel bool // v6+: notifications key checked in power level changes
	AllowKnocking           bool // v7+: knock membership and join rule
	AllowRestrictedJoins    bool // v8+: join_rule "restricted"
	AllowKnockRestricted    bool // v10+: join_rule "knock_restricted"
	IntegerPowerLevels      bool // v10+: power level values must be integers
	ImplicitRoomCreator     bool // v11+: the create event's sender is the creator (no "creator" content key)
	RedactsInContent        bool // v11+: "redacts" lives in content
	RoomIDFromCreateEvent   bool // v12: room ID is "!" + create event's reference hash; create event has no room_id
	PrivilegedCreators      bool // v12: creators (sender + additional_creators) have infinite power
	AuthEventsOmitCreate    bool // v12: auth_events must not list the create event
	EventRefsAreHashPairs   bool // v1–2: prev_events/auth_events are [id, {hashes}] pairs
}

var roomVersions = map[string]RoomVersion{}

func init() {
	for i := 1; i <= 12; i++ {
		v := RoomVersion{ID: itoa(i), Stable: true}
		switch {
		case i <= 2:
			v.EventIDs = EventIDExplicit
			v.EventRefsAreHashPairs = true
		case i == 3:
			v.EventIDs = EventIDHashStd
		default:
			v.EventIDs = EventIDHashURL
		}
		switch {
		case i == 1:
			v.StateRes = StateResV1
		case i <= 11:
			v.StateRes = StateResV2
		default:
			v.StateRes = StateResV21
		}
		switch {
		case i <= 5:
			v.Redact = RedactionV1
		case i <= 8:
			v.Redact = RedactionV6
		case i <= 10:
			v.Redact = RedactionV9
		default:
			v.Redact = RedactionV11
		}
		v.SpecialCaseAliasesAuth = i <= 5
		v.EnforceKeyValidity = i >= 5
		v.StrictCanonicalJSON = i >= 6
		v.NotificationsPowerLevel = i >= 6
		v.AllowKnocking = i >= 7
		v.AllowRestrictedJoins = i >= 8
		v.AllowKnockRestricted = i >= 10
		v.IntegerPowerLevels = i >= 10
		v.ImplicitRoomCreator = i >= 11
		v.RedactsInContent = i >= 11
		v.RoomIDFromCreateEvent = i >= 12
		v.PrivilegedCreators = i >= 12
		v.AuthEventsOmitCreate = i >= 12
		roomVersions[v.ID] = v
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}

// DefaultRoomVersion is the version new rooms get unless asked otherwise.
const DefaultRoomVersion = "12"

// GetRoomVersion returns the behaviour of a known room version.
func GetRoomVersion(id string) (RoomVersion, bool) {
	v, ok := roomVersions[id]
	return v, ok
}

// KnownRoomVersions lists the supported version IDs in numeric order.
func KnownRoomVersions() []string {
	ids := make([]string, 0, len(roomVersions))
	for id := range roomVersions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool {
		if len(ids[a]) != len(ids[b]) {
			return len(ids[a]) < len(ids[b])
		}
		return ids[a] < ids[b]
	})
	return ids
}
