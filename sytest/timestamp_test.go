package sytest

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

func timestampPath(roomID string, ts int64, dir string) string {
	return fmt.Sprintf("/_matrix/client/v1/rooms/%s/timestamp_to_event?ts=%d&dir=%s", url.PathEscape(roomID), ts, dir)
}

// eventTS reads an event's origin_server_ts.
func eventTS(u roomUser, roomID, eventID string) int64 {
	u.t.Helper()
	ts, _ := u.ok("GET", roomPath(roomID, "/event/"+url.PathEscape(eventID)), nil)["origin_server_ts"].(float64)
	return int64(ts)
}

// eventSender reads an event's sender.
func eventSender(u roomUser, roomID, eventID string) string {
	u.t.Helper()
	return str(u.ok("GET", roomPath(roomID, "/event/"+url.PathEscape(eventID)), nil), "sender")
}

// TestTimestampToEvent: the nearest event in either direction, bounded by
// what the caller may see; 404 past the ends; parameter, membership and
// token errors.
func TestTimestampToEvent(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "eve")
		roomID := alice.createRoom(map[string]any{"preset": "public_chat", "initial_state": []any{
			map[string]any{"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": "joined"}},
		}})
		m1 := alice.send(roomID, "t1", "one")
		time.Sleep(20 * time.Millisecond) // distinct timestamps
		m2 := alice.send(roomID, "t2", "two")
		ts1, ts2 := eventTS(alice, roomID, m1), eventTS(alice, roomID, m2)
		if ts2 <= ts1 {
			t.Fatalf("timestamps %d, %d not increasing", ts1, ts2)
		}
		get := func(u roomUser, ts int64, dir string) harness.Response {
			return u.s.Do("GET", timestampPath(roomID, ts, dir), nil, u.token)
		}
		cases := []struct {
			ts   int64
			dir  string
			want string
		}{{ts1 + 1, "f", m2}, {ts1, "f", m1}, {ts2 - 1, "b", m1}, {ts2, "b", m2}}
		for _, c := range cases {
			got := want(t, get(alice, c.ts, c.dir), http.StatusOK, "")
			if str(got, "event_id") != c.want {
				t.Errorf("ts %d dir %s: %v, want %s", c.ts, c.dir, got, c.want)
			}
			if _, ok := got["origin_server_ts"].(float64); !ok {
				t.Errorf("no origin_server_ts: %v", got)
			}
		}
		want(t, get(alice, ts2+3_600_000, "f"), http.StatusNotFound, "M_NOT_FOUND")
		want(t, get(alice, 1, "b"), http.StatusNotFound, "M_NOT_FOUND")

		// bob joins later: the messages sent under "joined" visibility
		// before his join are hidden from him (the room's first events, from
		// before the visibility was set, fall under the default "shared").
		bob.ok("POST", roomPath(roomID, "/join"), map[string]any{})
		if got := want(t, get(bob, ts2, "b"), http.StatusOK, ""); str(got, "event_id") == m1 || str(got, "event_id") == m2 {
			t.Errorf("bob found a message from before he joined: %v", got)
		}
		if got := want(t, get(bob, ts1, "f"), http.StatusOK, ""); str(got, "event_id") == m1 || str(got, "event_id") == m2 {
			t.Errorf("bob found a message from before he joined: %v", got)
		}

		// More hidden events than one batch: the walk goes on to carol's
		// join, the first event she may see.
		for i := range 110 {
			alice.send(roomID, fmt.Sprintf("many%d", i), "hidden from carol")
		}
		carol := newRoomUser(t, s, "carol")
		carol.ok("POST", roomPath(roomID, "/join"), map[string]any{})
		if got := want(t, get(carol, ts2+1, "f"), http.StatusOK, ""); str(got, "event_id") == "" || eventSender(carol, roomID, str(got, "event_id")) != carol.id {
			t.Errorf("carol's first visible event: %v", got)
		}

		want(t, get(eve, ts1, "f"), http.StatusForbidden, "M_FORBIDDEN")
		want(t, s.Do("GET", timestampPath("!unknown:"+s.Name, ts1, "f"), nil, alice.token), http.StatusForbidden, "M_FORBIDDEN")
		want(t, get(alice, ts1, "x"), http.StatusBadRequest, "M_INVALID_PARAM")
		want(t, s.Do("GET", fmt.Sprintf("/_matrix/client/v1/rooms/%s/timestamp_to_event?dir=f", url.PathEscape(roomID)), nil, alice.token), http.StatusBadRequest, "M_MISSING_PARAM")
		want(t, s.Do("GET", fmt.Sprintf("/_matrix/client/v1/rooms/%s/timestamp_to_event?ts=x&dir=f", url.PathEscape(roomID)), nil, alice.token), http.StatusBadRequest, "M_INVALID_PARAM")
		want(t, s.Do("GET", timestampPath("bad", ts1, "f"), nil, alice.token), http.StatusBadRequest, "M_INVALID_PARAM")
		want(t, s.Do("GET", timestampPath(roomID, ts1, "f"), nil, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
	})
}
