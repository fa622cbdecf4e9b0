package federation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Backfilling from other servers (server-server API, "Backfilling and
// retrieving missing events"): when a local client pages back past the
// earliest event stored for a room this server joined over federation,
// the Backfiller asks a server in the room for the events before it,
// verifies their signatures, fetches the state before the oldest of them
// (/state), and hands everything to the roomserver's persist pipeline:
// the state and auth chain as outliers, the history as backfilled events,
// which the pipeline positions before the room's earliest.

// Requester sends signed federation requests; *Client is one.
type Requester interface {
	Do(ctx context.Context, destination, method, path string, body any) (*Response, error)
}

// TimelineReader finds a room's earliest timeline event.
type TimelineReader interface {
	EventsBetween(ctx context.Context, roomID string, from, to storage.TopoPos, limit int, backwards bool) ([]storage.StoredEvent, error)
}

// Backfiller fetches rooms' history from other servers.
type Backfiller struct {
	ServerName string
	Client     Requester
	Keys       SignatureVerifier
	Rooms      *roomserver.RoomServer
	Timeline   TimelineReader

	// Now is the clock of the retry pause; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	marks map[string]backfillMark // rooms not to ask about for now
}

// backfillMark says not to backfill a room while its earliest event is
// still earliest: for good when every server had nothing before it, or
// until retry after a failure.
type backfillMark struct {
	earliest string
	retry    time.Time // zero: no server has anything earlier
}

// Bounds of one backfill: servers asked, the time it may take, and the
// events a remote state answer may bring.
const (
	maxBackfillServers = 3
	backfillTimeout    = 20 * time.Second
	maxBackfillState   = 50_000
	maxBackfillMarks   = 10_000
	// backfillRetryPause keeps clients paging at a room's start from
	// sending a request to unreachable servers on every page.
	backfillRetryPause = 30 * time.Second
)

// Backfill stores up to limit (at most MaxBackfillLimit) events of the
// room from before its earliest stored event and returns how many it
// stored. A room whose beginning is stored, or whose servers have nothing
// earlier, stores none.
func (b *Backfiller) Backfill(ctx context.Context, roomID string, limit int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, backfillTimeout)
	defer cancel()
	earliest, ok, err := b.gapAtStart(ctx, roomID)
	if err != nil || !ok || b.paused(roomID, earliest) {
		return 0, err
	}
	servers, err := b.Rooms.JoinedServers(ctx, roomID)
	if err != nil {
		return 0, err
	}
	var errs []error
	asked := 0
	for _, server := range servers {
		if server == b.ServerName || asked == maxBackfillServers {
			continue
		}
		asked++
		n, err := b.backfillFrom(ctx, server, roomID, earliest, min(max(limit, 1), MaxBackfillLimit))
		if err == nil && n > 0 {
			return n, nil
		}
		if err != nil {
			slog.InfoContext(ctx, "backfill failed", "room_id", roomID, "server", server, "err", err)
			errs = append(errs, err)
		}
	}
	var retry time.Time // no errors: every server had nothing earlier
	if len(errs) > 0 {
		retry = b.now().Add(backfillRetryPause)
	}
	b.mark(roomID, backfillMark{earliest: earliest, retry: retry})
	return 0, errors.Join(errs...)
}

// gapAtStart returns the room's earliest timeline event when events
// before it are missing here: it is not the create event and some of its
// prev events are not in the timeline.
func (b *Backfiller) gapAtStart(ctx context.Context, roomID string) (string, bool, error) {
	first, err := b.Timeline.EventsBetween(ctx, roomID, storage.TopoMin, storage.TopoMax, 1, false)
	if err != nil || len(first) == 0 || first[0].Type == "m.room.create" {
		return "", false, err
	}
	infos, err := b.Rooms.Events(ctx, []string{first[0].EventID})
	if err != nil || len(infos) == 0 {
		return "", false, err
	}
	prevs := infos[0].Event.PrevEventIDs()
	known, err := b.Rooms.Events(ctx, prevs)
	if err != nil {
		return "", false, err
	}
	inTimeline := 0
	for _, k := range known {
		if !k.Outlier && k.Rejected == "" {
			inTimeline++
		}
	}
	return first[0].EventID, inTimeline < len(prevs), nil
}

// backfillFrom asks one server for the events before earliest.
func (b *Backfiller) backfillFrom(ctx context.Context, server, roomID, earliest string, limit int) (int, error) {
	ver, err := b.Rooms.RoomVersion(ctx, roomID)
	if err != nil {
		return 0, err
	}
	q := url.Values{"v": {earliest}, "limit": {fmt.Sprint(limit + 1)}}
	var tx struct {
		PDUs []json.RawMessage `json:"pdus"`
	}
	if err := b.get(ctx, server, "/_matrix/federation/v1/backfill/"+url.PathEscape(roomID)+"?"+q.Encode(), &tx); err != nil {
		return 0, err
	}
	history, err := b.newVerified(ctx, roomID, ver, tx.PDUs[:min(len(tx.PDUs), limit+1)])
	if err != nil || len(history) == 0 {
		return 0, err
	}
	sortFetchedByDepth(history)
	stateIDs, err := b.storeStateBefore(ctx, server, roomID, ver, history[0].EventID())
	if err != nil {
		return 0, err
	}
	return b.persistHistory(ctx, roomID, history, stateIDs)
}

// get sends a signed GET and decodes the JSON answer into out.
func (b *Backfiller) get(ctx context.Context, server, path string, out any) error {
	resp, err := b.Client.Do(ctx, server, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if err := resp.Err(); err != nil {
		return err
	}
	return json.Unmarshal(resp.Body, out)
}

// newVerified parses the events of roomID, keeps those whose signatures
// verify and that are not stored here yet, and drops the rest.
func (b *Backfiller) newVerified(ctx context.Context, roomID string, ver mxcore.RoomVersion, raws []json.RawMessage) ([]*mxcore.PDU, error) {
	var parsed []*mxcore.PDU
	var ids []string
	for _, raw := range raws {
		pdu, err := mxcore.NewPDU(raw, ver)
		if err != nil || pdu.RoomID() != roomID {
			continue
		}
		if err := verifyFetchedSignatures(ctx, b.Keys, pdu); err != nil {
			slog.InfoContext(ctx, "dropping a fetched event whose signatures do not verify", "event_id", pdu.EventID(), "err", err)
			continue
		}
		parsed = append(parsed, pdu)
		ids = append(ids, pdu.EventID())
	}
	known, err := b.Rooms.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, k := range known {
		have[k.Event.EventID()] = !k.Outlier // an outlier may become history
	}
	return slices.DeleteFunc(parsed, func(p *mxcore.PDU) bool { return have[p.EventID()] }), nil
}

// storeStateBefore fetches the state before eventID and its auth chain
// from server, stores them as outliers and returns the state's IDs.
func (b *Backfiller) storeStateBefore(ctx context.Context, server, roomID string, ver mxcore.RoomVersion, eventID string) ([]string, error) {
	var st struct {
		PDUs      []json.RawMessage `json:"pdus"`
		AuthChain []json.RawMessage `json:"auth_chain"`
	}
	path := "/_matrix/federation/v1/state/" + url.PathEscape(roomID) + "?event_id=" + url.QueryEscape(eventID)
	if err := b.get(ctx, server, path, &st); err != nil {
		return nil, err
	}
	if len(st.PDUs)+len(st.AuthChain) > maxBackfillState {
		return nil, fmt.Errorf("backfill: state from %s has too many events", server)
	}
	state, err := b.newVerified(ctx, roomID, ver, st.PDUs)
	if err != nil {
		return nil, err
	}
	chain, err := b.newVerified(ctx, roomID, ver, st.AuthChain)
	if err != nil {
		return nil, err
	}
	outliers := append(chain, state...)
	sortFetchedByDepth(outliers)
	inputs := make([]roomserver.InputEvent, len(outliers))
	for i, ev := range outliers {
		inputs[i] = roomserver.InputEvent{PDU: ev, Origin: roomserver.OriginRemote, SignaturesVerified: true, Kind: roomserver.KindOutlier}
	}
	if len(inputs) > 0 {
		if _, err := b.Rooms.Persist(ctx, roomID, inputs); err != nil {
			return nil, err
		}
	}
	ids := make([]string, 0, len(st.PDUs))
	for _, raw := range st.PDUs {
		if pdu, err := mxcore.NewPDU(raw, ver); err == nil {
			ids = append(ids, pdu.EventID())
		}
	}
	return ids, nil
}

// persistHistory stores the events, oldest first, as backfilled. The
// oldest gets the fetched state; later ones follow from their prev events,
// and one whose prev events are unknown here is left out rather than
// given a state that may be wrong.
func (b *Backfiller) persistHistory(ctx context.Context, roomID string, history []*mxcore.PDU, oldestState []string) (int, error) {
	inputs := make([]roomserver.InputEvent, len(history))
	for i, ev := range history {
		inputs[i] = roomserver.InputEvent{PDU: ev, Origin: roomserver.OriginRemote, SignaturesVerified: true, Kind: roomserver.KindBackfilled}
	}
	inputs[0].StateBefore = orEmptyList(oldestState)
	results, err := b.Rooms.Persist(ctx, roomID, inputs)
	if err != nil {
		return 0, err
	}
	stored := 0
	for _, r := range results {
		if r.Err == nil && !r.Existed {
			stored++
		}
	}
	return stored, nil
}

// paused reports whether the room is marked with this earliest event.
func (b *Backfiller) paused(roomID, earliest string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.marks[roomID]
	return ok && m.earliest == earliest && (m.retry.IsZero() || b.now().Before(m.retry))
}

// mark remembers a room not to ask about for now; the memory is bounded
// by forgetting all marks when it is full.
func (b *Backfiller) mark(roomID string, m backfillMark) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.marks == nil || len(b.marks) >= maxBackfillMarks {
		b.marks = map[string]backfillMark{}
	}
	b.marks[roomID] = m
}

func (b *Backfiller) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func sortFetchedByDepth(events []*mxcore.PDU) {
	slices.SortStableFunc(events, func(a, b *mxcore.PDU) int { return cmp.Compare(a.Depth(), b.Depth()) })
}

// verifyFetchedSignatures checks the signatures a received event must carry:
// its sender's server, in room versions 1–2 also the server that named
// its event ID, and for a restricted join the authorising server.
func verifyFetchedSignatures(ctx context.Context, keys SignatureVerifier, pdu *mxcore.PDU) error {
	servers := []string{serverOfID(pdu.Sender())}
	if pdu.Version().EventIDs == mxcore.EventIDExplicit {
		servers = append(servers, serverOfID(pdu.EventID()))
	}
	if s := roomserver.JoinAuthorisingServer(pdu); s != "" {
		servers = append(servers, s)
	}
	for _, s := range slices.Compact(slices.Sorted(slices.Values(servers))) {
		if s == "" {
			return errors.New("event names no server to verify")
		}
		if err := keys.VerifyEventFrom(ctx, s, pdu.JSON(), pdu.Version()); err != nil {
			return err
		}
	}
	return nil
}

// serverOfID is the server part of a user or v1–2 event ID.
func serverOfID(id string) string {
	_, server, _ := strings.Cut(id, ":")
	return server
}
