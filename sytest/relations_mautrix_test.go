package sytest

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestMautrixEditsThreadsAndRelations drives edits, threads, /relations,
// /threads and the bundled aggregations with a real client library: a
// message is edited twice and replied to in a thread; /sync, /messages
// and /event bundle the latest edit and the thread; /relations pages
// through the children; redacting the latest edit falls back to the one
// before.
func TestMautrixEditsThreadsAndRelations(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		ctx := t.Context()
		alice, bob := mautrixUser(t, s, "alice"), mautrixUser(t, s, "bob")
		room := mautrixSharedRoom(t, alice, bob, "Threads")
		root := sendText(t, alice, room, "hello", nil)
		edit1 := sendEdit(t, alice, room, root, "hello, world")
		// Edits are ordered by origin_server_ts: keep the two apart.
		time.Sleep(5 * time.Millisecond)
		edit2 := sendEdit(t, alice, room, root, "hello, everyone")
		reply1 := sendText(t, bob, room, "first reply", (&event.RelatesTo{}).SetThread(root, root))
		reply2 := sendText(t, bob, room, "second reply", (&event.RelatesTo{}).SetThread(root, reply1))

		want := bundleWant{edit: edit2, threadCount: 2, threadLatest: reply2, participated: true}
		checkBundle(t, "/sync", syncTimelineEvent(t, bob, room, root), want)
		checkBundle(t, "/messages", messagesEvent(t, bob, room, root), want)

		checkRelationsPages(t, bob, room, root, reply2, reply1)
		all, err := bob.GetRelations(ctx, room, root, &mautrix.ReqGetRelations{})
		if err != nil || len(all.Chunk) != 4 {
			t.Fatalf("GetRelations(all): %v %+v", err, all)
		}
		checkThreadList(t, bob, room, root)

		// Redacting the latest edit: the aggregation falls back.
		if _, err := alice.RedactEvent(ctx, room, edit2); err != nil {
			t.Fatalf("RedactEvent: %v", err)
		}
		got, err := bob.GetEvent(ctx, room, root)
		if err != nil {
			t.Fatalf("GetEvent: %v", err)
		}
		want.edit = edit1
		checkBundle(t, "/event after redaction", got, want)
		checkBundle(t, "/sync after redaction", syncTimelineEvent(t, bob, room, root), want)

		// Someone outside the room sees neither the relations nor the threads.
		carol := mautrixUser(t, s, "carol")
		_, err = carol.GetRelations(ctx, room, root, &mautrix.ReqGetRelations{})
		wantHTTPError(t, "GetRelations by a non-member", err, http.StatusNotFound, "M_NOT_FOUND")
		_, err = carol.MakeRequest(ctx, http.MethodGet, carol.BuildClientURL("v1", "rooms", room, "threads"), nil, nil)
		wantHTTPError(t, "/threads by a non-member", err, http.StatusForbidden, "M_FORBIDDEN")
	})
}

func sendText(t *testing.T, cli *mautrix.Client, room id.RoomID, body string, rel *event.RelatesTo) id.EventID {
	t.Helper()
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: body, RelatesTo: rel}
	resp, err := cli.SendMessageEvent(t.Context(), room, event.EventMessage, content)
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	return resp.EventID
}

func sendEdit(t *testing.T, cli *mautrix.Client, room id.RoomID, original id.EventID, body string) id.EventID {
	t.Helper()
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: body}
	content.SetEdit(original)
	resp, err := cli.SendMessageEvent(t.Context(), room, event.EventMessage, content)
	if err != nil {
		t.Fatalf("send edit %q: %v", body, err)
	}
	return resp.EventID
}

type bundleWant struct {
	edit         id.EventID
	threadCount  int
	threadLatest id.EventID
	participated bool
}

func checkBundle(t *testing.T, where string, ev *event.Event, want bundleWant) {
	t.Helper()
	rels := ev.Unsigned.Relations
	if edit := rels.GetLatestEdit(); edit == nil || edit.ID != want.edit {
		t.Errorf("%s: m.replace %+v, want %s", where, edit, want.edit)
	}
	thread := rels.GetThread()
	if thread == nil || thread.Count != want.threadCount || thread.CurrentUserParticipated != want.participated ||
		thread.LatestEvent == nil || thread.LatestEvent.ID != want.threadLatest {
		t.Errorf("%s: m.thread %+v, want %+v", where, thread, want)
	}
}

// syncTimelineEvent finds an event in an initial sync's timeline.
func syncTimelineEvent(t *testing.T, cli *mautrix.Client, room id.RoomID, eventID id.EventID) *event.Event {
	t.Helper()
	resp, err := cli.FullSyncRequest(t.Context(), mautrix.ReqSync{})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	joined := resp.Rooms.Join[room]
	if joined == nil {
		t.Fatalf("room %s not in the sync", room)
	}
	for _, ev := range joined.Timeline.Events {
		if ev.ID == eventID {
			return ev
		}
	}
	t.Fatalf("%s not in the sync timeline", eventID)
	return nil
}

func messagesEvent(t *testing.T, cli *mautrix.Client, room id.RoomID, eventID id.EventID) *event.Event {
	t.Helper()
	resp, err := cli.Messages(t.Context(), room, "", "", mautrix.DirectionBackward, nil, 20)
	if err != nil {
		t.Fatalf("Messages: %v", err)
	}
	for _, ev := range resp.Chunk {
		if ev.ID == eventID {
			return ev
		}
	}
	t.Fatalf("%s not in /messages", eventID)
	return nil
}

// checkRelationsPages pages through the thread one event at a time.
func checkRelationsPages(t *testing.T, cli *mautrix.Client, room id.RoomID, root id.EventID, newestFirst ...id.EventID) {
	t.Helper()
	req := &mautrix.ReqGetRelations{RelationType: event.RelThread, Limit: 1}
	for i, want := range newestFirst {
		page, err := cli.GetRelations(t.Context(), room, root, req)
		if err != nil {
			t.Fatalf("GetRelations page %d: %v", i, err)
		}
		if len(page.Chunk) != 1 || page.Chunk[0].ID != want {
			t.Fatalf("GetRelations page %d: %+v, want %s", i, page.Chunk, want)
		}
		req.From = page.NextBatch
	}
	if req.From != "" {
		last, err := cli.GetRelations(t.Context(), room, root, req)
		if err != nil || len(last.Chunk) != 0 || last.NextBatch != "" {
			t.Errorf("GetRelations past the end: %+v %v", last, err)
		}
	}
}

func checkThreadList(t *testing.T, cli *mautrix.Client, room id.RoomID, root id.EventID) {
	t.Helper()
	var threads struct {
		Chunk     []*event.Event `json:"chunk"`
		NextBatch string         `json:"next_batch"`
	}
	url := cli.BuildURLWithQuery(mautrix.ClientURLPath{"v1", "rooms", room, "threads"}, map[string]string{"include": "participated"})
	if _, err := cli.MakeRequest(t.Context(), http.MethodGet, url, nil, &threads); err != nil {
		t.Fatalf("/threads: %v", err)
	}
	if len(threads.Chunk) != 1 || threads.Chunk[0].ID != root || threads.Chunk[0].Unsigned.Relations.GetThread() == nil {
		t.Errorf("/threads: %+v", threads)
	}
}

func wantHTTPError(t *testing.T, what string, err error, status int, errcode string) {
	t.Helper()
	var httpErr mautrix.HTTPError
	if !errors.As(err, &httpErr) || httpErr.Response == nil || httpErr.Response.StatusCode != status ||
		httpErr.RespError == nil || httpErr.RespError.ErrCode != errcode {
		t.Errorf("%s: got %v, want %d %s", what, err, status, errcode)
	}
}
