package roomserver

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

// History visibility, as the spec's server behaviour section lists it.
func TestVisibility(t *testing.T) {
	a, b, roomID := twoServers(t, memStores, "11")
	setVis := func(v string) string {
		return send(t, a, stateReq(roomID, alice, mRoomHistoryVisibility, "", map[string]string{"history_visibility": v}))
	}
	shared := send(t, a, message(roomID, alice, "shared"))
	setVis(VisibilityInvited)
	amyInvite := send(t, a, member(roomID, alice, amy, "invite"))
	invited := send(t, a, message(roomID, alice, "invited"))
	toJoined := setVis(VisibilityJoined)
	joined := send(t, a, message(roomID, alice, "joined"))
	toWorld := setVis(VisibilityWorldReadable)
	world := send(t, a, message(roomID, alice, "world"))
	send(t, a, member(roomID, amy, amy, "join"))
	_ = b

	cases := []struct {
		event, user string
		want        bool
	}{
		{shared, carol, false}, // never joined
		{shared, bob, true},    // joined at the event
		{shared, amy, true},    // joined after it, shared visibility
		{invited, amy, true},   // invited at the event, invited visibility
		{amyInvite, amy, true}, // her own invite, though she was not invited before it
		{joined, amy, false},   // only invited at the event, joined visibility
		{toJoined, amy, true},  // visible under the visibility before it
		{toWorld, carol, true}, // visible under the visibility after it
		{world, carol, true},   // world readable
		{joined, bob, true},    // joined at the event
		{shared, "@nobody:nowhere.test", false},
	}
	for i, tc := range cases {
		got, err := a.VisibleToUser(ctxT(t), tc.event, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("case %d: %s sees event: %v (%v), want %v", i, tc.user, got, err, tc.want)
		}
	}
	servers := []struct {
		event, server string
		want          bool
	}{
		{shared, srvC, true}, {invited, srvB, true}, {invited, srvC, false},
		{joined, srvB, true}, {joined, srvC, false}, {toWorld, srvC, true}, {world, srvC, true},
	}
	for i, tc := range servers {
		got, err := a.VisibleToServer(ctxT(t), tc.event, tc.server)
		if err != nil || got != tc.want {
			t.Errorf("server case %d: %s sees event: %v (%v), want %v", i, tc.server, got, err, tc.want)
		}
	}
}

func TestStateQueries(t *testing.T) {
	a, _, roomID := twoServers(t, memStores, "12")
	name := send(t, a, stateReq(roomID, alice, "m.room.name", "", map[string]string{"name": "N"}))
	ev, err := a.CurrentStateEvent(ctxT(t), roomID, "m.room.name", "")
	if err != nil || ev.EventID() != name {
		t.Fatalf("name event %v %v", ev, err)
	}
	if _, err := a.CurrentStateEvent(ctxT(t), roomID, "m.room.topic", ""); !errors.Is(err, ErrNoStateEvent) {
		t.Errorf("missing topic: %v", err)
	}
	before, _ := a.StateAt(ctxT(t), name, StateBeforeEvent)
	after, _ := a.StateAt(ctxT(t), name, StateAfterEvent)
	if len(after) != len(before)+1 || stateMapOf(after)[StateKeyTuple{"m.room.name", ""}] != name {
		t.Errorf("state around the name event: %d then %d entries", len(before), len(after))
	}
	if m, id, err := a.Membership(ctxT(t), roomID, bob); m != "join" || id == "" || err != nil {
		t.Errorf("bob: %q %q %v", m, id, err)
	}
	if m, _, _ := a.Membership(ctxT(t), roomID, carol); m != "" {
		t.Errorf("carol: %q", m)
	}
	users, _ := a.JoinedUsers(ctxT(t), roomID)
	servers, _ := a.JoinedServers(ctxT(t), roomID)
	if !slices.Equal(users, []string{alice, bob}) || !slices.Equal(servers, []string{srvA, srvB}) {
		t.Errorf("joined %v on %v", users, servers)
	}
	if _, err := a.StateAt(ctxT(t), "$unknown", StateBeforeEvent); !errors.Is(err, ErrUnknownEvent) {
		t.Errorf("unknown event: %v", err)
	}
	if _, err := a.CurrentState(ctxT(t), "!unknown:a.test"); !errors.Is(err, ErrUnknownRoom) {
		t.Errorf("unknown room: %v", err)
	}
}

func TestAuthChainAndMissingEvents(t *testing.T) {
	a, _, roomID := twoServers(t, memStores, "11")
	var sent []string
	for range 5 {
		sent = append(sent, send(t, a, message(roomID, alice, "m")))
	}
	chain, err := a.AuthChain(ctxT(t), sent[4:], 100)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range chain {
		types = append(types, ev.Type())
	}
	// alice's message cites create, power levels, alice's join; those cite
	// the create event and alice's join.
	if !slices.Equal(types, []string{mRoomCreate, mRoomMember, mRoomPowerLevels}) {
		t.Errorf("auth chain %v", types)
	}
	if _, err := a.AuthChain(ctxT(t), sent[4:], 2); !errors.Is(err, ErrAuthChainTooLarge) {
		t.Errorf("bounded chain: %v", err)
	}
	missing, err := a.MissingEvents(ctxT(t), roomID, sent[:1], sent[4:], 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(missing); !slices.Equal(got, sent[1:4]) {
		t.Errorf("missing events %v, want %v", got, sent[1:4])
	}
	if limited, _ := a.MissingEvents(ctxT(t), roomID, sent[:1], sent[4:], 2, 0); !slices.Equal(ids(limited), sent[2:4]) {
		t.Errorf("limited to 2: %v", ids(limited))
	}
	if other, _ := a.MissingEvents(ctxT(t), "!other:a.test", nil, sent[4:], 10, 0); len(other) != 0 {
		t.Errorf("events of another room: %v", ids(other))
	}
	infos, _ := a.Events(ctxT(t), []string{sent[0], "$nope", sent[0]})
	if len(infos) != 1 || infos[0].Rejected != "" || infos[0].Outlier {
		t.Errorf("events %+v", infos)
	}
}

func ids(events []*mxcore.PDU) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.EventID()
	}
	return out
}

func TestCreateRoomOptionErrors(t *testing.T) {
	rs := newServer(t, srvA, newMemStore())
	cases := []struct {
		name    string
		opts    CreateRoomOptions
		errcode string
	}{
		{"unknown version", CreateRoomOptions{RoomVersion: "99"}, mxcore.ErrUnsupportedRoomVer},
		{"unknown preset", CreateRoomOptions{Preset: "party"}, mxcore.ErrInvalidParam},
		{"creation content not an object", CreateRoomOptions{CreationContent: []byte(`[]`)}, mxcore.ErrBadJSON},
		{"override not an object", CreateRoomOptions{PowerLevelContentOverride: []byte(`"x"`)}, mxcore.ErrBadJSON},
		{"v12 creator in power levels", CreateRoomOptions{RoomVersion: "12", PowerLevelContentOverride: []byte(`{"users":{"@alice:a.test":100}}`)}, mxcore.ErrInvalidRoomState},
		{"create in initial state", CreateRoomOptions{InitialState: []InitialStateEvent{{Type: mRoomCreate, Content: []byte(`{}`)}}}, mxcore.ErrInvalidRoomState},
		{"initial state the creator may not send", CreateRoomOptions{RoomVersion: "11", PowerLevelContentOverride: []byte(`{"state_default":200}`),
			InitialState: []InitialStateEvent{{Type: "x.y", Content: []byte(`{}`)}}}, mxcore.ErrInvalidRoomState},
		{"remote creator", CreateRoomOptions{Creator: bob}, mxcore.ErrBadJSON},
	}
	for _, tc := range cases {
		if tc.opts.Creator == "" {
			tc.opts.Creator = alice
		}
		_, err := rs.CreateRoom(ctxT(t), tc.opts)
		var mErr *mxcore.Error
		if !errors.As(err, &mErr) || mErr.ErrCode != tc.errcode || mErr.Status != http.StatusBadRequest {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.errcode)
		}
	}
	if n := len(rs.store.(*memStore).rooms); n != 0 {
		t.Errorf("failed creations left %d rooms", n)
	}
}

func TestCreateRoomPresets(t *testing.T) {
	rs := newServer(t, srvA, newMemStore())
	for _, tc := range []struct {
		opts             CreateRoomOptions
		joinRule, guests string
	}{
		{CreateRoomOptions{}, "invite", "can_join"},
		{CreateRoomOptions{Visibility: "public"}, "public", "forbidden"},
		{CreateRoomOptions{Preset: PresetPublicChat, Visibility: "private"}, "public", "forbidden"},
	} {
		roomID := createRoom(t, rs, "12", tc.opts)
		jr, _ := rs.CurrentStateEvent(ctxT(t), roomID, mRoomJoinRules, "")
		ga, _ := rs.CurrentStateEvent(ctxT(t), roomID, "m.room.guest_access", "")
		if contentField(jr, "join_rule") != tc.joinRule || contentField(ga, "guest_access") != tc.guests {
			t.Errorf("%+v: %s %s", tc.opts, jr.Content(), ga.Content())
		}
	}
	res, err := rs.CreateRoom(ctxT(t), CreateRoomOptions{Creator: alice, Preset: PresetTrustedPrivateChat, Invite: []string{amy},
		CreationContent: []byte(`{"additional_creators":["@amy:a.test","@zed:a.test"]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var content struct {
		Additional []string `json:"additional_creators"`
	}
	if err := jsonUnmarshal(res.Events[0].Content(), &content); err != nil || !slices.Equal(content.Additional, []string{amy, "@zed:a.test"}) {
		t.Errorf("additional_creators %v", content.Additional)
	}
}
