package federation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/spaces"
)

// scriptedRequester answers each server from a map of status and body,
// and records who was asked.
type scriptedRequester struct {
	mu      sync.Mutex
	answers map[string]func(path string) (*Response, error)
	asked   []string
}

func (s *scriptedRequester) Do(_ context.Context, dest, _, path string, _ any) (*Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, dest)
	answer, ok := s.answers[dest]
	if !ok {
		return nil, errors.New("connection refused")
	}
	return answer(path)
}

func jsonAnswer(status int, v any) func(string) (*Response, error) {
	return func(string) (*Response, error) {
		raw, _ := json.Marshal(v)
		return &Response{Status: status, Body: raw}, nil
	}
}

func TestDiscoveryFetcherHierarchy(t *testing.T) {
	const roomID = "!space:a.example"
	good := spaces.Hierarchy{Room: spaces.Room{Summary: spaces.Summary{PublicRoom: spaces.PublicRoom{RoomID: roomID, Name: "space"}}}}
	clock := newFakeClock()
	req := &scriptedRequester{answers: map[string]func(string) (*Response, error){
		"wrong.example":  jsonAnswer(200, spaces.Hierarchy{Room: spaces.Room{Summary: spaces.Summary{PublicRoom: spaces.PublicRoom{RoomID: "!other:x"}}}}),
		"denies.example": jsonAnswer(404, map[string]string{"errcode": "M_NOT_FOUND", "error": "no"}),
		"a.example":      jsonAnswer(200, good),
	}}
	f := &DiscoveryFetcher{ServerName: "self.example", Client: req, Now: clock.Now}
	servers := []string{"self.example", "down.example", "wrong.example", "denies.example", "a.example"}
	if _, err := f.Hierarchy(t.Context(), roomID, servers, false); !errors.Is(err, ErrNoServerAnswered) {
		t.Fatalf("three servers failing: err = %v, want ErrNoServerAnswered", err)
	}
	if strings.Join(req.asked, " ") != "down.example wrong.example denies.example" {
		t.Errorf("asked %v: want at most three, never this server", req.asked)
	}
	req.asked = nil
	h, err := f.Hierarchy(t.Context(), roomID, []string{"wrong.example", "a.example"}, false)
	if err != nil || h.Room.Name != "space" || h.Room.ChildrenState == nil || h.Children == nil {
		t.Fatalf("got %+v, %v", h, err)
	}
	if _, err := f.Hierarchy(t.Context(), roomID, []string{"a.example"}, false); err != nil || len(req.asked) != 2 {
		t.Errorf("a second request within the cache time asked again: %v %v", req.asked, err)
	}
	if _, err := f.Hierarchy(t.Context(), roomID, []string{"a.example"}, true); err != nil || len(req.asked) != 3 {
		t.Errorf("suggested_only shares the cache entry: %v", req.asked)
	}
	clock.Advance(hierarchyCacheTTL + time.Second)
	if _, err := f.Hierarchy(t.Context(), roomID, []string{"a.example"}, false); err != nil || len(req.asked) != 4 {
		t.Errorf("an expired entry was reused: %v", req.asked)
	}
}

func TestBoundHierarchy(t *testing.T) {
	var h spaces.Hierarchy
	for i := 0; i < 3*maxAnswerChildren; i++ {
		h.Children = append(h.Children, spaces.Summary{PublicRoom: spaces.PublicRoom{RoomID: "!r:x"}}, spaces.Summary{})
		h.Inaccessible = append(h.Inaccessible, "!i:x")
	}
	for i := 0; i < 2*maxAnswerEvents; i++ {
		h.Room.ChildrenState = append(h.Room.ChildrenState, spaces.StrippedChild{})
	}
	b := boundHierarchy(h)
	if len(b.Children) != maxAnswerChildren || len(b.Inaccessible) != maxAnswerChildren || len(b.Room.ChildrenState) != maxAnswerEvents {
		t.Errorf("bounded to %d children, %d inaccessible, %d events", len(b.Children), len(b.Inaccessible), len(b.Room.ChildrenState))
	}
	for _, c := range b.Children {
		if c.RoomID == "" {
			t.Fatal("a child without a room ID was kept")
		}
	}
}

func TestDiscoveryFetcherPublicRooms(t *testing.T) {
	req := &scriptedRequester{answers: map[string]func(string) (*Response, error){
		"a.example":      jsonAnswer(200, map[string]any{"chunk": []any{}}),
		"denies.example": jsonAnswer(403, map[string]string{"errcode": "M_FORBIDDEN", "error": "policy"}),
	}}
	f := &DiscoveryFetcher{ServerName: "self.example", Client: req}
	if raw, err := f.PublicRooms(t.Context(), "a.example", json.RawMessage(`{}`)); err != nil || string(raw) != `{"chunk":[]}` {
		t.Errorf("got %s, %v", raw, err)
	}
	var mxErr *mxcore.Error
	if _, err := f.PublicRooms(t.Context(), "denies.example", nil); !errors.As(err, &mxErr) || mxErr.Status != http.StatusForbidden || mxErr.ErrCode != mxcore.ErrForbidden {
		t.Errorf("a refusal: %v", err)
	}
	if _, err := f.PublicRooms(t.Context(), "down.example", nil); !errors.As(err, &mxErr) || mxErr.Status != http.StatusBadGateway {
		t.Errorf("an unreachable server: %v", err)
	}
}
