package clientapi

// The /sync response (sync.yaml). Streams Warbler does not serve yet are
// sent empty, in the shape clients expect.

type syncList[T any] struct {
	Events []T `json:"events"`
}

type syncResponse struct {
	NextBatch   string          `json:"next_batch"`
	Rooms       syncRooms       `json:"rooms"`
	AccountData syncList[any]   `json:"account_data"`
	Presence    syncList[any]   `json:"presence"`
	ToDevice    syncList[any]   `json:"to_device"`
	DeviceLists syncDeviceLists `json:"device_lists"`
	OTKCounts   map[string]int  `json:"device_one_time_keys_count"`
	// UnusedFallbackKeyTypes lists the algorithms of the device's fallback
	// keys not yet claimed.
	UnusedFallbackKeyTypes []string `json:"device_unused_fallback_key_types"`
}

type syncDeviceLists struct {
	Changed []string `json:"changed"`
	Left    []string `json:"left"`
}

type syncRooms struct {
	Join   map[string]*joinedRoom  `json:"join"`
	Invite map[string]*invitedRoom `json:"invite"`
	Leave  map[string]*leftRoom    `json:"leave"`
	Knock  map[string]any          `json:"knock"`
}

type syncTimeline struct {
	Events    []ClientEvent `json:"events"`
	Limited   bool          `json:"limited"`
	PrevBatch string        `json:"prev_batch,omitempty"`
}

type joinedRoom struct {
	// State is the state at the timeline's start; with use_state_after it
	// is moved to StateAfter (at the timeline's end) and left nil, since
	// the spec says a response carries one or the other.
	State               *syncList[ClientEvent] `json:"state,omitempty"`
	StateAfter          *syncList[ClientEvent] `json:"state_after,omitempty"`
	Timeline            syncTimeline           `json:"timeline"`
	Ephemeral           syncList[any]          `json:"ephemeral"`
	AccountData         syncList[any]          `json:"account_data"`
	UnreadNotifications map[string]int         `json:"unread_notifications"`
	// UnreadThreadNotifications: counts by thread root, when the filter
	// asks for unread_thread_notifications.
	UnreadThreadNotifications map[string]map[string]int `json:"unread_thread_notifications,omitempty"`
	Summary                   map[string]any            `json:"summary"`
}

type invitedRoom struct {
	InviteState syncList[strippedEvent] `json:"invite_state"`
}

type leftRoom struct {
	State       *syncList[ClientEvent] `json:"state,omitempty"` // as joinedRoom's
	StateAfter  *syncList[ClientEvent] `json:"state_after,omitempty"`
	Timeline    syncTimeline           `json:"timeline"`
	AccountData syncList[any]          `json:"account_data"`
}

func newSyncResponse(next syncToken) *syncResponse {
	return &syncResponse{
		NextBatch:   next.String(),
		Rooms:       syncRooms{Join: map[string]*joinedRoom{}, Invite: map[string]*invitedRoom{}, Leave: map[string]*leftRoom{}, Knock: map[string]any{}},
		AccountData: syncList[any]{Events: []any{}},
		Presence:    syncList[any]{Events: []any{}},
		ToDevice:    syncList[any]{Events: []any{}},
		DeviceLists: syncDeviceLists{Changed: []string{}, Left: []string{}},
		OTKCounts:   map[string]int{},

		UnusedFallbackKeyTypes: []string{},
	}
}

// empty reports whether the response tells the client nothing new, so an
// incremental sync may wait for more.
func (r *syncResponse) empty() bool {
	return len(r.Rooms.Join) == 0 && len(r.Rooms.Invite) == 0 && len(r.Rooms.Leave) == 0 &&
		len(r.Rooms.Knock) == 0 && len(r.AccountData.Events) == 0 && len(r.Presence.Events) == 0 &&
		len(r.ToDevice.Events) == 0 && len(r.DeviceLists.Changed) == 0 && len(r.DeviceLists.Left) == 0
}

func newJoinedRoom(state []ClientEvent, tl syncTimeline) *joinedRoom {
	return &joinedRoom{
		State: &syncList[ClientEvent]{Events: state}, Timeline: tl,
		Ephemeral: syncList[any]{Events: []any{}}, AccountData: syncList[any]{Events: []any{}},
		UnreadNotifications: map[string]int{}, Summary: map[string]any{},
	}
}

// moveStateAfter serves every room's state as state_after (the request
// set use_state_after): the build put the state at the timeline's end in
// State, and rooms with nothing else still get an empty list, which the
// spec requires.
func (r *syncResponse) moveStateAfter() {
	for _, jr := range r.Rooms.Join {
		jr.State, jr.StateAfter = nil, jr.State
	}
	for _, lr := range r.Rooms.Leave {
		lr.State, lr.StateAfter = nil, lr.State
	}
}
