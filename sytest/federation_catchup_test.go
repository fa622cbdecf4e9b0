package sytest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestRestartedServerIsCaughtUpAtOnce: A backs off ten minutes after a
// first failure to reach a server (federation.retry_backoff_base), far
// longer than this test waits. C stops, A's user talks and A fails to
// deliver; C starts again and its user, who sends nothing (C shares no
// presence either), still receives every message: C tells A at its start
// that it is back, and A retries at once instead of at its next retry.
func TestRestartedServerIsCaughtUpAtOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a := harness.Start(t, harness.Options{Backend: backend, Federation: true, SharedCA: true,
			Env: []string{"WARBLER_FEDERATION__RETRY_BACKOFF_BASE=10m"}})
		c := harness.Start(t, harness.Options{Backend: backend, Federation: true, SharedCA: true,
			Env: []string{"WARBLER_PRESENCE__ENABLED=false"}})
		alice, carol := newRoomUser(t, a, "alice"), newRoomUser(t, c, "carol")
		roomID := alice.createRoom(map[string]any{"preset": "public_chat", "name": "catch-up"})
		carol.ok("POST", "/join/"+url.PathEscape(roomID)+"?via="+url.QueryEscape(a.Name), map[string]any{})
		waitMember(t, alice, roomID, carol.id)
		receiver := &syncedUser{roomUser: carol}
		receiver.since = syncToken(t, carol.ok("GET", "/sync?timeout=0", nil))

		c.Stop()
		var sent []string
		for i := range 3 {
			body := fmt.Sprintf("sent while C was down %d", i)
			alice.send(roomID, fmt.Sprintf("down-%d", i), body)
			sent = append(sent, body)
		}
		waitLog(t, a, "destination unreachable", "destination="+c.Name)
		c.Launch()
		receiver.await(t, roomID, sent...)
	})
}

// waitLog waits until one line of s's log holds every part.
func waitLog(t *testing.T, s *harness.Server, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(deliveryTimeout)
	for time.Now().Before(deadline) {
		for line := range strings.Lines(s.Logs()) {
			if containsAll(line, parts) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never logged a line with %q", s.Name, parts)
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
