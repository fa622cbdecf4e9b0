package clientapi

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeStream is a stream of global account data events, one per change,
// for testing how /sync drives its streams.
type fakeStream struct {
	mu     sync.Mutex
	events []string // events[i] is at position i+1
	reads  []streamRead
}

func (f *fakeStream) position(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.events)), nil
}

func (f *fakeStream) add(_ context.Context, read *streamRead, resp *syncResponse) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, *read)
	for _, ev := range f.events[read.From:read.UpTo] {
		resp.AccountData.Events = append(resp.AccountData.Events, map[string]any{"type": ev, "content": map[string]any{}})
	}
	return nil
}

func (f *fakeStream) append(s *syncServer, user, typ string) {
	f.mu.Lock()
	f.events = append(f.events, typ)
	pos := int64(len(f.events))
	f.mu.Unlock()
	s.notify(streamAccountData, pos, "", user)
}

// accountDataTypes lists the global account data types of a response,
// leaving out m.push_rules, which every initial sync carries (push_test.go
// checks it).
func accountDataTypes(r testResponse) []string {
	var out []string
	ad, _ := r.body["account_data"].(map[string]any)
	evs, _ := ad["events"].([]any)
	for _, ev := range evs {
		if typ := ev.(map[string]any)["type"].(string); typ != pushRulesType {
			out = append(out, typ)
		}
	}
	return out
}

func TestSyncDrivesOtherStreamsFromTheirOwnPositions(t *testing.T) {
	e := newSyncEnv(t)
	f := &fakeStream{}
	e.api.syncs.addStream(streamAccountData, f)
	f.append(e.api.syncs, e.alice, "a.one")

	first := e.sync(e.aliceToken, nil)
	if got := accountDataTypes(first); len(got) != 1 || got[0] != "a.one" {
		t.Fatalf("initial sync account data %v", got)
	}
	next := first.str("next_batch")
	tok, err := parseSyncToken(next)
	if err != nil || tok.Streams[streamAccountData] != 1 {
		t.Fatalf("next_batch %q does not carry the stream position", next)
	}

	done := make(chan testResponse, 1)
	go func() { done <- e.sync(e.aliceToken, url.Values{"since": {next}, "timeout": {"30000"}}) }()
	for e.api.syncs.notifier.waitersOf(e.alice) == 0 {
		time.Sleep(time.Millisecond)
	}
	f.append(e.api.syncs, e.alice, "a.two")
	select {
	case r := <-done:
		if got := accountDataTypes(r); len(got) != 1 || got[0] != "a.two" {
			t.Errorf("incremental sync account data %v, want only a.two", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("long-poll not woken by the stream's notice")
	}
	last := f.reads[len(f.reads)-1]
	if last.From != 1 || last.UpTo != 2 || last.Initial || last.UserID != e.alice {
		t.Errorf("stream read %+v", last)
	}
}

func TestSyncStreamTokenFromBeforeARestartReadsFromZero(t *testing.T) {
	e := newSyncEnv(t)
	f := &fakeStream{}
	e.api.syncs.addStream(streamAccountData, f)
	f.append(e.api.syncs, e.alice, "a.one")
	since := syncToken{}
	since.Streams[streamAccountData] = 99 // the stream was longer before
	r := e.sync(e.aliceToken, url.Values{"since": {since.String()}})
	if got := accountDataTypes(r); len(got) != 1 {
		t.Errorf("account data %v: a token beyond the stream must resend its state", got)
	}
}

func TestStreamReadIsJoinedAndJoinedRoomEntry(t *testing.T) {
	read := &streamRead{Joined: []string{"!a:x", "!b:x"}}
	if !read.isJoined("!b:x") || read.isJoined("!c:x") {
		t.Error("isJoined wrong")
	}
	resp := newSyncResponse(syncToken{})
	if !resp.empty() {
		t.Fatal("new response not empty")
	}
	jr := resp.joinedRoom("!a:x")
	jr.Ephemeral.Events = append(jr.Ephemeral.Events, map[string]any{"type": "m.typing"})
	if resp.joinedRoom("!a:x") != jr || resp.empty() {
		t.Error("joinedRoom must create one entry and make the response non-empty")
	}
	if jr.Timeline.Events == nil || jr.State.Events == nil {
		t.Error("an entry made for a stream must still have the spec's shape")
	}
}
