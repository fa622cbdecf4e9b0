package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Client side of the federation reads that filling a gap in a room needs:
// /get_missing_events, /state_ids and /event. Every answer is bounded.

// Bounds on what a remote server's answer may hold.
const (
	maxStateIDs     = 50_000 // pdu_ids or auth_chain_ids of one /state_ids
	maxMissingLimit = 100    // the most events one /get_missing_events asks for
)

// getMissingEvents asks dest for up to limit events of roomID between
// earliest and latest (oldest first).
func getMissingEvents(ctx context.Context, c TransactionClient, dest, roomID string, earliest, latest []string, limit int) ([]json.RawMessage, error) {
	limit = min(limit, maxMissingLimit)
	body := map[string]any{"earliest_events": nonNil(earliest), "latest_events": nonNil(latest), "limit": limit, "min_depth": 0}
	var out struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := call(ctx, c, dest, http.MethodPost, "/_matrix/federation/v1/get_missing_events/"+url.PathEscape(roomID), body, &out); err != nil {
		return nil, err
	}
	if len(out.Events) > limit {
		out.Events = out.Events[:limit]
	}
	return out.Events, nil
}

// stateIDs asks dest for the IDs of the state of roomID before eventID
// and of its auth chain.
func stateIDs(ctx context.Context, c TransactionClient, dest, roomID, eventID string) (state, authChain []string, err error) {
	var out struct {
		PDUIDs       []string `json:"pdu_ids"`
		AuthChainIDs []string `json:"auth_chain_ids"`
	}
	path := "/_matrix/federation/v1/state_ids/" + url.PathEscape(roomID) + "?event_id=" + url.QueryEscape(eventID)
	if err := call(ctx, c, dest, http.MethodGet, path, nil, &out); err != nil {
		return nil, nil, err
	}
	if len(out.PDUIDs) > maxStateIDs || len(out.AuthChainIDs) > maxStateIDs {
		return nil, nil, fmt.Errorf("%s: state of %s is too large (%d + %d events)", dest, eventID, len(out.PDUIDs), len(out.AuthChainIDs))
	}
	return out.PDUIDs, out.AuthChainIDs, nil
}

// getEvent asks dest for one event.
func getEvent(ctx context.Context, c TransactionClient, dest, eventID string) (json.RawMessage, error) {
	var out struct {
		PDUs []json.RawMessage `json:"pdus"`
	}
	if err := call(ctx, c, dest, http.MethodGet, "/_matrix/federation/v1/event/"+url.PathEscape(eventID), nil, &out); err != nil {
		return nil, err
	}
	if len(out.PDUs) != 1 {
		return nil, fmt.Errorf("%s: /event answered %d events for %s", dest, len(out.PDUs), eventID)
	}
	return out.PDUs[0], nil
}

// call sends a signed request and decodes a 2xx JSON answer into out.
func call(ctx context.Context, c TransactionClient, dest, method, path string, body, out any) error {
	resp, err := c.Do(ctx, dest, method, path, body)
	if err != nil {
		return err
	}
	if err := resp.Err(); err != nil {
		return err
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("%s: unreadable answer to %s: %w", dest, path, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
