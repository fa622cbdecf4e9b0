package clientapi

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
	"github.com/warbler-im/warbler/storage/sqlite"
)

// The /sync hot path: what bundling aggregations adds to a response of
// 20 rooms × 10 timeline events, with and without children to bundle,
// next to the cost of the whole initial /sync.

const (
	benchRooms    = 20
	benchMessages = 10
)

// initialSync runs one initial /sync as the bench's user.
func (bb *bundleBench) initialSync(b *testing.B) {
	req := httptest.NewRequest("GET", "/_matrix/client/v3/sync", nil)
	req.Header.Set("Authorization", "Bearer "+bb.token)
	rec := httptest.NewRecorder()
	bb.router.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("sync: %d %s", rec.Code, rec.Body)
	}
}

type bundleBench struct {
	api    *API
	router http.Handler
	user   string
	token  string
	rooms  []string
}

func newBundleBench(b *testing.B, withRelations bool) *bundleBench {
	b.Helper()
	ctx := b.Context()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	_, priv, _ := ed25519.GenerateKey(nil)
	rs, err := roomserver.New(db, roomserver.Config{ServerName: testServer, KeyID: "ed25519:t", PrivateKey: priv})
	if err != nil {
		b.Fatal(err)
	}
	a := &API{ServerName: testServer, Store: db, Rooms: rs, Now: time.Now}
	r := chi.NewRouter()
	a.Mount(r)
	bb := &bundleBench{api: a, router: r, user: "@bench:" + testServer}
	hash, _ := secrets.HashPassword("pw-bench-1")
	if err := db.CreateAccount(ctx, storage.NewAccount{User: storage.User{UserID: bb.user, PasswordHash: hash, CreatedTS: 1}}); err != nil {
		b.Fatal(err)
	}
	bb.token = bb.login(b)
	for i := range benchRooms {
		bb.rooms = append(bb.rooms, bb.fillRoom(b, i, withRelations))
	}
	return bb
}

func (bb *bundleBench) login(b *testing.B) string {
	body, _ := json.Marshal(map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": "bench"}, "password": "pw-bench-1"})
	rec := httptest.NewRecorder()
	bb.router.ServeHTTP(rec, httptest.NewRequest("POST", "/_matrix/client/v3/login", bytes.NewReader(body)))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.AccessToken == "" {
		b.Fatalf("login: %s", rec.Body)
	}
	return out.AccessToken
}

// fillRoom sends benchMessages timeline events; with relations, the
// first is a thread root that is edited, replied to and referenced.
func (bb *bundleBench) fillRoom(b *testing.B, i int, withRelations bool) string {
	ctx := b.Context()
	res, err := bb.api.Rooms.CreateRoom(ctx, roomserver.CreateRoomOptions{Creator: bb.user})
	if err != nil {
		b.Fatal(err)
	}
	send := func(content map[string]any) string {
		raw, _ := json.Marshal(content)
		id, err := bb.api.Rooms.SendEvent(ctx, roomserver.EventRequest{RoomID: res.RoomID, Sender: bb.user, Type: "m.room.message", Content: raw})
		if err != nil {
			b.Fatal(err)
		}
		return id
	}
	root := send(map[string]any{"msgtype": "m.text", "body": fmt.Sprintf("room %d", i)})
	for n := 1; n < benchMessages; n++ {
		content := map[string]any{"msgtype": "m.text", "body": "m"}
		if withRelations {
			switch n % 3 {
			case 0:
				content["m.relates_to"] = relatesTo("m.thread", root)
			case 1:
				content["m.new_content"] = map[string]any{"msgtype": "m.text", "body": "edited"}
				content["m.relates_to"] = relatesTo("m.replace", root)
			default:
				content["m.relates_to"] = relatesTo("m.reference", root)
			}
		}
		send(content)
	}
	return res.RoomID
}

// timelineTargets formats every room's events as /sync would serve them.
func (bb *bundleBench) timelineTargets(b *testing.B, ctx context.Context) []bundleTarget {
	var targets []bundleTarget
	for _, room := range bb.rooms {
		evs, err := bb.api.Store.EventsBetween(ctx, room, storage.TopoMax, storage.TopoMin, benchMessages, true)
		if err != nil {
			b.Fatal(err)
		}
		formatted, err := bb.api.storedToClient(context.WithValue(ctx, bundleDepthKey{}, maxBundleDepth+1), evs)
		if err != nil {
			b.Fatal(err)
		}
		for i := range formatted {
			targets = append(targets, bundleTarget{ev: &formatted[i], roomID: room})
		}
	}
	return targets
}

func BenchmarkBundleAggregations(b *testing.B) {
	for _, withRelations := range []bool{false, true} {
		b.Run(fmt.Sprintf("relations=%v", withRelations), func(b *testing.B) {
			bb := newBundleBench(b, withRelations)
			ctx := b.Context()
			targets := bb.timelineTargets(b, ctx)
			b.ReportMetric(float64(len(targets)), "events/op")
			for b.Loop() {
				for _, t := range targets {
					t.ev.Unsigned.Relations = nil
				}
				if err := bb.api.bundleAggregations(ctx, bb.user, targets); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkInitialSyncWithBundling(b *testing.B) {
	for _, withRelations := range []bool{false, true} {
		b.Run(fmt.Sprintf("relations=%v", withRelations), func(b *testing.B) {
			bb := newBundleBench(b, withRelations)
			for b.Loop() {
				bb.initialSync(b)
			}
		})
	}
}
