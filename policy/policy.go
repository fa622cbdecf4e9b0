package policy

import "context"

// Action names a point where data would leave the server. The values are
// part of the policy input schema: policies match on them.
type Action string

const (
	// ActionSendPDU: PDUs of RoomID go to Server (outbound transactions).
	ActionSendPDU Action = "federation.send_pdu"
	// ActionSendEDU: an EDU (typing, receipt, presence, device list,
	// to-device) goes to Server. RoomID is set when the EDU is about a room.
	ActionSendEDU Action = "federation.send_edu"
	// ActionInvite: Server is asked to take an invite into RoomID.
	ActionInvite Action = "federation.invite"
	// ActionJoin: Server joins RoomID (as resident: it asked us for
	// make_join/send_join; as joiner: we send our join through it).
	ActionJoin Action = "federation.join"
	// ActionLeave and ActionKnock: the same for leaves and knocks.
	ActionLeave Action = "federation.leave"
	ActionKnock Action = "federation.knock"
	// ActionServeRoomData: Server requested room data (events, state,
	// backfill, missing events, auth chains, directory, hierarchy).
	ActionServeRoomData Action = "federation.serve_room_data"
	// ActionServeMedia, ActionServeProfile, ActionServeKeys: Server
	// requested media, a profile, or device keys of UserID.
	ActionServeMedia   Action = "federation.serve_media"
	ActionServeProfile Action = "federation.serve_profile"
	ActionServeKeys    Action = "federation.serve_keys"
	// ActionPushNotify: a notification about an event of RoomID for the
	// local user UserID goes to the push gateway at Server (the host of
	// the pusher's URL).
	ActionPushNotify Action = "push.notify"
)

// Input is what a decision is about. Fields that do not apply are empty.
type Input struct {
	Action Action `json:"action"`
	// Server is the remote server data would go to (destination or
	// requesting origin).
	Server string `json:"server"`
	RoomID string `json:"room_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
	// EventType is set when one event's type decides (e.g. an EDU type or
	// the type of a served event).
	EventType string `json:"event_type,omitempty"`
	// Route is the federation route pattern being served, when a request
	// is served ("/_matrix/federation/v1/state/{roomId}").
	Route string `json:"route,omitempty"`
}

// Decision is a policy's answer.
type Decision struct {
	Allow bool `json:"allow"`
	// Reasons explain a denial (or an allowance worth auditing).
	Reasons []string `json:"reasons,omitempty"`
}

// Decider answers whether data may leave. An error means the policy could
// not be evaluated; callers must treat it as a denial (default deny).
type Decider interface {
	Decide(ctx context.Context, in Input) (Decision, error)
}

// AllowAll is the Decider used until residency policies exist.
type AllowAll struct{}

// Decide implements Decider.
func (AllowAll) Decide(context.Context, Input) (Decision, error) {
	return Decision{Allow: true}, nil
}

// Allowed asks d and folds errors into a denial: callers get one bool and
// the reasons to log or return.
func Allowed(ctx context.Context, d Decider, in Input) (bool, []string) {
	dec, err := d.Decide(ctx, in)
	if err != nil {
		return false, []string{"policy could not be evaluated: " + err.Error()}
	}
	return dec.Allow, dec.Reasons
}
