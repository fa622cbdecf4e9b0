package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
)

// denyRooms allows everything but the rooms it names.
type denyRooms map[string]bool

func (d denyRooms) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	return policy.Decision{Allow: !d[in.RoomID]}, nil
}

// spaceWorld is a space on readServer with children of every kind.
type spaceWorld struct {
	*readEnv
	space, public, private, restricted, suggested string
}

func newSpaceWorld(t *testing.T, configure func(*Routes)) *spaceWorld {
	e := newReadEnv(t, configure)
	w := &spaceWorld{readEnv: e}
	w.space = w.create(roomserver.PresetPublicChat, `{"type":"m.space"}`, nil)
	w.public = w.create(roomserver.PresetPublicChat, "", nil)
	w.private = w.create(roomserver.PresetPrivateChat, "", nil)
	allow := []byte(`{"join_rule":"restricted","allow":[{"type":"m.room_membership","room_id":"` + e.roomID + `"}]}`)
	w.restricted = w.create(roomserver.PresetPrivateChat, "", []roomserver.InitialStateEvent{{Type: "m.room.join_rules", Content: allow}})
	w.suggested = w.create(roomserver.PresetPublicChat, "", nil)
	for i, child := range []string{w.public, w.private, w.restricted, "!elsewhere:c.example", w.suggested} {
		content := map[string]any{"via": []string{readServer}, "order": string(rune('a' + i))}
		if child == w.suggested {
			content["suggested"] = true
		}
		w.child(child, content)
	}
	w.child("!removed:"+readServer, map[string]any{})
	return w
}

func (w *spaceWorld) create(preset, creation string, state []roomserver.InitialStateEvent) string {
	w.t.Helper()
	opts := roomserver.CreateRoomOptions{Creator: readAlice, RoomVersion: "10", Preset: preset, InitialState: state}
	if creation != "" {
		opts.CreationContent = []byte(creation)
	}
	created, err := w.rs.CreateRoom(w.t.Context(), opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return created.RoomID
}

func (w *spaceWorld) child(roomID string, content any) {
	w.t.Helper()
	raw, _ := json.Marshal(content)
	if _, err := w.rs.SendEvent(w.t.Context(), roomserver.EventRequest{RoomID: w.space, Sender: readAlice, Type: "m.space.child", StateKey: &roomID, Content: raw}); err != nil {
		w.t.Fatal(err)
	}
}

// hierarchyOf asks as remoteServer.
func (w *spaceWorld) hierarchyOf(roomID, query string) readResponse {
	return w.get(remoteServer, "/v1/hierarchy/"+url.PathEscape(roomID)+"?"+query)
}

func childIDs(body map[string]any) (children, inaccessible []string) {
	list, _ := body["children"].([]any)
	for _, c := range list {
		m, _ := c.(map[string]any)
		id, _ := m["room_id"].(string)
		children = append(children, id)
	}
	in, _ := body["inaccessible_children"].([]any)
	for _, id := range in {
		s, _ := id.(string)
		inaccessible = append(inaccessible, s)
	}
	return children, inaccessible
}

func TestServeHierarchy(t *testing.T) {
	w := newSpaceWorld(t, nil)
	resp := w.hierarchyOf(w.space, "")
	if resp.status != http.StatusOK {
		t.Fatalf("status %d: %s", resp.status, resp.raw)
	}
	room, _ := resp.body["room"].(map[string]any)
	if room["room_id"] != w.space || room["room_type"] != "m.space" || room["room_version"] != "10" {
		t.Errorf("room = %v", room)
	}
	if state, _ := room["children_state"].([]any); len(state) != 5 {
		t.Errorf("children_state has %d events, want the 5 valid children", len(state))
	}
	children, inaccessible := childIDs(resp.body)
	// The room on c.example is not known here: left out.
	if !slices.Equal(children, []string{w.public, w.suggested}) || !slices.Equal(inaccessible, []string{w.private, w.restricted}) {
		t.Errorf("children %v inaccessible %v", children, inaccessible)
	}
	if w.decider.last().RoomID != w.space || w.decider.last().Action != policy.ActionServeRoomData {
		t.Errorf("policy asked %+v", w.decider.last())
	}

	t.Run("suggested only", func(t *testing.T) {
		children, inaccessible := childIDs(w.hierarchyOf(w.space, "suggested_only=true").body)
		if !slices.Equal(children, []string{w.suggested}) || len(inaccessible) != 0 {
			t.Errorf("children %v inaccessible %v", children, inaccessible)
		}
	})
	t.Run("a member of the allowed room's server sees the restricted child", func(t *testing.T) {
		w.remoteJoin("@bob:" + remoteServer)
		body := w.hierarchyOf(w.space, "").body
		children, inaccessible := childIDs(body)
		if !slices.Contains(children, w.restricted) || !slices.Equal(inaccessible, []string{w.private}) {
			t.Errorf("children %v inaccessible %v", children, inaccessible)
		}
		list, _ := body["children"].([]any)
		for _, c := range list {
			m, _ := c.(map[string]any)
			if m["room_id"] == w.restricted {
				if ids, _ := m["allowed_room_ids"].([]any); len(ids) != 1 || ids[0] != w.roomID {
					t.Errorf("allowed_room_ids = %v", m["allowed_room_ids"])
				}
			}
		}
	})
	for name, tc := range map[string]struct {
		roomID, query string
		status        int
		errcode       string
	}{
		"a room the server may not see": {w.private, "", http.StatusNotFound, "M_NOT_FOUND"},
		"an unknown room":               {"!nowhere:" + readServer, "", http.StatusNotFound, "M_NOT_FOUND"},
		"bad suggested_only":            {w.space, "suggested_only=yes", http.StatusBadRequest, "M_INVALID_PARAM"},
	} {
		t.Run(name, func(t *testing.T) {
			if r := w.hierarchyOf(tc.roomID, tc.query); r.status != tc.status || r.errcode() != tc.errcode {
				t.Errorf("got %d %s, want %d %s", r.status, r.errcode(), tc.status, tc.errcode)
			}
		})
	}
}

func TestServeHierarchyAsksThePolicyPerRoom(t *testing.T) {
	deny := denyRooms{}
	w := newSpaceWorld(t, func(rt *Routes) { rt.Policy = deny })
	deny[w.public] = true
	children, inaccessible := childIDs(w.hierarchyOf(w.space, "").body)
	if slices.Contains(children, w.public) || !slices.Contains(inaccessible, w.public) {
		t.Errorf("a child the policy denies: children %v inaccessible %v", children, inaccessible)
	}
	deny[w.space] = true
	if r := w.hierarchyOf(w.space, ""); r.status != http.StatusForbidden {
		t.Errorf("a space the policy denies: %d %s", r.status, r.raw)
	}
}

// directoryRecorder serves a fixed page and records the query.
type directoryRecorder struct{ got []json.RawMessage }

func (d *directoryRecorder) ServePublicRooms(_ context.Context, body json.RawMessage) (any, error) {
	d.got = append(d.got, body)
	return map[string]any{
		"chunk":                     []map[string]any{{"room_id": "!one:a.example", "num_joined_members": 2}, {"room_id": "!two:a.example", "num_joined_members": 1}},
		"next_batch":                "d2",
		"total_room_count_estimate": 2,
	}, nil
}

func TestServePublicRooms(t *testing.T) {
	dir := &directoryRecorder{}
	deny := denyRooms{"!two:a.example": true}
	e := newReadEnv(t, func(rt *Routes) { rt.Directory = dir; rt.Policy = deny })
	get := e.get(remoteServer, "/v1/publicRooms?limit=5&since=d1&include_all_networks=true")
	if get.status != http.StatusOK {
		t.Fatalf("GET: %d %s", get.status, get.raw)
	}
	var asked map[string]any
	_ = json.Unmarshal(dir.got[0], &asked)
	if asked["limit"] != float64(5) || asked["since"] != "d1" || asked["include_all_networks"] != true {
		t.Errorf("GET became the query %s", dir.got[0])
	}
	chunk, _ := get.body["chunk"].([]any)
	if len(chunk) != 1 || get.body["next_batch"] != "d2" {
		t.Errorf("the room the policy denies is served, or the page lost its token: %v", get.body)
	}
	post := e.do(remoteServer, http.MethodPost, "/v1/publicRooms", map[string]any{"filter": map[string]any{"generic_search_term": "x"}})
	if post.status != http.StatusOK || string(dir.got[1]) != `{"filter":{"generic_search_term":"x"}}` {
		t.Errorf("POST: %d, query %s", post.status, dir.got[1])
	}
	for _, q := range []string{"limit=-1", "limit=x", "include_all_networks=maybe"} {
		if r := e.get(remoteServer, "/v1/publicRooms?"+q); r.status != http.StatusBadRequest || r.errcode() != "M_INVALID_PARAM" {
			t.Errorf("%s: %d %s", q, r.status, r.raw)
		}
	}
}
