package sytest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// BenchmarkSearchHTTP measures POST /search end to end (the index, the
// history visibility check of every hit, the formatting) against a real
// server holding 2,000 messages in 4 rooms, each message 8 words of a
// 50-word vocabulary, so a word matches about 300 messages.
func BenchmarkSearchHTTP(b *testing.B) {
	for _, backend := range harness.Backends() {
		b.Run(string(backend), func(b *testing.B) {
			s := harness.Start(b, harness.Options{Backend: backend, Env: benchEnv})
			s.RegisterUser("searcher", "searcher-password", false)
			token := s.Login("searcher", "searcher-password")
			fillSearchBench(b, s, token, 4, 500)
			for _, c := range []struct {
				name     string
				criteria map[string]any
			}{
				{"recent", map[string]any{"search_term": "v07", "order_by": "recent"}},
				{"rank", map[string]any{"search_term": "v07"}},
				{"rank+context", map[string]any{"search_term": "v07", "event_context": map[string]any{"before_limit": 2, "after_limit": 2}}},
			} {
				b.Run(c.name, func(b *testing.B) {
					body := map[string]any{"search_categories": map[string]any{"room_events": c.criteria}}
					for b.Loop() {
						resp := s.Do("POST", clientV3+"/search", body, token)
						if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"results":[{`) {
							b.Fatalf("search: %d %s", resp.Status, resp.Body)
						}
					}
				})
			}
		})
	}
}

// fillSearchBench creates rooms and sends perRoom messages to each, one
// sender per room.
func fillSearchBench(b *testing.B, s *harness.Server, token string, rooms, perRoom int) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, rooms)
	for r := range rooms {
		resp := s.Do("POST", clientV3+"/createRoom", map[string]any{}, token)
		roomID, _ := resp.JSON(b)["room_id"].(string)
		if roomID == "" {
			b.Fatalf("createRoom: %s", resp.Body)
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for i := range perRoom {
				words := make([]string, 8)
				for j := range words {
					words[j] = fmt.Sprintf("v%02d", rng.IntN(50))
				}
				path := fmt.Sprintf("%s/send/m.room.message/b%d", clientV3+roomPath(roomID, ""), i)
				resp := s.Do("PUT", path, map[string]any{"msgtype": "m.text", "body": strings.Join(words, " ")}, token)
				if resp.Status != http.StatusOK {
					errs <- fmt.Sprintf("send: %d %s", resp.Status, resp.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		b.Fatal(e)
	}
}
