package clientapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// recordingBackfiller records what /messages asked of it and stores
// nothing.
type recordingBackfiller struct {
	mu     sync.Mutex
	limits []int
	err    error
}

func (b *recordingBackfiller) Backfill(_ context.Context, _ string, limit int) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.limits = append(b.limits, limit)
	return 0, b.err
}

func (b *recordingBackfiller) take() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.limits
	b.limits = nil
	return out
}

// TestMessagesAsksForBackfillOnlyPastTheStart: only a backwards page that
// ran out of stored events asks, for what the page still lacks, and a
// failing backfill leaves the page as stored.
func TestMessagesAsksForBackfillOnlyPastTheStart(t *testing.T) {
	e := newSyncEnv(t)
	bf := &recordingBackfiller{}
	e.api.Backfill = bf
	room := e.createRoom(e.alice)
	for _, b := range []string{"m1", "m2", "m3"} {
		e.message(room, e.alice, b)
	}
	messages := func(q url.Values) testResponse {
		return e.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/messages?"+q.Encode(), nil, e.aliceToken).want(t, http.StatusOK, "")
	}
	full := messages(url.Values{"dir": {"b"}, "limit": {"2"}})
	if got := bf.take(); len(got) != 0 {
		t.Fatalf("a full page asked for backfill: %v", got)
	}
	all := messages(url.Values{"dir": {"b"}, "limit": {"50"}})
	chunk, _ := all.body["chunk"].([]any)
	if got := bf.take(); len(got) != 1 || got[0] != 50-len(chunk) {
		t.Fatalf("paging past the start asked %v, want [%d]", got, 50-len(chunk))
	}
	if _, more := all.body["end"]; more {
		t.Fatalf("end token with nothing more: %v", all.body)
	}
	messages(url.Values{"dir": {"f"}, "limit": {"50"}})
	messages(url.Values{"dir": {"b"}, "limit": {"50"}, "to": {full.str("end")}})
	if got := bf.take(); len(got) != 0 {
		t.Fatalf("forward or bounded paging asked for backfill: %v", got)
	}
	bf.err = errors.New("no server answered")
	again := messages(url.Values{"dir": {"b"}, "limit": {"50"}})
	if got, _ := again.body["chunk"].([]any); len(got) != len(chunk) {
		t.Fatalf("a failed backfill changed the page: %d events, want %d", len(got), len(chunk))
	}
}
