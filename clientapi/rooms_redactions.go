package clientapi

import (
	"context"
)

// Redactions are recorded on the stored event (storage's
// redacted_because) by the roomserver's write path, for local and remote
// redactions alike; /sync and the reads here honour it by serving the
// redacted form.

// redactedBy maps the redacted ones among ids to their redaction's ID.
func (a *API) redactedBy(ctx context.Context, ids []string) (map[string]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	stored, err := a.Store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, ev := range stored {
		if ev.RedactedBecause != "" {
			out[ev.EventID] = ev.RedactedBecause
		}
	}
	return out, nil
}

// redactionsFor formats the redaction events named in by, keyed by the
// redacted event's ID, for unsigned.redacted_because.
func (a *API) redactionsFor(ctx context.Context, by map[string]string, now int64) (map[string]*ClientEvent, error) {
	if len(by) == 0 {
		return nil, nil
	}
	redactionIDs := make([]string, 0, len(by))
	for _, rid := range by {
		redactionIDs = append(redactionIDs, rid)
	}
	infos, err := a.Rooms.Events(ctx, redactionIDs)
	if err != nil {
		return nil, err
	}
	formatted := map[string]*ClientEvent{}
	for _, info := range infos {
		ev := NewClientEvent(info.Event, ClientEventOptions{Now: now})
		formatted[ev.EventID] = &ev
	}
	out := map[string]*ClientEvent{}
	for id, rid := range by {
		if ev := formatted[rid]; ev != nil {
			out[id] = ev
		}
	}
	return out, nil
}
