package roomserver

import (
	"context"

	"github.com/warbler-im/warbler/mxcore"
)

// applyRedactions records, after the batch committed, which stored events
// the batch's accepted redactions take effect on, so every reader (client
// API, federation) serves those events redacted. It runs here, in the one
// write path, so redactions from any origin — local users or other servers
// — are applied alike.
//
// Recording is a second write after the commit: if it fails the redaction
// event itself stands and the failure is logged; the target stays
// unredacted until a later redaction or a repair.
func (r *batchRun) applyRedactions(stored []PersistedEvent) {
	for _, ev := range stored {
		if ev.Event.Type() != "m.room.redaction" || ev.Rejected != "" || ev.SoftFailed || ev.Kind == KindOutlier {
			continue
		}
		m := r.pending[ev.Event.EventID()]
		target := ev.Event.Redacts()
		if m == nil || target == "" {
			continue
		}
		tm := r.lookup(target)
		if tm == nil || tm.pdu.RoomID() != ev.Event.RoomID() {
			continue // unknown target: nothing to redact yet
		}
		before, err := r.rs.stateBefore(r.ctx, m)
		if err != nil || !redactionApplies(ev.Event, tm.pdu, r.provider(before)) {
			continue
		}
		if err := r.rs.store.MarkRedacted(context.WithoutCancel(r.ctx), target, ev.Event.EventID()); err != nil {
			r.rs.log.Warn("roomserver: recording a redaction", "event_id", target, "redaction", ev.Event.EventID(), "err", err)
		}
	}
}

// redactionApplies says whether redaction takes effect on target. In room
// versions 1–2 the auth rules already required the redact level or the
// same server. From v3 event IDs carry no server, so the rules admit any
// redaction and the spec leaves the check to the time it is applied: the
// target's sender must be on the redaction sender's server, or the
// redaction's sender must hold the redact level in the state before it.
func redactionApplies(redaction, target *mxcore.PDU, state AuthStateProvider) bool {
	if redaction.Version().EventIDs == mxcore.EventIDExplicit {
		return true
	}
	if serverOf(redaction.Sender()) != "" && serverOf(redaction.Sender()) == serverOf(target.Sender()) {
		return true
	}
	return PowerLevelOf(redaction.Sender(), state) >= ActionPowerLevel(PowerRedact, state)
}

func serverOf(userID string) string {
	id, err := mxcore.ParseUserID(userID)
	if err != nil {
		return ""
	}
	return id.Server
}
