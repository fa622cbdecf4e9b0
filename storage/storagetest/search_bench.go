package storagetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// searchBenchMessages is the size of the room BenchmarkSearch searches.
const searchBenchMessages = 10_000

// searchVocabulary has 200 words: "w000" … "w199". A message holds eight
// of them drawn at random (the same draw every run), so a word occurs in
// about 4% of the messages; "rare" is in one message in 1,000.
func searchVocabulary() []string {
	words := make([]string, 200)
	for i := range words {
		words[i] = fmt.Sprintf("w%03d", i)
	}
	return words
}

// fillSearchRoom persists searchBenchMessages messages, 500 per batch.
func fillSearchRoom(b *testing.B, db storage.Database) *testRoom {
	b.Helper()
	r := newTestRoom(b, db, "search", alice)
	r.member(alice, "join")
	words := searchVocabulary()
	rng := rand.New(rand.NewPCG(1, 2))
	for done := 0; done < searchBenchMessages; {
		var batch []storage.NewEvent
		for ; len(batch) < 500 && done < searchBenchMessages; done++ {
			text := make([]string, 8)
			for i := range text {
				text[i] = words[rng.IntN(len(words))]
			}
			if done%1000 == 0 {
				text[0] = "rare"
			}
			ev := r.event("m.room.message", nil, alice, fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, strings.Join(text, " ")))
			r.depth, r.extrems = ev.Depth, []string{ev.EventID}
			batch = append(batch, ev)
		}
		r.persist(batch, storage.RoomUpdate{ForwardExtremities: r.extrems})
	}
	return r
}

// BenchmarkSearch measures one SearchEvents page of 10 hits over a room
// of 10,000 messages: a common word (~400 matches) by recency and by rank,
// two common words together, and a rare word.
func BenchmarkSearch(b *testing.B, db storage.Database) {
	r := fillSearchRoom(b, db)
	cases := []struct {
		name   string
		words  []string
		byRank bool
	}{
		{"common/recent", []string{"w042"}, false},
		{"common/rank", []string{"w042"}, true},
		{"two-words/rank", []string{"w042", "w117"}, true},
		{"rare/recent", []string{"rare"}, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			q := storage.SearchQuery{Words: c.words, RoomIDs: []string{r.id}, Types: []string{storage.SearchTypeMessage}, ByRank: c.byRank, Limit: 10}
			for b.Loop() {
				hits, err := db.SearchEvents(b.Context(), q)
				if err != nil || len(hits) == 0 {
					b.Fatalf("SearchEvents: %d hits, %v", len(hits), err)
				}
			}
		})
	}
}
