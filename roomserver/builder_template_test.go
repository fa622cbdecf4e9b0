package roomserver

import (
	"errors"
	"testing"

	"github.com/tidwall/gjson"
)

// TestBuildTemplate: templates for users of other servers are built on
// the current state, unsigned, and only when the auth rules would let
// the membership change happen there.
func TestBuildTemplate(t *testing.T) {
	for _, version := range []string{"1", "6", "12"} {
		t.Run("v"+version, func(t *testing.T) {
			rs := newServer(t, "a.test", memStores(t))
			public := createRoom(t, rs, version, CreateRoomOptions{Preset: "public_chat"})
			private := createRoom(t, rs, version, CreateRoomOptions{Preset: "private_chat"})
			remote := "@zed:z.test"
			cases := []struct {
				name, roomID, membership string
				wantErr                  error
			}{
				{"join of a public room", public, "join", nil},
				{"join of an invite-only room", private, "join", &AuthError{}},
				{"leave without being in the room", public, "leave", &AuthError{}},
				{"unknown room", "!nowhere:a.test", "join", ErrUnknownRoom},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					tmpl, err := rs.BuildTemplate(ctxT(t), member(tc.roomID, remote, remote, tc.membership))
					var authErr *AuthError
					switch {
					case tc.wantErr == nil && err != nil:
						t.Fatal(err)
					case tc.wantErr == ErrUnknownRoom && !errors.Is(err, ErrUnknownRoom):
						t.Fatalf("got %v, want ErrUnknownRoom", err)
					case tc.wantErr != nil && tc.wantErr != ErrUnknownRoom && !errors.As(err, &authErr):
						t.Fatalf("got %v, want an AuthError", err)
					case tc.wantErr != nil:
						return
					}
					ev := gjson.ParseBytes(tmpl.JSON)
					if tmpl.Version.ID != version || ev.Get("sender").Str != remote || ev.Get("signatures").Exists() || ev.Get("hashes").Exists() ||
						len(ev.Get("prev_events").Array()) == 0 || ev.Get("depth").Int() < 2 {
						t.Errorf("template: %s", tmpl.JSON)
					}
					if version == "1" && ev.Get("event_id").Str == "" {
						t.Error("a v1 template lacks its event ID")
					}
				})
			}
		})
	}
}

// TestAuthorizeOnCurrentState: a built invite is judged without storing
// it.
func TestAuthorizeOnCurrentState(t *testing.T) {
	rs := newServer(t, "a.test", memStores(t))
	roomID := createRoom(t, rs, "12", CreateRoomOptions{Preset: "private_chat"})
	ok, err := rs.BuildEvent(ctxT(t), member(roomID, alice, "@zed:z.test", "invite"))
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.AuthorizeOnCurrentState(ctxT(t), ok); err != nil {
		t.Errorf("the creator's invite: %v", err)
	}
	outsider := "@eve:a.test"
	refused, err := rs.BuildEvent(ctxT(t), member(roomID, outsider, "@zed:z.test", "invite"))
	if err != nil {
		t.Fatal(err)
	}
	var authErr *AuthError
	if err := rs.AuthorizeOnCurrentState(ctxT(t), refused); !errors.As(err, &authErr) {
		t.Errorf("an outsider's invite: %v, want an AuthError", err)
	}
	if m, _, _ := rs.Membership(ctxT(t), roomID, "@zed:z.test"); m != "" {
		t.Errorf("judging stored the invite: membership %q", m)
	}
}
