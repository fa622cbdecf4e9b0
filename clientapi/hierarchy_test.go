package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/spaces"
)

func TestHierarchyQuery(t *testing.T) {
	tests := []struct {
		query string
		want  spaces.Query
		bad   bool
	}{
		{"", spaces.Query{Root: "!r:x", MaxDepth: spaces.DefaultMaxDepth, Limit: spaces.DefaultLimit}, false},
		{"limit=3&max_depth=0&suggested_only=true", spaces.Query{Root: "!r:x", SuggestedOnly: true, MaxDepth: 0, Limit: 3}, false},
		{"limit=100000&max_depth=100000", spaces.Query{Root: "!r:x", MaxDepth: spaces.MaxMaxDepth, Limit: spaces.MaxLimit}, false},
		{"limit=0", spaces.Query{}, true},
		{"limit=-1", spaces.Query{}, true},
		{"limit=1.5", spaces.Query{}, true},
		{"max_depth=-1", spaces.Query{}, true},
		{"max_depth=two", spaces.Query{}, true},
		{"suggested_only=1", spaces.Query{}, true},
		{"suggested_only=TRUE", spaces.Query{}, true},
		{"from=x", spaces.Query{}, true},
		{"from=" + url.QueryEscape(spaces.NextToken(spaces.Query{Root: "!other:x", MaxDepth: spaces.DefaultMaxDepth, Limit: 5})), spaces.Query{}, true},
		{"from=" + url.QueryEscape(spaces.NextToken(spaces.Query{Root: "!r:x", MaxDepth: spaces.DefaultMaxDepth, Limit: 5})),
			spaces.Query{Root: "!r:x", MaxDepth: spaces.DefaultMaxDepth, Limit: spaces.DefaultLimit, Skip: 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			got, err := hierarchyQuery("!r:x", v)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// fakeRemoteDirectory answers hierarchy requests from a map and counts them.
type fakeRemoteDirectory struct {
	mu      sync.Mutex
	answers map[string]spaces.Hierarchy
	asked   []string
	servers [][]string
	// directory answers PublicRooms; bodies records what was asked.
	directory func(server string) (json.RawMessage, error)
	bodies    []string
}

func (f *fakeRemoteDirectory) Hierarchy(_ context.Context, roomID string, servers []string, _ bool) (spaces.Hierarchy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, roomID)
	f.servers = append(f.servers, servers)
	h, ok := f.answers[roomID]
	if !ok {
		return h, errors.New("no server knows the room")
	}
	return h, nil
}

func (f *fakeRemoteDirectory) PublicRooms(_ context.Context, server string, body json.RawMessage) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies = append(f.bodies, string(body))
	if f.directory == nil {
		return nil, errors.New("no directory")
	}
	return f.directory(server)
}

func remoteSummary(roomID, joinRule, roomType string, allowed ...string) spaces.Summary {
	return spaces.Summary{PublicRoom: spaces.PublicRoom{RoomID: roomID, JoinRule: joinRule, RoomType: roomType, Name: "remote " + roomID}, AllowedRoomIDs: allowed}
}

func spaceChild(roomID, order string) spaces.StrippedChild {
	return spaces.StrippedChild{Type: spaces.SpaceChildType, StateKey: roomID, Sender: "@r:remote.example",
		Content: json.RawMessage(`{"via":["remote.example"],"order":"` + order + `"}`)}
}

// TestHierarchyThroughOtherServers: a local space whose children are a
// local public room, a local private room, and a space on another server
// with children of its own. Bob sees what he may, the other server's
// answer about its space tells enough of its children that they are not
// asked about again, and the rooms it says bob's server may not see are
// not asked about at all.
func TestHierarchyThroughOtherServers(t *testing.T) {
	remote := &fakeRemoteDirectory{}
	e := newSyncEnvWith(t, func(a *API) { a.RemoteDirectory = remote })
	ctx := e.t.Context()
	create := func(preset, creation string) string {
		opts := roomserver.CreateRoomOptions{Creator: e.alice, Preset: preset}
		if creation != "" {
			opts.CreationContent = []byte(creation)
		}
		res, err := e.api.Rooms.CreateRoom(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		return res.RoomID
	}
	space := create(roomserver.PresetPublicChat, `{"type":"m.space"}`)
	public := create(roomserver.PresetPublicChat, "")
	private := create(roomserver.PresetPrivateChat, "")
	const remoteSpace, remoteRoom, hidden, restricted, gone = "!rs:remote.example", "!rc:remote.example", "!hid:remote.example", "!res:remote.example", "!gone:remote.example"
	for i, child := range []string{public, private, remoteSpace} {
		e.send(space, e.alice, spaces.SpaceChildType, &child, map[string]any{"via": []string{testServer, "remote.example"}, "order": string(rune('a' + i))})
	}
	remote.answers = map[string]spaces.Hierarchy{remoteSpace: {
		Room: spaces.Room{Summary: remoteSummary(remoteSpace, "public", spaces.RoomTypeSpace),
			ChildrenState: []spaces.StrippedChild{spaceChild(remoteRoom, "1"), spaceChild(hidden, "2"), spaceChild(restricted, "3"), spaceChild(gone, "4")}},
		Children:     []spaces.Summary{remoteSummary(remoteRoom, "public", ""), remoteSummary(restricted, "restricted", "", public)},
		Inaccessible: []string{hidden},
	}}
	walk := func(token string) []string {
		resp := e.do("GET", "/_matrix/client/v1/rooms/"+url.PathEscape(space)+"/hierarchy", nil, token).want(t, http.StatusOK, "")
		rooms, _ := resp.body["rooms"].([]any)
		var ids []string
		for _, r := range rooms {
			m, _ := r.(map[string]any)
			ids = append(ids, m["room_id"].(string))
		}
		return ids
	}

	got := walk(e.bobToken)
	// Bob is in no room but the restricted room's allowed one is not his.
	if want := []string{space, public, remoteSpace, remoteRoom}; !slices.Equal(got, want) {
		t.Errorf("bob sees %v, want %v", got, want)
	}
	// Asked: the remote space; the child that was not in its answer; never
	// the inaccessible one, nor the public child it described.
	if !slices.Equal(remote.asked, []string{remoteSpace, gone}) {
		t.Errorf("asked other servers about %v", remote.asked)
	}
	if !slices.Equal(remote.servers[0], []string{"remote.example"}) {
		t.Errorf("asked servers %v, want the via list without this server", remote.servers[0])
	}
	e.membership(public, e.bob, "join")
	if got, want := walk(e.bobToken), []string{space, public, remoteSpace, remoteRoom, restricted}; !slices.Equal(got, want) {
		t.Errorf("bob, in the allowed room, sees %v, want %v", got, want)
	}
	if got, want := walk(e.aliceToken), []string{space, public, private, remoteSpace, remoteRoom, restricted}; !slices.Equal(got, want) {
		t.Errorf("alice sees %v, want %v", got, want)
	}

	t.Run("room summary of a room on another server", func(t *testing.T) {
		path := "/_matrix/client/v1/room_summary/" + url.PathEscape(remoteSpace) + "?via=remote.example"
		anon := e.do("GET", path, nil, "").want(t, http.StatusOK, "")
		if anon.str("name") != "remote "+remoteSpace || anon.body["membership"] != nil {
			t.Errorf("anonymous summary %v", anon.body)
		}
		if got := e.do("GET", path, nil, e.bobToken).want(t, http.StatusOK, ""); got.str("membership") != "leave" {
			t.Errorf("bob's summary %v", got.body)
		}
		e.do("GET", "/_matrix/client/v1/room_summary/"+url.PathEscape(gone), nil, e.bobToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
		e.do("GET", "/_matrix/client/v1/room_summary/"+url.PathEscape(private), nil, e.bobToken).want(t, http.StatusNotFound, "M_NOT_FOUND")
		e.do("GET", "/_matrix/client/v1/room_summary/"+url.PathEscape(public), nil, "").want(t, http.StatusOK, "")
		e.do("GET", "/_matrix/client/v1/room_summary/"+url.PathEscape("#nope:"+testServer), nil, "").want(t, http.StatusNotFound, "M_NOT_FOUND")
		e.do("GET", "/_matrix/client/v1/room_summary/nonsense", nil, "").want(t, http.StatusBadRequest, "M_INVALID_PARAM")
	})
	t.Run("anonymous remote summaries are limited per address", func(t *testing.T) {
		path := "/_matrix/client/v1/room_summary/" + url.PathEscape(remoteSpace) + "?via=remote.example"
		limited := 0
		for i := 0; i < anonymousLookupsBurst+1; i++ {
			if r := e.do("GET", path, nil, ""); r.status == http.StatusTooManyRequests && r.errcode() == "M_LIMIT_EXCEEDED" {
				limited++
			}
		}
		if limited == 0 {
			t.Error("no anonymous lookup was limited")
		}
		e.do("GET", path, nil, e.bobToken).want(t, http.StatusOK, "")
		e.do("GET", "/_matrix/client/v1/room_summary/"+url.PathEscape(public), nil, "").want(t, http.StatusOK, "")
		e.clock.advance(time.Minute)
		e.do("GET", path, nil, "").want(t, http.StatusOK, "")
	})
	t.Run("a private root", func(t *testing.T) {
		e.do("GET", "/_matrix/client/v1/rooms/"+url.PathEscape(private)+"/hierarchy", nil, e.bobToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
		e.do("GET", "/_matrix/client/v1/rooms/"+url.PathEscape("!unknown:"+testServer)+"/hierarchy", nil, e.bobToken).want(t, http.StatusForbidden, "M_FORBIDDEN")
	})
}
