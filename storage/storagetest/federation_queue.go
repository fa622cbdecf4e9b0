package storagetest

import (
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// federationQueueTests are the outbound queue and inbound transaction
// subtests Run adds to the suite.
var federationQueueTests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"FederationQueue", testFederationQueue},
	{"FederationQueueLimits", testFederationQueueLimits},
	{"InboundTxns", testInboundTxns},
	{"FederationOutbox", testFederationOutbox},
}

// testFederationQueue queues PDUs and EDUs for two destinations, acknowledges
// part of one queue, and reopens: each destination keeps its own items, in
// order, and only what was deleted is gone.
func testFederationQueue(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const a, b = "a.example.org", "b.example.org:8448"

	got, err := db.PendingFederation(ctx, a, 50, 100)
	noErr(t, "PendingFederation of an empty queue", err)
	wantEqual(t, "PendingFederation of an empty queue", got, []storage.FederationQueueItem{})
	dests, err := db.FederationDestinations(ctx)
	noErr(t, "FederationDestinations of empty queues", err)
	wantEqual(t, "FederationDestinations of empty queues", dests, []string{})

	items := []storage.FederationQueueItem{
		{Destination: a, EventID: "$one", RoomID: "!r:x", QueuedTS: baseTS},
		{Destination: b, EventID: "$one", RoomID: "!r:x", QueuedTS: baseTS},
		{Destination: a, EDUType: "m.receipt", RoomID: "!r:x", EDUContent: []byte(`{"k":1}`), QueuedTS: baseTS + 1},
		{Destination: a, EventID: "$two", RoomID: "!r:x", QueuedTS: baseTS + 2},
		{Destination: a, EDUType: "m.direct_to_device", EDUContent: []byte(`{"k":2}`), QueuedTS: baseTS + 3},
	}
	noErr(t, "EnqueueFederation", db.EnqueueFederation(ctx, items))
	noErr(t, "EnqueueFederation of nothing", db.EnqueueFederation(ctx, nil))

	pendingA, err := db.PendingFederation(ctx, a, 50, 100)
	noErr(t, "PendingFederation(a)", err)
	wantQueue(t, pendingA, "$one", "m.receipt", "$two", "m.direct_to_device")
	if pendingA[1].RoomID != "!r:x" || string(pendingA[1].EDUContent) != `{"k":1}` || pendingA[1].QueuedTS != baseTS+1 {
		t.Errorf("EDU item read back as %+v", pendingA[1])
	}
	pendingB, err := db.PendingFederation(ctx, b, 50, 100)
	noErr(t, "PendingFederation(b)", err)
	wantQueue(t, pendingB, "$one")
	dests, err = db.FederationDestinations(ctx)
	noErr(t, "FederationDestinations", err)
	wantEqual(t, "FederationDestinations", dests, []string{a, b})

	// Delivered: a's first PDU and its receipt. A Seq of b's queue given
	// for a, and an unknown one, delete nothing.
	noErr(t, "DeleteFederation", db.DeleteFederation(ctx, a, []int64{pendingA[0].Seq, pendingA[1].Seq, pendingB[0].Seq, 1 << 40}))
	for round := 0; round < 2; round++ {
		if round == 1 {
			noErr(t, "Close", db.Close())
			db = openDB(t, open)
		}
		got, err := db.PendingFederation(ctx, a, 50, 100)
		noErr(t, "PendingFederation(a) after delivery", err)
		wantQueue(t, got, "$two", "m.direct_to_device")
		got, err = db.PendingFederation(ctx, b, 50, 100)
		noErr(t, "PendingFederation(b) after a's delivery", err)
		wantQueue(t, got, "$one")
	}
	// New items come after the old ones, with fresh Seqs.
	noErr(t, "EnqueueFederation after reopening", db.EnqueueFederation(ctx, []storage.FederationQueueItem{{Destination: a, EventID: "$three", QueuedTS: baseTS + 9}}))
	got, err = db.PendingFederation(ctx, a, 50, 100)
	noErr(t, "PendingFederation(a) after more", err)
	wantQueue(t, got, "$two", "m.direct_to_device", "$three")
	if got[2].Seq <= pendingA[3].Seq {
		t.Errorf("new item Seq %d is not after the old ones (%d)", got[2].Seq, pendingA[3].Seq)
	}
	var seqs []int64
	for _, it := range got {
		seqs = append(seqs, it.Seq)
	}
	noErr(t, "DeleteFederation(all of a)", db.DeleteFederation(ctx, a, seqs))
	dests, err = db.FederationDestinations(ctx)
	noErr(t, "FederationDestinations after a's queue emptied", err)
	wantEqual(t, "FederationDestinations after a's queue emptied", dests, []string{b})
}

// testFederationQueueLimits: a batch takes the oldest maxPDUs PDUs and the
// oldest maxEDUs EDUs, whatever the other kind's backlog.
func testFederationQueueLimits(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const dest = "busy.example.org"
	var items []storage.FederationQueueItem
	for i := range 60 {
		items = append(items, storage.FederationQueueItem{Destination: dest, EventID: fmt.Sprintf("$p%02d", i), QueuedTS: baseTS})
		if i%2 == 0 {
			items = append(items, storage.FederationQueueItem{Destination: dest, EDUType: fmt.Sprintf("e%02d", i), EDUContent: []byte(`{}`), QueuedTS: baseTS})
		}
	}
	noErr(t, "EnqueueFederation", db.EnqueueFederation(ctx, items))
	cases := []struct {
		maxPDUs, maxEDUs int
		pdus, edus       int
	}{
		{50, 100, 50, 30},
		{5, 2, 5, 2},
		{0, 3, 0, 3},
		{3, 0, 3, 0},
	}
	for _, tc := range cases {
		got, err := db.PendingFederation(ctx, dest, tc.maxPDUs, tc.maxEDUs)
		noErr(t, "PendingFederation", err)
		pdus, edus := 0, 0
		for i, it := range got {
			if i > 0 && it.Seq <= got[i-1].Seq {
				t.Fatalf("PendingFederation(%d, %d) not in Seq order at %d", tc.maxPDUs, tc.maxEDUs, i)
			}
			if it.IsEDU() {
				edus++
			} else {
				if it.EventID != fmt.Sprintf("$p%02d", pdus) {
					t.Errorf("PDU %d is %s, want the oldest first", pdus, it.EventID)
				}
				pdus++
			}
		}
		if pdus != tc.pdus || edus != tc.edus {
			t.Errorf("PendingFederation(%d, %d) = %d PDUs and %d EDUs, want %d and %d", tc.maxPDUs, tc.maxEDUs, pdus, edus, tc.pdus, tc.edus)
		}
	}
}

// testInboundTxns: the first response to a transaction is kept, per origin,
// across a reopen, until pruned.
func testInboundTxns(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	_, err := db.InboundTxnResponse(ctx, "a.example.org", "t1")
	wantErr(t, "InboundTxnResponse of an unknown transaction", err, storage.ErrNotFound)

	noErr(t, "StoreInboundTxnResponse", db.StoreInboundTxnResponse(ctx, "a.example.org", "t1", []byte(`{"pdus":{}}`), baseTS))
	noErr(t, "StoreInboundTxnResponse again", db.StoreInboundTxnResponse(ctx, "a.example.org", "t1", []byte(`{"pdus":{"x":{}}}`), baseTS+5))
	noErr(t, "StoreInboundTxnResponse of another origin", db.StoreInboundTxnResponse(ctx, "b.example.org", "t1", []byte(`{"b":1}`), baseTS+10))
	noErr(t, "Close", db.Close())
	db = openDB(t, open)

	got, err := db.InboundTxnResponse(ctx, "a.example.org", "t1")
	noErr(t, "InboundTxnResponse", err)
	wantEqual(t, "InboundTxnResponse keeps the first", string(got), `{"pdus":{}}`)
	got, err = db.InboundTxnResponse(ctx, "b.example.org", "t1")
	noErr(t, "InboundTxnResponse(b)", err)
	wantEqual(t, "InboundTxnResponse(b)", string(got), `{"b":1}`)

	noErr(t, "PruneInboundTxns", db.PruneInboundTxns(ctx, baseTS+10))
	_, err = db.InboundTxnResponse(ctx, "a.example.org", "t1")
	wantErr(t, "InboundTxnResponse after pruning", err, storage.ErrNotFound)
	_, err = db.InboundTxnResponse(ctx, "b.example.org", "t1")
	noErr(t, "InboundTxnResponse of a newer one after pruning", err)
}

// wantQueue checks the queue's items by event ID (PDUs) or EDU type.
func wantQueue(t *testing.T, got []storage.FederationQueueItem, want ...string) {
	t.Helper()
	names := make([]string, len(got))
	for i, it := range got {
		names[i] = it.EventID + it.EDUType
	}
	wantEqual(t, "queue", names, want)
}

// testFederationOutbox: an Outbound event is in the outbox from the
// transaction that stores it until QueueOutbound takes it out together
// with its queue items; the outbox survives a reopen (a crash between
// storing and queueing) and lists the oldest first; other events never
// enter it.
func testFederationOutbox(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	room := newTestRoom(t, db, "outbox", "@alice:example.org")
	outbound := func(body string) storage.NewEvent {
		ev := room.event("m.room.message", nil, "@alice:example.org", fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, body))
		ev.Outbound = true
		room.apply(ev)
		return ev
	}
	first, second := outbound("one"), outbound("two")
	room.message("@bob:remote.example", "not ours")
	third := outbound("three")

	ids, err := db.FederationOutbox(ctx, 10)
	noErr(t, "FederationOutbox", err)
	wantEqual(t, "outbox", ids, []string{first.EventID, second.EventID, third.EventID})
	ids, err = db.FederationOutbox(ctx, 2)
	noErr(t, "FederationOutbox with a limit", err)
	wantEqual(t, "outbox, oldest two", ids, []string{first.EventID, second.EventID})

	item := storage.FederationQueueItem{Destination: "remote.example", EventID: second.EventID, RoomID: room.id, QueuedTS: baseTS}
	noErr(t, "QueueOutbound", db.QueueOutbound(ctx, []storage.FederationQueueItem{item}, []string{first.EventID, second.EventID}))
	noErr(t, "Close", db.Close())
	db = openDB(t, open)
	ids, err = db.FederationOutbox(ctx, 10)
	noErr(t, "FederationOutbox after reopening", err)
	wantEqual(t, "outbox after queueing two", ids, []string{third.EventID})
	pending, err := db.PendingFederation(ctx, "remote.example", 50, 100)
	noErr(t, "PendingFederation", err)
	if len(pending) != 1 || pending[0].EventID != second.EventID {
		t.Errorf("queued with the outbox removal: %+v", pending)
	}
	noErr(t, "QueueOutbound of nothing", db.QueueOutbound(ctx, nil, nil))
	noErr(t, "QueueOutbound of an event not in the outbox", db.QueueOutbound(ctx, nil, []string{"$unknown", third.EventID}))
	ids, err = db.FederationOutbox(ctx, 10)
	noErr(t, "FederationOutbox at the end", err)
	wantEqual(t, "outbox at the end", ids, []string{})
}
