package clientapi

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// roomEventsResult is search_categories.room_events of a search answer.
type roomEventsResult struct {
	// Count is the number of results returned so far in this pagination:
	// exact once next_batch is absent, a lower bound before. Counting
	// every match in the index would count events the caller may not
	// see, and so tell them how often a word was said where they cannot
	// look.
	Count      int                                `json:"count"`
	Highlights []string                           `json:"highlights"`
	Results    []searchResult                     `json:"results"`
	State      map[string][]ClientEvent           `json:"state,omitempty"`
	Groups     map[string]map[string]*searchGroup `json:"groups,omitempty"`
	NextBatch  string                             `json:"next_batch,omitempty"`
}

type searchResult struct {
	Rank    float64              `json:"rank"`
	Result  ClientEvent          `json:"result"`
	Context *searchResultContext `json:"context,omitempty"`
}

type searchResultContext struct {
	Start        string                     `json:"start"`
	End          string                     `json:"end"`
	ProfileInfo  map[string]json.RawMessage `json:"profile_info,omitempty"`
	EventsBefore []ClientEvent              `json:"events_before"`
	EventsAfter  []ClientEvent              `json:"events_after"`
}

type searchGroup struct {
	NextBatch string   `json:"next_batch,omitempty"`
	Order     int      `json:"order"`
	Results   []string `json:"results"`
}

// searchRoomEvents runs the room_events category of a checked request.
func (a *API) searchRoomEvents(ctx context.Context, userID string, req *searchRequest) (*roomEventsResult, error) {
	res := &roomEventsResult{Highlights: req.words, Results: []searchResult{}}
	if res.Highlights == nil {
		res.Highlights = []string{}
	}
	prior := 0
	if req.token != nil {
		prior = req.token.Count
	}
	rooms, err := a.searchableRooms(ctx, userID, req.filter)
	if err != nil {
		return nil, err
	}
	hits, next, err := a.visibleHits(ctx, userID, req.storeQuery(rooms), req.limit)
	if err != nil {
		return nil, err
	}
	res.Count = prior + len(hits)
	if next != nil {
		tok := searchToken{Order: req.order, Rank: next.Rank, Stream: next.Stream, Count: res.Count}
		if t := req.token; t != nil {
			tok.Group, tok.Value = t.Group, t.Value
		}
		res.NextBatch = tok.String()
	}
	if err := a.fillSearchResults(ctx, userID, req, hits, res); err != nil {
		return nil, err
	}
	res.Groups = searchGroups(req, hits, next, res.Count)
	if req.includeState {
		res.State = a.searchState(ctx, userID, hits)
	}
	return res, nil
}

// fillSearchResults formats the hits, with their context if asked.
func (a *API) fillSearchResults(ctx context.Context, userID string, req *searchRequest, hits []storage.SearchHit, res *roomEventsResult) error {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.EventID
	}
	stored, err := a.Store.Events(ctx, ids)
	if err != nil {
		return err
	}
	contexts := make([]*hitContext, len(stored))
	all := slices.Clone(stored)
	for i, ev := range stored {
		if req.context == nil {
			continue
		}
		if contexts[i], err = a.readHitContext(ctx, userID, ev, req.context); err != nil {
			return err
		}
		all = append(append(all, contexts[i].before.events...), contexts[i].after.events...)
	}
	formatted, err := a.formatSearchEvents(ctx, all)
	if err != nil {
		return err
	}
	rank := make(map[string]float64, len(hits))
	for _, h := range hits {
		rank[h.EventID] = h.Rank
	}
	for i, ev := range stored {
		out, ok := formatted[ev.EventID]
		if !ok {
			continue
		}
		r := searchResult{Rank: rank[ev.EventID], Result: out}
		if contexts[i] != nil {
			r.Context = contexts[i].response(formatted)
		}
		res.Results = append(res.Results, r)
	}
	return nil
}

// hitContext is the timeline read around one result.
type hitContext struct {
	before, after page
	profiles      map[string]json.RawMessage
}

func (a *API) readHitContext(ctx context.Context, userID string, ev storage.StoredEvent, opts *searchContext) (*hitContext, error) {
	var c hitContext
	var err error
	if c.before, err = a.paginate(ctx, ev.RoomID, userID, ev.Topo, storage.TopoMin, opts.before, true, nil); err != nil {
		return nil, err
	}
	if c.after, err = a.paginate(ctx, ev.RoomID, userID, ev.Topo, storage.TopoMax, opts.after, false, nil); err != nil {
		return nil, err
	}
	if opts.includeProfile {
		evs := append(append([]storage.StoredEvent{ev}, c.before.events...), c.after.events...)
		c.profiles = a.historicProfiles(ctx, ev.EventID, evs)
	}
	return &c, nil
}

func (c *hitContext) response(formatted map[string]ClientEvent) *searchResultContext {
	pick := func(evs []storage.StoredEvent) []ClientEvent {
		out := []ClientEvent{}
		for _, ev := range evs {
			if f, ok := formatted[ev.EventID]; ok {
				out = append(out, f)
			}
		}
		return out
	}
	return &searchResultContext{
		Start: topoToken(c.before.next), End: topoToken(c.after.next), ProfileInfo: c.profiles,
		EventsBefore: pick(c.before.events), EventsAfter: pick(c.after.events),
	}
}

// formatSearchEvents formats events through the one formatter, keyed by
// ID (the context of neighbouring results may share events).
func (a *API) formatSearchEvents(ctx context.Context, evs []storage.StoredEvent) (map[string]ClientEvent, error) {
	formatted, err := a.storedToClient(ctx, evs)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ClientEvent, len(formatted))
	for _, f := range formatted {
		out[f.EventID] = f
	}
	return out, nil
}

// historicProfiles is profile_info: each sender's display name and
// avatar from their member event in the state at the result.
func (a *API) historicProfiles(ctx context.Context, resultID string, evs []storage.StoredEvent) map[string]json.RawMessage {
	state, err := a.Rooms.StateAt(ctx, resultID, roomserver.StateAfterEvent)
	if err != nil {
		return nil
	}
	senders := map[string]bool{}
	for _, ev := range evs {
		senders[ev.Sender] = true
	}
	var ids []string
	for _, e := range state {
		if e.Type == "m.room.member" && senders[e.StateKey] {
			ids = append(ids, e.EventID)
		}
	}
	members, err := a.Rooms.Events(ctx, ids)
	if err != nil {
		return nil
	}
	out := map[string]json.RawMessage{}
	for _, m := range members {
		var c memberContent
		_ = json.Unmarshal(m.Event.Content(), &c)
		profile, _ := json.Marshal(searchProfile{DisplayName: c.DisplayName, AvatarURL: c.AvatarURL})
		if sk := m.Event.StateKey(); sk != nil {
			out[*sk] = profile
		}
	}
	return out
}

// searchProfile is one entry of profile_info.
type searchProfile struct {
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// searchGroups partitions the page's results by the keys asked. A group
// gets a next_batch (the page's continuation, narrowed to the group)
// whenever the search as a whole may have more.
func searchGroups(req *searchRequest, hits []storage.SearchHit, next *storage.SearchPos, count int) map[string]map[string]*searchGroup {
	if len(req.groupBy) == 0 {
		return nil
	}
	groups := map[string]map[string]*searchGroup{}
	for _, key := range req.groupBy {
		byValue := map[string]*searchGroup{}
		for _, h := range hits {
			value := h.RoomID
			if key == searchGroupUser {
				value = h.Sender
			}
			g := byValue[value]
			if g == nil {
				g = &searchGroup{Order: len(byValue) + 1, Results: []string{}}
				if next != nil {
					g.NextBatch = searchToken{Order: req.order, Rank: next.Rank, Stream: next.Stream, Group: key, Value: value, Count: count}.String()
				}
				byValue[value] = g
			}
			g.Results = append(g.Results, h.EventID)
		}
		groups[key] = byValue
	}
	return groups
}

// searchState is the state of each room with results that the user may
// see: the current state while joined, the state when they left after.
func (a *API) searchState(ctx context.Context, userID string, hits []storage.SearchHit) map[string][]ClientEvent {
	out := map[string][]ClientEvent{}
	for _, h := range hits {
		if _, done := out[h.RoomID]; done {
			continue
		}
		entries, err := a.visibleState(ctx, h.RoomID, userID)
		if err != nil {
			continue
		}
		ids := make([]string, len(entries))
		for i, e := range entries {
			ids[i] = e.EventID
		}
		if evs, err := a.clientEvents(ctx, ids); err == nil {
			out[h.RoomID] = evs
		}
	}
	return out
}
