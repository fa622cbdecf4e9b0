package federation

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

// BenchmarkInboundSend50PDUs measures one inbound transaction of 50
// messages into a room of 1,000 members (all of remote.test), from the
// signed request to the per-PDU answer: X-Matrix check, PDU format and
// signature checks, the persist pipeline (auth against 1,000-member
// state) and the stored response.
func BenchmarkInboundSend50PDUs(b *testing.B) {
	p := newFedPair(b)
	before := len(p.created.since(0))
	for i := 1; i < 1000; i++ {
		user := fmt.Sprintf("@user%04d:remote.test", i)
		if _, err := p.remote.SendEvent(b.Context(), joinRequest(p.roomID, user)); err != nil {
			b.Fatal(err)
		}
	}
	p.ship(p.created.since(before))
	if members, _ := p.us.JoinedUsers(b.Context(), p.roomID); len(members) != 1000 {
		b.Fatalf("room has %d members on us.test", len(members))
	}
	send := func(n int, msgs []*mxcore.PDU) {
		rec := p.send(fmt.Sprintf("bench-%d", n), txn(wire(b, msgs...)))
		if rec.Code != http.StatusOK {
			b.Fatalf("answered %d %s", rec.Code, rec.Body)
		}
	}
	send(-1, p.say(MaxTxnPDUs)) // warm: keys fetched, caches filled
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		msgs := p.sayAs(fmt.Sprintf("@user%04d:remote.test", 1+n%999), MaxTxnPDUs)
		b.StartTimer()
		send(n, msgs)
	}
	b.ReportMetric(float64(b.N*MaxTxnPDUs)/b.Elapsed().Seconds(), "pdus/s")
}
