package clientapi

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/storage"
)

// Bundled aggregations (client-server API, "Aggregations of child
// events"): events served by /sync, /messages, /context, /event,
// /relations and /threads carry unsigned.m.relations summarising their
// m.replace, m.thread and m.reference children. A page of events costs one
// batch of store reads (RelationSummaries), plus one load of the few child
// events a summary names (the latest edit, each thread's latest event):
// never a query per event.

// relationsBundle is unsigned.m.relations.
type relationsBundle struct {
	Replace   *ClientEvent     `json:"m.replace,omitempty"`
	Thread    *threadBundle    `json:"m.thread,omitempty"`
	Reference *referenceBundle `json:"m.reference,omitempty"`
}

type threadBundle struct {
	LatestEvent             *ClientEvent `json:"latest_event"`
	Count                   int          `json:"count"`
	CurrentUserParticipated bool         `json:"current_user_participated"`
}

type referenceBundle struct {
	Chunk []eventIDOnly `json:"chunk"`
}

type eventIDOnly struct {
	EventID string `json:"event_id"`
}

// bundleTarget is an event to bundle into, with its room (which /sync's
// format leaves out of the event itself).
type bundleTarget struct {
	ev     *ClientEvent
	roomID string
}

// bundleDepthKey holds, in a context formatting the child events of an
// aggregation, how deep that nesting is: children get their own
// aggregations (a thread's latest event shows its edit), but only to
// maxBundleDepth, so formatting cannot recurse without end.
type bundleDepthKey struct{}

const maxBundleDepth = 1

// bundleClientEvents adds the aggregations to formatted events that
// carry their room ID (all formats but /sync's).
func (a *API) bundleClientEvents(ctx context.Context, userID string, evs []ClientEvent) error {
	targets := make([]bundleTarget, len(evs))
	for i := range evs {
		targets[i] = bundleTarget{ev: &evs[i], roomID: evs[i].RoomID}
	}
	return a.bundleAggregations(ctx, userID, targets)
}

// bundleSync adds the aggregations to every timeline of a /sync
// response, in one batch. Aggregations only spare the client work it can
// do itself (the spec asks clients to aggregate too), so a failure to
// read them is logged and the response goes out without them rather than
// failing the sync.
func (a *API) bundleSync(ctx context.Context, userID string, resp *syncResponse) {
	var targets []bundleTarget
	add := func(roomID string, tl *syncTimeline) {
		for i := range tl.Events {
			targets = append(targets, bundleTarget{ev: &tl.Events[i], roomID: roomID})
		}
	}
	for roomID, room := range resp.Rooms.Join {
		add(roomID, &room.Timeline)
	}
	for roomID, room := range resp.Rooms.Leave {
		add(roomID, &room.Timeline)
	}
	if err := a.bundleAggregations(ctx, userID, targets); err != nil {
		slog.WarnContext(ctx, "clientapi: bundling aggregations into /sync", "err", err)
	}
}

// bundleAggregations sets unsigned.m.relations on the targets that have
// children the user may see.
func (a *API) bundleAggregations(ctx context.Context, userID string, targets []bundleTarget) error {
	depth, _ := ctx.Value(bundleDepthKey{}).(int)
	if depth > maxBundleDepth || a.Rooms == nil {
		return nil
	}
	parents := relationParents(targets)
	if len(parents) == 0 {
		return nil
	}
	sums, err := a.Store.RelationSummaries(ctx, userID, parents)
	if err != nil || len(sums) == 0 {
		return err
	}
	children, err := a.bundledChildren(context.WithValue(ctx, bundleDepthKey{}, depth+1), userID, sums)
	if err != nil {
		return err
	}
	if err := a.keepVisibleReferences(ctx, userID, sums); err != nil {
		return err
	}
	for _, t := range targets {
		if s, ok := sums[t.ev.EventID]; ok {
			if b := buildBundle(t.ev, userID, s, children); b != nil {
				t.ev.Unsigned.Relations = b
			}
		}
	}
	return nil
}

// relationParents lists the targets that may have aggregations: state
// events get none (the spec leaves them out). Only an original event that
// is neither redacted nor an edit itself can be replaced.
func relationParents(targets []bundleTarget) []storage.RelationParent {
	parents := make([]storage.RelationParent, 0, len(targets))
	for _, t := range targets {
		if t.ev.StateKey != nil || t.ev.Unsigned == nil {
			continue
		}
		parents = append(parents, storage.RelationParent{
			EventID: t.ev.EventID, RoomID: t.roomID, Replace: mayBeReplaced(t.ev),
		})
	}
	return parents
}

// mayBeReplaced: a redacted event bundles no edit (whether or not the
// edits are redacted too), and an edit cannot be edited.
func mayBeReplaced(ev *ClientEvent) bool {
	if ev.Unsigned != nil && ev.Unsigned.RedactedBecause != nil {
		return false
	}
	return relTypeOf(ev.Content) != storage.RelReplace
}

// relTypeOf reads content.m.relates_to.rel_type ("" if none).
func relTypeOf(content json.RawMessage) string {
	return gjson.GetBytes(content, `m\.relates_to.rel_type`).String()
}

// bundledChildren loads and formats the child events the summaries name,
// keeping those the user may see.
func (a *API) bundledChildren(ctx context.Context, userID string, sums map[string]storage.RelationSummary) (map[string]*ClientEvent, error) {
	var ids []string
	for _, s := range sums {
		for _, id := range []string{s.Replace, s.ThreadLatest} {
			if id != "" {
				ids = append(ids, id)
			}
		}
	}
	out := map[string]*ClientEvent{}
	if len(ids) == 0 {
		return out, nil
	}
	formatted, err := a.clientEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range formatted {
		ev := &formatted[i]
		visible, err := a.Rooms.VisibleToUser(ctx, ev.EventID, userID)
		if err != nil {
			return nil, err
		}
		if visible {
			out[ev.EventID] = ev
		}
	}
	return out, nil
}

// buildBundle turns a parent's summary into m.relations, or nil when
// nothing in it is for the user. The thread's participation counts the
// root's sender too.
func buildBundle(parent *ClientEvent, userID string, s storage.RelationSummary, children map[string]*ClientEvent) *relationsBundle {
	b := &relationsBundle{}
	if ev := children[s.Replace]; ev != nil && mayBeReplaced(parent) && validReplacement(parent, ev) {
		b.Replace = ev
	}
	if ev := children[s.ThreadLatest]; ev != nil && s.ThreadCount > 0 {
		b.Thread = &threadBundle{
			LatestEvent: ev, Count: s.ThreadCount,
			CurrentUserParticipated: s.ThreadParticipated || parent.Sender == userID,
		}
	}
	if len(s.References) > 0 {
		b.Reference = &referenceBundle{Chunk: make([]eventIDOnly, len(s.References))}
		for i, id := range s.References {
			b.Reference.Chunk[i] = eventIDOnly{EventID: id}
		}
	}
	if b.Replace == nil && b.Thread == nil && b.Reference == nil {
		return nil
	}
	return b
}

// validReplacement checks the spec's rules for an edit against the
// original ("Validity of replacement events"). Storage already chose the
// latest edit by the parent's sender and type; checking again here keeps
// the rule in one readable place and guards the formatter.
func validReplacement(original, edit *ClientEvent) bool {
	if edit.Sender != original.Sender || edit.Type != original.Type || edit.StateKey != nil || original.StateKey != nil {
		return false
	}
	if relTypeOf(original.Content) == storage.RelReplace {
		return false
	}
	// Encrypted edits carry m.new_content inside the ciphertext.
	return edit.Type == "m.room.encrypted" || gjson.GetBytes(edit.Content, `m\.new_content`).IsObject()
}

// keepVisibleReferences drops from the m.reference chunks the events the
// user may not see, so a chunk does not reveal events of history hidden
// from them. References are few (at most MaxBundledReferences a parent).
func (a *API) keepVisibleReferences(ctx context.Context, userID string, sums map[string]storage.RelationSummary) error {
	for parent, s := range sums {
		kept := s.References[:0]
		for _, id := range s.References {
			visible, err := a.Rooms.VisibleToUser(ctx, id, userID)
			if err != nil {
				return err
			}
			if visible {
				kept = append(kept, id)
			}
		}
		s.References = kept
		sums[parent] = s
	}
	return nil
}
