package federation

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/storage"
)

// TestClientMessagesBackfillsOverFederation: bob, on b.example, joined
// a.example's room after its first messages; paging back in /messages on
// b.example brings them in over federation, oldest last.
func TestClientMessagesBackfillsOverFederation(t *testing.T) {
	e := newReadEnv(t, nil)
	for _, body := range []string{"h1", "h2", "h3", "h4"} {
		e.message(body)
	}
	bob := "@bob:" + remoteServer
	b := newJoinedRemote(t, e, e.remoteJoin(bob))
	api := &clientapi.API{ServerName: remoteServer, Store: b.db, Rooms: b.rs, Backfill: b.backfill}
	router := chi.NewRouter()
	api.Mount(router)
	token := loginAs(t, router, b.db, bob)

	var seen []string
	from := ""
	for range 10 {
		q := url.Values{"dir": {"b"}, "limit": {"3"}}
		if from != "" {
			q.Set("from", from)
		}
		page := clientGet(t, router, "/_matrix/client/v3/rooms/"+url.PathEscape(e.roomID)+"/messages?"+q.Encode(), token)
		for _, ev := range page["chunk"].([]any) {
			m := ev.(map[string]any)
			if m["type"] == "m.room.message" {
				seen = append(seen, m["content"].(map[string]any)["body"].(string))
			}
		}
		end, _ := page["end"].(string)
		if end == "" {
			break
		}
		from = end
	}
	if !slices.Equal(seen, []string{"h4", "h3", "h2", "h1"}) {
		t.Fatalf("paged back through %v", seen)
	}
}

func loginAs(t *testing.T, router http.Handler, db storage.Database, userID string) string {
	t.Helper()
	hash, _ := secrets.HashPassword("pw-secret-1")
	if err := db.CreateAccount(t.Context(), storage.NewAccount{User: storage.User{UserID: userID, PasswordHash: hash, CreatedTS: 1}}); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"type": "m.login.password", "identifier": map[string]any{"type": "m.id.user", "user": userID}, "password": "pw-secret-1"})
	req := httptest.NewRequest("POST", "/_matrix/client/v3/login", bytes.NewReader(body))
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	token, _ := out["access_token"].(string)
	if token == "" {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	return token
}

func clientGet(t *testing.T, router http.Handler, path, token string) map[string]any {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 200 {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	return out
}
