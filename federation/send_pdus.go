package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// The PDUs of an inbound transaction go through the server-server API's
// "Checks performed on receipt of a PDU": the format of the room's version
// and the size (mxcore.NewPDU) and the signatures are checked here; a PDU
// failing them is dropped with an error in the response. The content hash
// (redact on mismatch) and the auth rules are the room server's pipeline's
// checks 3 to 6. A PDU whose prev or auth events are unknown gets them
// fetched from the origin (send_gaps.go) and is tried once more.

// errInternal marks a failure of this server (storage), not of the PDU:
// the transaction is answered with an error, not remembered, so that the
// origin retries it.
var errInternal = errors.New("internal error")

// processPDUs checks the PDUs and persists them, one batch per room in the
// order they came, recording a result for each into results. An error
// (errInternal) means the transaction could not be processed.
func (in *Inbound) processPDUs(ctx context.Context, origin string, raws []json.RawMessage, results map[string]pduResult) error {
	byRoom := map[string][]*mxcore.PDU{}
	var rooms []string
	for _, raw := range raws {
		pdu, id, err := in.checkPDU(ctx, raw)
		if errors.Is(err, errInternal) {
			return err
		}
		if id == "" {
			in.log.Info("federation: dropped a PDU without a usable event ID", "origin", origin, "err", err)
			continue
		}
		if _, dup := results[id]; dup {
			continue
		}
		if err != nil {
			results[id] = pduResult{Error: err.Error()}
			continue
		}
		results[id] = pduResult{}
		if byRoom[pdu.RoomID()] == nil {
			rooms = append(rooms, pdu.RoomID())
		}
		byRoom[pdu.RoomID()] = append(byRoom[pdu.RoomID()], pdu)
	}
	for _, roomID := range rooms {
		allowed, err := in.cfg.Rooms.ServerAllowedInRoom(ctx, roomID, origin)
		if err != nil {
			return fmt.Errorf("%w: reading the server ACL of %s: %w", errInternal, roomID, err)
		}
		if !allowed {
			// Server ACLs: a denied server's PDUs for the room are refused.
			for _, pdu := range byRoom[roomID] {
				results[pdu.EventID()] = pduResult{Error: "the room's server ACL denies " + origin}
			}
			continue
		}
		if err := in.persistRoom(ctx, origin, roomID, byRoom[roomID], results); err != nil {
			return err
		}
	}
	return nil
}

// checkPDU applies checks 1 (format and size for the room's version) and 2
// (signatures). It returns the event's ID whenever one can be given, even
// with an error, so the response can name the PDU.
func (in *Inbound) checkPDU(ctx context.Context, raw []byte) (*mxcore.PDU, string, error) {
	roomID := gjson.GetBytes(raw, "room_id")
	if roomID.Type != gjson.String {
		return nil, gjson.GetBytes(raw, "event_id").String(), errors.New("event has no room_id")
	}
	ver, err := in.cfg.Rooms.RoomVersion(ctx, roomID.Str)
	if errors.Is(err, roomserver.ErrUnknownRoom) {
		return nil, guessEventID(raw), errors.New("this server is not in room " + roomID.Str)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: reading the version of %s: %w", errInternal, roomID.Str, err)
	}
	pdu, err := mxcore.NewPDU(raw, ver)
	if err != nil {
		id, _ := eventIDIn(raw, ver)
		return nil, id, err
	}
	if err := in.verifyPDU(ctx, pdu); err != nil {
		return nil, pdu.EventID(), err
	}
	return pdu, pdu.EventID(), nil
}

// verifyPDU is check 2: the signature of every server the spec requires,
// each with a key valid at the event's origin_server_ts (from v5).
func (in *Inbound) verifyPDU(ctx context.Context, pdu *mxcore.PDU) error {
	for _, server := range requiredSigners(pdu) {
		if err := in.cfg.Keys.VerifyEventFrom(ctx, server, pdu.JSON(), pdu.Version()); err != nil {
			return fmt.Errorf("signature of %s does not verify: %w", server, err)
		}
	}
	return nil
}

// requiredSigners are the servers whose signatures an event must carry
// (server-server API, "Validating hashes and signatures on received
// events"): the sender's server; in room versions 1 and 2 the server that
// named the event ID; for a restricted join, the authorising server.
func requiredSigners(pdu *mxcore.PDU) []string {
	servers := []string{senderServer(pdu.Sender())}
	if pdu.Version().EventRefsAreHashPairs {
		if id, err := mxcore.ParseEventID(pdu.EventID()); err == nil && id.Server != "" && id.Server != servers[0] {
			servers = append(servers, id.Server)
		}
	}
	if via := roomserver.JoinAuthorisingServer(pdu); via != "" && via != servers[0] {
		servers = append(servers, via)
	}
	return servers
}

// eventIDIn is the event ID of raw in room version ver, read or computed.
func eventIDIn(raw []byte, ver mxcore.RoomVersion) (string, error) {
	if ver.EventRefsAreHashPairs {
		id := gjson.GetBytes(raw, "event_id")
		if id.Type != gjson.String {
			return "", errors.New("event has no event_id")
		}
		return id.Str, nil
	}
	return mxcore.EventIDFor(raw, ver)
}

// guessEventID names an event of a room whose version is not known here:
// its event_id if it has one (versions 1–2), else the reference hash ID
// under the current default version's rules, the best available.
func guessEventID(raw []byte) string {
	if id := gjson.GetBytes(raw, "event_id"); id.Type == gjson.String {
		return id.Str
	}
	ver, _ := mxcore.GetRoomVersion("12")
	id, _ := mxcore.EventIDFor(raw, ver)
	return id
}

// persistRoom runs one room's PDUs through the persist pipeline; those
// missing prev or auth events get them fetched and are tried again. A PDU
// may lack both (unknown auth events first, then its prev events' state),
// hence a few passes.
func (in *Inbound) persistRoom(ctx context.Context, origin, roomID string, pdus []*mxcore.PDU, results map[string]pduResult) error {
	gaps, err := in.persist(ctx, roomID, pdus, roomserver.KindLive, results)
	if err != nil {
		return err
	}
	filler := newGapFiller(in, origin, roomID)
	for pass := 0; pass < maxGapPasses && len(gaps) > 0; pass++ {
		retry := make([]*mxcore.PDU, len(gaps))
		for i, g := range gaps {
			retry[i] = g.pdu
			filler.pending[g.pdu.EventID()] = true
		}
		for _, g := range gaps {
			if err := filler.fill(ctx, g.pdu, g.missing); err != nil {
				in.log.Info("federation: could not fill a gap", "origin", origin, "room", roomID, "event_id", g.pdu.EventID(), "err", err)
			}
		}
		if gaps, err = in.persist(ctx, roomID, retry, roomserver.KindLive, results); err != nil {
			return err
		}
	}
	for _, g := range gaps {
		results[g.pdu.EventID()] = pduResult{Error: g.missing.Error()}
	}
	return nil
}

// gap is a PDU the pipeline could not place: events it needs are unknown.
type gap struct {
	pdu     *mxcore.PDU
	missing *roomserver.MissingEventsError
}

// persist stores verified remote events of one room as kind, records their
// results (when results is not nil), and returns those that miss prev or
// auth events. An error is storage's (errInternal).
func (in *Inbound) persist(ctx context.Context, roomID string, pdus []*mxcore.PDU, kind roomserver.EventKind, results map[string]pduResult) ([]gap, error) {
	inputs := make([]roomserver.InputEvent, len(pdus))
	for i, p := range pdus {
		inputs[i] = roomserver.InputEvent{PDU: p, Origin: roomserver.OriginRemote, SignaturesVerified: true, Kind: kind}
	}
	out, err := in.cfg.Rooms.Persist(ctx, roomID, inputs)
	if err != nil {
		return nil, fmt.Errorf("%w: persisting events of %s: %w", errInternal, roomID, err)
	}
	var gaps []gap
	for i, res := range out {
		var missing *roomserver.MissingEventsError
		if errors.As(res.Err, &missing) {
			gaps = append(gaps, gap{pdu: pdus[i], missing: missing})
			continue
		}
		setResult(results, pdus[i].EventID(), resultOf(res))
	}
	return gaps, nil
}

func setResult(results map[string]pduResult, id string, r pduResult) {
	if results != nil {
		results[id] = r
	}
}

// resultOf tells the sender what became of its PDU. A soft-failed event
// counts as handled: the spec keeps soft failure silent.
func resultOf(res roomserver.InputResult) pduResult {
	switch {
	case res.Err != nil:
		return pduResult{Error: res.Err.Error()}
	case res.Rejected != "":
		return pduResult{Error: "rejected by the auth rules: " + res.Rejected}
	}
	return pduResult{}
}
