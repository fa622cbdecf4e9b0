package roomserver

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage/postgres/pgtest"
)

// Benchmarks of the write path in a room of 1,000 joined members, on the
// in-memory store (the pipeline's own cost) and on SQLite (the whole
// path, one fsync per transaction).

const benchMembers = 1000

// bigBenchRoom persists a v12 room with benchMembers joined users and
// returns the chain to extend.
func bigBenchRoom(b *testing.B, store Store) (*RoomServer, *chain) {
	rs := newServer(b, srvA, store)
	c := newChain(b, rs, "12")
	bigRoom(c, benchMembers, 1)
	persistChain(b, rs, c, 250)
	return rs, c
}

func benchStores(b *testing.B) map[string]func() Store {
	return map[string]func() Store{
		"memory": func() Store { return newMemStore() },
		"sqlite": func() Store { return openDB(b, "sqlite:"+filepath.Join(b.TempDir(), "bench.db")) },
		"postgres": func() Store {
			if os.Getenv(pgtest.EnvVar) == "" {
				b.Skip("WARBLER_TEST_POSTGRES not set")
			}
			return postgresStores(b)
		},
	}
}

// messages builds n messages from members on top of the chain.
func messages(c *chain, n int) []*mxcore.PDU {
	out := make([]*mxcore.PDU, n)
	for i := range out {
		out[i] = c.add(message("", fmt.Sprintf("@u%04d:a.test", i%benchMembers), fmt.Sprint("message ", i)))
	}
	return out
}

func BenchmarkPersistMessage(b *testing.B) {
	for name, store := range benchStores(b) {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(b *testing.B) {
				rs, c := bigBenchRoom(b, store())
				events := messages(c, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				for start := 0; start < len(events); start += batch {
					end := min(start+batch, len(events))
					inputs := make([]InputEvent, 0, end-start)
					for _, ev := range events[start:end] {
						inputs = append(inputs, InputEvent{PDU: ev, Origin: OriginLocal})
					}
					if _, err := rs.Persist(ctxT(b), c.roomID, inputs); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkSendEvent(b *testing.B) {
	for name, store := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			rs, c := bigBenchRoom(b, store())
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				send(b, rs, message(c.roomID, fmt.Sprintf("@u%04d:a.test", i%benchMembers), "hello"))
			}
		})
	}
}

// BenchmarkBuildEvent is SendEvent's building half: prev and auth event
// selection, content hash, signature, parse.
func BenchmarkBuildEvent(b *testing.B) {
	rs, c := bigBenchRoom(b, newMemStore())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := rs.BuildEvent(ctxT(b), message(c.roomID, "@u0500:a.test", "hello")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipelineChecks is the pipeline's checks of one remote event
// without the commit: parse, content hash, auth against the auth events,
// the state before and the current state.
func BenchmarkPipelineChecks(b *testing.B) {
	rs, c := bigBenchRoom(b, newMemStore())
	ev := messages(c, 1)[0]
	room, err := rs.room(ctxT(b), c.roomID)
	if err != nil {
		b.Fatal(err)
	}
	in := &InputEvent{JSON: ev.JSON(), Origin: OriginRemote, SignaturesVerified: true}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		run := newBatchRun(ctxT(b), rs, room)
		p := run.parse(in)
		if p.err != nil {
			b.Fatal(p.err)
		}
		v, err := run.judge(p.pdu, in)
		if err != nil || v.authErr != nil {
			b.Fatal(err, v.authErr)
		}
	}
}

// BenchmarkPipelineAuthOnly is the auth rules against the state before,
// as the pipeline runs them (lookups through the state and event cache).
func BenchmarkPipelineAuthOnly(b *testing.B) {
	rs, c := bigBenchRoom(b, newMemStore())
	ev := messages(c, 1)[0]
	room, _ := rs.room(ctxT(b), c.roomID)
	run := newBatchRun(ctxT(b), rs, room)
	provider := run.provider(room.current)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := Authorize(ev, provider); err != nil {
			b.Fatal(err)
		}
	}
}
