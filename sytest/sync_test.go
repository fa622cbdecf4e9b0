package sytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestSyncAcrossUsersAndRestarts: alice sees her new room in an initial
// sync, bob sees his invite, a long-poll of alice's returns when bob
// speaks, an empty long-poll returns after its timeout with a token of
// the same kind, and a token survives a restart of the server.
func TestSyncAcrossUsersAndRestarts(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"name": "Sync", "invite": []string{bob.id}})

		initial := alice.ok("GET", "/sync", nil)
		if syncRoom(initial, "join", roomID) == nil {
			t.Fatalf("alice's initial sync lacks her room: %v", initial["rooms"])
		}
		if syncRoom(bob.ok("GET", "/sync", nil), "invite", roomID) == nil {
			t.Fatal("bob's initial sync lacks his invite")
		}
		bob.ok("POST", "/join/"+url.PathEscape(roomID), map[string]any{})
		next := syncToken(t, alice.ok("GET", "/sync?since="+url.QueryEscape(str(initial, "next_batch")), nil))

		next = checkLongPollWakes(t, s, alice, bob, roomID, next)
		next = checkEmptyLongPoll(t, alice, next)

		filterID := str(alice.ok("POST", "/user/"+url.PathEscape(alice.id)+"/filter",
			map[string]any{"room": map[string]any{"timeline": map[string]any{"limit": 1}}}), "filter_id")

		s.Restart()
		bob = relogin(t, s, bob)
		alice = relogin(t, s, alice)
		bob.send(roomID, "after-restart-1", "after the restart")
		bob.send(roomID, "after-restart-2", "and again")
		resp := alice.ok("GET", "/sync?timeout=10000&since="+url.QueryEscape(next), nil)
		if got := syncBodies(syncRoom(resp, "join", roomID)); len(got) != 2 || got[0] != "after the restart" {
			t.Errorf("sync from a token of before the restart: %v", got)
		}
		// The filter uploaded before the restart still applies.
		resp = alice.ok("GET", "/sync?filter="+url.QueryEscape(filterID)+"&since="+url.QueryEscape(next), nil)
		if got := syncBodies(syncRoom(resp, "join", roomID)); len(got) != 1 || got[0] != "and again" {
			t.Errorf("sync with a filter of before the restart: %v", got)
		}
	})
}

// checkLongPollWakes holds a long-poll of alice's open while bob sends a
// message, and checks that it returns with that message.
func checkLongPollWakes(t *testing.T, s *harness.Server, alice, bob roomUser, roomID, since string) string {
	t.Helper()
	sent := make(chan error, 1)
	go func() {
		// Let the poll start waiting; the answer must be the same if the
		// message lands first.
		time.Sleep(300 * time.Millisecond)
		sent <- sendRaw(s, bob, roomID, "wake-1", "hi alice")
	}()
	resp := alice.ok("GET", "/sync?timeout=25000&since="+url.QueryEscape(since), nil)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	got := syncBodies(syncRoom(resp, "join", roomID))
	if len(got) != 1 || got[0] != "hi alice" {
		t.Fatalf("the long-poll returned %v, want bob's message: %s", got, mustMarshal(resp))
	}
	return syncToken(t, resp)
}

// checkEmptyLongPoll: nothing happens, so the poll ends at its timeout
// with no rooms and a token of the same form.
func checkEmptyLongPoll(t *testing.T, alice roomUser, since string) string {
	t.Helper()
	resp := alice.ok("GET", "/sync?timeout=300&since="+url.QueryEscape(since), nil)
	rooms, _ := resp["rooms"].(map[string]any)
	if joined, _ := rooms["join"].(map[string]any); len(joined) != 0 {
		t.Errorf("an empty long-poll returned rooms: %v", joined)
	}
	next := syncToken(t, resp)
	if next != since {
		t.Errorf("an empty long-poll moved the token from %q to %q", since, next)
	}
	return next
}

// relogin logs a user in again: access tokens survive restarts, but a
// fresh session also checks that nothing depended on the old process.
func relogin(t *testing.T, s *harness.Server, u roomUser) roomUser {
	t.Helper()
	local := strings.TrimPrefix(strings.Split(u.id, ":")[0], "@")
	u.s, u.token = s, s.Login(local, local+"-password")
	return u
}

// sendRaw sends a message without the test's t, for use off the test
// goroutine.
func sendRaw(s *harness.Server, u roomUser, roomID, txnID, body string) error {
	raw, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": body})
	path := s.ClientURL + clientV3 + roomPath(roomID, "/send/m.room.message/"+txnID)
	req, err := http.NewRequest("PUT", path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	resp, err := s.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("send: status %d", resp.StatusCode)
	}
	return nil
}

// syncToken returns next_batch, which must be a room-events token.
func syncToken(t *testing.T, resp map[string]any) string {
	t.Helper()
	next := str(resp, "next_batch")
	if !strings.HasPrefix(next, "s") {
		t.Fatalf("next_batch %q is not a sync token", next)
	}
	return next
}

func syncRoom(resp map[string]any, kind, roomID string) map[string]any {
	rooms, _ := resp["rooms"].(map[string]any)
	byID, _ := rooms[kind].(map[string]any)
	room, _ := byID[roomID].(map[string]any)
	return room
}

// syncBodies lists the bodies of the messages in a room's timeline.
func syncBodies(room map[string]any) []string {
	tl, _ := room["timeline"].(map[string]any)
	events, _ := tl["events"].([]any)
	var out []string
	for _, e := range events {
		ev, _ := e.(map[string]any)
		if ev["type"] == "m.room.message" {
			content, _ := ev["content"].(map[string]any)
			body, _ := content["body"].(string)
			out = append(out, body)
		}
	}
	return out
}

func mustMarshal(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// TestSyncLongPollDoesNotHoldUpShutdown: a long-poll open when the server
// is told to stop ends at once, so the process exits cleanly and quickly.
func TestSyncLongPollDoesNotHoldUpShutdown(t *testing.T) {
	s := accountServer(t, harness.SQLite)
	alice := newRoomUser(t, s, "alice")
	alice.createRoom(map[string]any{"name": "Quiet"})
	since := syncToken(t, alice.ok("GET", "/sync", nil))
	polled := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.ClientURL+clientV3+"/sync?timeout=120000&since="+url.QueryEscape(since), nil)
		req.Header.Set("Authorization", "Bearer "+alice.token)
		resp, err := (&http.Client{Timeout: 3 * time.Minute}).Do(req)
		if err != nil {
			polled <- 0
			return
		}
		resp.Body.Close()
		polled <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond)
	s.Stop() // fails the test unless the exit is clean within 20s
	if status := <-polled; status != http.StatusOK {
		t.Errorf("the open long-poll ended with status %d, want an empty 200", status)
	}
}
