package roomserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
)

// Presets of /createRoom.
const (
	PresetPrivateChat        = "private_chat"
	PresetTrustedPrivateChat = "trusted_private_chat"
	PresetPublicChat         = "public_chat"
)

// CreateRoomOptions mirror the /createRoom request body, already decoded
// and checked by the client API (which also reserves the alias and
// publishes to the directory: visibility only picks the default preset
// here).
type CreateRoomOptions struct {
	Creator     string // a user of this server
	RoomVersion string // "" for mxcore.DefaultRoomVersion
	Preset      string // "" picks public_chat for Visibility "public", else private_chat
	Visibility  string
	// CanonicalAlias is the full alias ("#local:server") made from
	// room_alias_name, or "".
	CanonicalAlias string
	Name, Topic    *string
	Invite         []string
	InitialState   []InitialStateEvent
	// PowerLevelContentOverride and CreationContent are JSON objects, or nil.
	PowerLevelContentOverride []byte
	CreationContent           []byte
	IsDirect                  bool
	// CreatorDisplayName and CreatorAvatarURL go into the creator's join.
	CreatorDisplayName, CreatorAvatarURL string
}

// InitialStateEvent is one initial_state entry.
type InitialStateEvent struct {
	Type     string
	StateKey string
	Content  []byte
}

// CreateRoomResult tells what CreateRoom made.
type CreateRoomResult struct {
	RoomID string
	// Events are the room's first events, in order.
	Events []*mxcore.PDU
	// RemoteInvites are the invitees on other servers. Inviting them takes
	// the federation /invite round trip (and the residency policy's
	// say), so the caller does it after creation.
	RemoteInvites []string
}

// CreateRoom creates a room as the client-server API's /createRoom
// describes, with its events in the order the spec requires: create,
// the creator's join, power levels, canonical alias, the preset's join
// rules, history visibility and guest access, initial_state, name, topic,
// then invites. All events are checked before any is stored, and stored
// as one batch. Errors are *mxcore.Error for bad options.
func (rs *RoomServer) CreateRoom(ctx context.Context, opts CreateRoomOptions) (CreateRoomResult, error) {
	d, err := rs.newDraft(opts)
	if err != nil {
		return CreateRoomResult{}, err
	}
	remote, err := d.addInitialEvents(opts)
	if err != nil {
		return CreateRoomResult{}, err
	}
	if err := rs.persistDraft(ctx, d); err != nil {
		return CreateRoomResult{}, err
	}
	return CreateRoomResult{RoomID: d.roomID, Events: d.events, RemoteInvites: remote}, nil
}

// persistDraft stores a new room's events as one batch.
func (rs *RoomServer) persistDraft(ctx context.Context, d *draft) error {
	inputs := make([]InputEvent, len(d.events))
	for i, ev := range d.events {
		inputs[i] = InputEvent{PDU: ev, Origin: OriginLocal, fresh: true}
	}
	release, err := rs.locks.acquire(ctx, d.roomID)
	if err != nil {
		return err
	}
	defer release()
	room, err := rs.roomForWrite(ctx, d.roomID, inputs)
	if err != nil {
		return err
	}
	_, err = rs.persistLocked(ctx, room, inputs, true)
	return err
}

func (rs *RoomServer) newDraft(opts CreateRoomOptions) (*draft, error) {
	version := opts.RoomVersion
	if version == "" {
		version = mxcore.DefaultRoomVersion
	}
	ver, ok := mxcore.GetRoomVersion(version)
	if !ok {
		e := mxcore.NewError(http.StatusBadRequest, mxcore.ErrUnsupportedRoomVer, "room version %q is not supported", version)
		return nil, e
	}
	switch opts.Preset {
	case "", PresetPrivateChat, PresetTrustedPrivateChat, PresetPublicChat:
	default:
		return nil, mxcore.InvalidParam("unknown preset " + opts.Preset)
	}
	d := &draft{rs: rs, ver: ver, state: emptyState(), byID: map[string]*mxcore.PDU{}, ts: rs.now()}
	if !ver.RoomIDFromCreateEvent {
		d.roomID = "!" + randomID(18) + ":" + rs.cfg.ServerName
	}
	return d, nil
}

// addInitialEvents builds the room's events in the spec's order and
// returns the remote invitees left to the caller.
func (d *draft) addInitialEvents(opts CreateRoomOptions) ([]string, error) {
	preset := presetOf(opts)
	local, remote := d.splitInvites(opts.Invite)
	steps := []func() error{
		func() error { return d.addCreate(opts, preset) },
		func() error { return d.addCreatorJoin(opts) },
		func() error { return d.addPowerLevels(opts, preset) },
		func() error { return d.addAlias(opts) },
		func() error { return d.addPreset(opts, preset) },
		func() error { return d.addInitialState(opts) },
		func() error { return d.addNameAndTopic(opts) },
		func() error { return d.addInvites(opts, local) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return remote, nil
}

func presetOf(opts CreateRoomOptions) string {
	switch {
	case opts.Preset != "":
		return opts.Preset
	case opts.Visibility == "public":
		return PresetPublicChat
	}
	return PresetPrivateChat
}

func (d *draft) splitInvites(invites []string) (local, remote []string) {
	seen := map[string]bool{}
	for _, u := range invites {
		if seen[u] {
			continue
		}
		seen[u] = true
		if id, err := mxcore.ParseUserID(u); err == nil && id.Server == d.rs.cfg.ServerName {
			local = append(local, u)
		} else {
			remote = append(remote, u)
		}
	}
	return local, remote
}

// addCreate writes m.room.create: the client's creation_content with the
// keys the server owns (room_version; creator up to v10) overwritten, and
// in v12 additional_creators joined by trusted_private_chat's invitees.
func (d *draft) addCreate(opts CreateRoomOptions, preset string) error {
	content, err := jsonObject(opts.CreationContent, "creation_content")
	if err != nil {
		return err
	}
	content["room_version"] = mustJSON(d.ver.ID)
	delete(content, "creator")
	if !d.ver.ImplicitRoomCreator {
		content["creator"] = mustJSON(opts.Creator)
	}
	if d.ver.PrivilegedCreators {
		if err := setAdditionalCreators(content, opts, preset); err != nil {
			return err
		}
	}
	if err := d.add(opts.Creator, mRoomCreate, "", content); err != nil {
		return err
	}
	if d.ver.RoomIDFromCreateEvent {
		d.roomID = d.events[0].RoomID()
	}
	return nil
}

func setAdditionalCreators(content map[string]json.RawMessage, opts CreateRoomOptions, preset string) error {
	var creators []string
	if raw, ok := content["additional_creators"]; ok {
		if err := json.Unmarshal(raw, &creators); err != nil {
			return mxcore.BadJSON("creation_content.additional_creators must be an array of user IDs")
		}
	}
	if preset == PresetTrustedPrivateChat {
		creators = append(creators, opts.Invite...)
	}
	creators = dedupStrings(creators)
	if len(creators) == 0 {
		delete(content, "additional_creators")
		return nil
	}
	content["additional_creators"] = mustJSON(creators)
	return nil
}

func (d *draft) addCreatorJoin(opts CreateRoomOptions) error {
	content := map[string]json.RawMessage{"membership": mustJSON("join")}
	if opts.CreatorDisplayName != "" {
		content["displayname"] = mustJSON(opts.CreatorDisplayName)
	}
	if opts.CreatorAvatarURL != "" {
		content["avatar_url"] = mustJSON(opts.CreatorAvatarURL)
	}
	return d.add(opts.Creator, mRoomMember, opts.Creator, content)
}

// addPowerLevels writes the default power levels with the client's
// override applied on top, key by key.
func (d *draft) addPowerLevels(opts CreateRoomOptions, preset string) error {
	content := defaultPowerLevels(d.ver, opts, preset)
	override, err := jsonObject(opts.PowerLevelContentOverride, "power_level_content_override")
	if err != nil {
		return err
	}
	for k, v := range override {
		content[k] = v
	}
	return d.add(opts.Creator, mRoomPowerLevels, "", content)
}

// defaultPowerLevels: the creator (v1–11; v12 creators are above all
// levels and may not be listed) and trusted_private_chat's invitees get
// 100; sensitive state needs 100; and from v12, as /createRoom requires,
// tombstones need more than state_default.
func defaultPowerLevels(ver mxcore.RoomVersion, opts CreateRoomOptions, preset string) map[string]json.RawMessage {
	users := map[string]int{}
	if !ver.PrivilegedCreators {
		users[opts.Creator] = 100
		if preset == PresetTrustedPrivateChat {
			for _, u := range opts.Invite {
				users[u] = 100
			}
		}
	}
	tombstone := 100
	if ver.PrivilegedCreators {
		tombstone = 150
	}
	events := map[string]int{
		"m.room.name": 50, "m.room.avatar": 50, "m.room.canonical_alias": 50, "m.room.topic": 50,
		mRoomPowerLevels: 100, "m.room.history_visibility": 100, "m.room.server_acl": 100,
		"m.room.encryption": 100, "m.room.tombstone": tombstone,
	}
	return map[string]json.RawMessage{
		"users": mustJSON(users), "users_default": mustJSON(0), "events": mustJSON(events),
		"events_default": mustJSON(0), "state_default": mustJSON(50),
		"ban": mustJSON(50), "kick": mustJSON(50), "redact": mustJSON(50), "invite": mustJSON(0),
		"notifications": mustJSON(map[string]int{"room": 50}),
	}
}

func (d *draft) addAlias(opts CreateRoomOptions) error {
	if opts.CanonicalAlias == "" {
		return nil
	}
	return d.add(opts.Creator, "m.room.canonical_alias", "", map[string]json.RawMessage{"alias": mustJSON(opts.CanonicalAlias)})
}

// addPreset writes the preset's join rules, history visibility and guest
// access, except where initial_state sets them (it takes precedence).
func (d *draft) addPreset(opts CreateRoomOptions, preset string) error {
	joinRule, guests := "invite", "can_join"
	if preset == PresetPublicChat {
		joinRule, guests = "public", "forbidden"
	}
	events := []struct{ typ, key, value string }{
		{mRoomJoinRules, "join_rule", joinRule},
		{"m.room.history_visibility", "history_visibility", "shared"},
		{"m.room.guest_access", "guest_access", guests},
	}
	for _, e := range events {
		if inInitialState(opts, e.typ, "") {
			continue
		}
		if err := d.add(opts.Creator, e.typ, "", map[string]json.RawMessage{e.key: mustJSON(e.value)}); err != nil {
			return err
		}
	}
	return nil
}

func inInitialState(opts CreateRoomOptions, typ, stateKey string) bool {
	for _, s := range opts.InitialState {
		if s.Type == typ && s.StateKey == stateKey {
			return true
		}
	}
	return false
}

// addInitialState writes initial_state in order, except a name or topic
// the request also gives (those keys win).
func (d *draft) addInitialState(opts CreateRoomOptions) error {
	for _, s := range opts.InitialState {
		if s.Type == mRoomCreate {
			return mxcore.NewError(http.StatusBadRequest, mxcore.ErrInvalidRoomState, "initial_state may not hold m.room.create")
		}
		if s.StateKey == "" && (s.Type == "m.room.name" && opts.Name != nil || s.Type == "m.room.topic" && opts.Topic != nil) {
			continue
		}
		content, err := jsonObject(s.Content, "initial_state content")
		if err != nil {
			return err
		}
		if err := d.add(opts.Creator, s.Type, s.StateKey, content); err != nil {
			return err
		}
	}
	return nil
}

func (d *draft) addNameAndTopic(opts CreateRoomOptions) error {
	if opts.Name != nil {
		if err := d.add(opts.Creator, "m.room.name", "", map[string]json.RawMessage{"name": mustJSON(*opts.Name)}); err != nil {
			return err
		}
	}
	if opts.Topic == nil {
		return nil
	}
	// The topic also as a text/plain m.topic block (m.room.topic schema).
	block := map[string]any{"m.text": []map[string]string{{"body": *opts.Topic, "mimetype": "text/plain"}}}
	return d.add(opts.Creator, "m.room.topic", "", map[string]json.RawMessage{"topic": mustJSON(*opts.Topic), "m.topic": mustJSON(block)})
}

func (d *draft) addInvites(opts CreateRoomOptions, local []string) error {
	for _, u := range local {
		content := map[string]json.RawMessage{"membership": mustJSON("invite")}
		if opts.IsDirect {
			content["is_direct"] = mustJSON(true)
		}
		if err := d.add(opts.Creator, mRoomMember, u, content); err != nil {
			return err
		}
	}
	return nil
}

// jsonObject decodes an optional JSON object option.
func jsonObject(raw []byte, what string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if raw == nil {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil || out == nil {
		return nil, mxcore.BadJSON(what + " must be a JSON object")
	}
	return out, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("roomserver: marshal %T: %v", v, err))
	}
	return b
}

// draft builds a chain of local events on a state kept in memory, before
// any of it is stored: a new room's first events.
type draft struct {
	rs     *RoomServer
	ver    mxcore.RoomVersion
	roomID string
	state  *stateSet
	byID   map[string]*mxcore.PDU
	events []*mxcore.PDU
	ts     int64
}

// add builds the next event on the draft and checks it against the
// draft's state, so a bad option fails before anything is stored.
func (d *draft) add(sender, typ, stateKey string, content map[string]json.RawMessage) error {
	req := EventRequest{RoomID: d.roomID, Sender: sender, Type: typ, StateKey: &stateKey, Content: mustJSON(content)}
	if err := d.rs.checkRequest(req); err != nil {
		return mxcore.BadJSON(err.Error())
	}
	in := buildInput{ver: d.ver, roomID: d.roomID, req: req, ts: d.ts}
	if n := len(d.events); n > 0 {
		in.prevs = []*mxcore.PDU{d.events[n-1]}
	}
	for _, id := range authEventIDsIn(d.state, d.ver, req) {
		in.auth = append(in.auth, d.byID[id])
	}
	pdu, err := d.rs.build(in)
	if err != nil {
		return mxcore.BadJSON(err.Error())
	}
	if err := Authorize(pdu, d); err != nil {
		return mxcore.NewError(http.StatusBadRequest, mxcore.ErrInvalidRoomState, "%s %q: %v", typ, stateKey, err)
	}
	d.byID[pdu.EventID()] = pdu
	d.events = append(d.events, pdu)
	d.state = d.state.With(typ, stateKey, pdu.EventID())
	return nil
}

// StateEvent lets the auth rules read the draft's state.
func (d *draft) StateEvent(typ, stateKey string) Event {
	id, ok := d.state.Get(typ, stateKey)
	if !ok {
		return nil
	}
	return d.byID[id]
}
