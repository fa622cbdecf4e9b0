package clientapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// POST /search (client-server API, "Server Side Search"): the room_events
// category over the index storage keeps (storage.SearchStore). The store
// narrows hits to the rooms the caller is or was in; every hit is then
// checked against history visibility for the caller before it is shown,
// so events of a room after the caller left, or before they could see
// it, are never returned.

// Bounds of one search request.
const (
	maxSearchBody      = 64 << 10
	maxSearchTermBytes = 512
	defaultSearchLimit = 10
	maxSearchLimit     = 50
	// Context is read per result, with a visibility check per event, so
	// it is bounded tighter than /context.
	defaultSearchContext = 5
	maxSearchContext     = 10
	// maxSearchLimitWithContext bounds the results of a page that asks
	// for context, since each result then costs two timeline reads.
	maxSearchLimitWithContext = 20
	// searchBatch hits are read per store call, and at most
	// maxSearchScans calls are made, which bounds the visibility checks
	// one request makes when many hits are hidden. The page then ends
	// early, with a next_batch to continue.
	searchBatch    = 50
	maxSearchScans = 4
	// maxSearchToken bounds the next_batch parameter read.
	maxSearchToken = 2048
)

// Names the search API uses.
const (
	searchCategories  = "search_categories"
	searchOrderRank   = "rank"
	searchOrderRecent = "recent"
	searchGroupRoom   = "room_id"
	searchGroupUser   = "sender"
	searchKeyBody     = "content.body"
	searchKeyName     = "content.name"
	searchKeyTopic    = "content.topic"
)

// searchKeyTypes maps each searchable key to the one event type that
// carries it.
var searchKeyTypes = map[string]string{
	searchKeyBody:  storage.SearchTypeMessage,
	searchKeyName:  storage.SearchTypeName,
	searchKeyTopic: storage.SearchTypeTopic,
}

// searchBody is the request body; only room_events is a known category.
type searchBody struct {
	SearchCategories *struct {
		RoomEvents *roomEventsCriteria `json:"room_events"`
	} `json:"search_categories"`
}

type roomEventsCriteria struct {
	SearchTerm   *string             `json:"search_term"`
	Keys         []string            `json:"keys"`
	Filter       *roomEventFilter    `json:"filter"`
	OrderBy      string              `json:"order_by"`
	EventContext *searchContextOpts  `json:"event_context"`
	IncludeState bool                `json:"include_state"`
	Groupings    *searchGroupingOpts `json:"groupings"`
}

type searchContextOpts struct {
	BeforeLimit    *int `json:"before_limit"`
	AfterLimit     *int `json:"after_limit"`
	IncludeProfile bool `json:"include_profile"`
}

type searchGroupingOpts struct {
	GroupBy []struct {
		Key string `json:"key"`
	} `json:"group_by"`
}

// searchRequest is a checked search of room_events.
type searchRequest struct {
	words        []string // lower case; also the highlights
	types        []string
	filter       *roomEventFilter
	order        string
	limit        int
	context      *searchContext // nil: no context asked
	includeState bool
	groupBy      []string
	token        *searchToken // nil on the first page
}

type searchContext struct {
	before, after  int
	includeProfile bool
}

// search implements POST /search.
func (a *API) search(r *http.Request) (any, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, maxSearchBody)
	body, err := mxhttp.ReadBody(r)
	if err != nil {
		return nil, err
	}
	req, err := parseSearchRequest(body, r.URL.Query().Get("next_batch"), r.URL.Query().Has("next_batch"))
	if err != nil {
		return nil, err
	}
	if req == nil {
		return map[string]any{searchCategories: map[string]any{}}, nil
	}
	res, err := a.searchRoomEvents(r.Context(), roomCaller(r).UserID, req)
	if err != nil {
		return nil, err
	}
	return map[string]any{searchCategories: map[string]any{"room_events": res}}, nil
}

// parseSearchRequest checks a request body and next_batch parameter. A
// body without the room_events category gives a nil request: there is
// nothing to search.
func parseSearchRequest(body []byte, nextBatch string, hasNextBatch bool) (*searchRequest, error) {
	var b searchBody
	if err := mxhttp.DecodeJSONBytes(body, &b); err != nil {
		return nil, err
	}
	if b.SearchCategories == nil {
		return nil, mxcore.MissingParam("search_categories is required")
	}
	c := b.SearchCategories.RoomEvents
	if c == nil {
		return nil, nil
	}
	if c.SearchTerm == nil {
		return nil, mxcore.MissingParam("search_categories.room_events.search_term is required")
	}
	req, err := c.check()
	if err != nil {
		return nil, err
	}
	if hasNextBatch {
		if req.token, err = parseSearchToken(nextBatch, req.order); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// check validates the criteria and turns them into a searchRequest.
func (c *roomEventsCriteria) check() (*searchRequest, error) {
	if len(*c.SearchTerm) > maxSearchTermBytes {
		return nil, mxcore.InvalidParam("search_term is too long")
	}
	words := searchWords(*c.SearchTerm)
	if len(words) > storage.MaxSearchWords {
		return nil, mxcore.InvalidParam("search_term has too many words")
	}
	req := &searchRequest{words: words, filter: c.Filter, order: c.OrderBy, includeState: c.IncludeState}
	var err error
	if req.types, err = searchTypes(c.Keys, c.Filter); err != nil {
		return nil, err
	}
	if req.order == "" {
		req.order = searchOrderRank
	}
	if req.order != searchOrderRank && req.order != searchOrderRecent {
		return nil, mxcore.InvalidParam("order_by must be rank or recent")
	}
	if req.limit, err = searchLimit(c.Filter); err != nil {
		return nil, err
	}
	if err := checkFilterUsers(c.Filter); err != nil {
		return nil, err
	}
	if req.context, err = c.EventContext.check(); err != nil {
		return nil, err
	}
	if req.context != nil {
		req.limit = min(req.limit, maxSearchLimitWithContext)
	}
	req.groupBy, err = c.Groupings.keys()
	return req, err
}

// searchTypes is the event types of the keys asked (all by default) that
// the filter's types and not_types let through.
func searchTypes(keys []string, f *roomEventFilter) ([]string, error) {
	if keys == nil {
		keys = []string{searchKeyBody, searchKeyName, searchKeyTopic}
	}
	var types []string
	for _, k := range keys {
		typ, ok := searchKeyTypes[k]
		if !ok {
			return nil, mxcore.InvalidParam("keys may hold only content.body, content.name and content.topic")
		}
		if !slices.Contains(types, typ) && (f == nil || listAllows(f.Types, f.NotTypes, typ, true)) {
			types = append(types, typ)
		}
	}
	return types, nil
}

func searchLimit(f *roomEventFilter) (int, error) {
	if f == nil || f.Limit == nil {
		return defaultSearchLimit, nil
	}
	if *f.Limit < 0 {
		return 0, mxcore.InvalidParam("filter.limit must not be negative")
	}
	return min(*f.Limit, maxSearchLimit), nil
}

func checkFilterUsers(f *roomEventFilter) error {
	if f != nil && (f.Senders != nil && len(*f.Senders) > storage.MaxSearchFilterUsers || len(f.NotSenders) > storage.MaxSearchFilterUsers) {
		return mxcore.InvalidParam("filter.senders and filter.not_senders are too long")
	}
	return nil
}

func (o *searchContextOpts) check() (*searchContext, error) {
	if o == nil {
		return nil, nil
	}
	c := &searchContext{before: defaultSearchContext, after: defaultSearchContext, includeProfile: o.IncludeProfile}
	for _, l := range []struct {
		in  *int
		out *int
	}{{o.BeforeLimit, &c.before}, {o.AfterLimit, &c.after}} {
		if l.in == nil {
			continue
		}
		if *l.in < 0 {
			return nil, mxcore.InvalidParam("event_context limits must not be negative")
		}
		*l.out = min(*l.in, maxSearchContext)
	}
	return c, nil
}

func (g *searchGroupingOpts) keys() ([]string, error) {
	if g == nil {
		return nil, nil
	}
	var keys []string
	for _, k := range g.GroupBy {
		if k.Key != searchGroupRoom && k.Key != searchGroupUser {
			return nil, mxcore.InvalidParam("groupings may group by room_id or sender only")
		}
		if !slices.Contains(keys, k.Key) {
			keys = append(keys, k.Key)
		}
	}
	return keys, nil
}

// searchStopWords are left out of searches: PostgreSQL's english
// configuration drops them (and more) from queries, SQLite's FTS5 does
// not, so dropping them here makes "martians and men" mean the same on
// both engines.
var searchStopWords = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true, "be": true, "by": true,
	"for": true, "from": true, "in": true, "is": true, "it": true, "of": true, "on": true, "or": true,
	"the": true, "to": true, "was": true, "with": true,
}

// searchWords splits a search term into distinct lower-case words of
// letters and digits; everything else separates words, so no character
// of the term reaches an engine as query syntax.
func searchWords(term string) []string {
	var words []string
	for _, w := range strings.FieldsFunc(strings.ToLower(term), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		if !searchStopWords[w] && !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// searchToken is a next_batch: where the previous page stopped, in which
// order, optionally within one group, and how many results came before.
// It travels as base64url JSON, opaque to clients.
type searchToken struct {
	Order  string  `json:"o"`
	Rank   float64 `json:"r,omitempty"`
	Stream int64   `json:"s"`
	Group  string  `json:"g,omitempty"`
	Value  string  `json:"v,omitempty"`
	Count  int     `json:"c,omitempty"`
}

func (t searchToken) String() string {
	raw, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// parseSearchToken reads a next_batch of a search in order.
func parseSearchToken(s, order string) (*searchToken, error) {
	bad := mxcore.InvalidParam("Invalid next_batch token")
	if s == "" || len(s) > maxSearchToken {
		return nil, bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var t searchToken
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil || dec.More() {
		return nil, bad
	}
	groupOK := t.Group == "" && t.Value == "" || (t.Group == searchGroupRoom || t.Group == searchGroupUser) && t.Value != ""
	if t.Order != order || !groupOK || t.Count < 0 {
		return nil, bad
	}
	return &t, nil
}

// storeQuery is the store query of the request's next page over rooms.
func (req *searchRequest) storeQuery(rooms []string) storage.SearchQuery {
	q := storage.SearchQuery{Words: req.words, RoomIDs: rooms, Types: req.types, ByRank: req.order == searchOrderRank}
	if f := req.filter; f != nil {
		q.Senders, q.NotSenders = f.Senders, f.NotSenders
	}
	if t := req.token; t != nil {
		q.After = &storage.SearchPos{Rank: t.Rank, Stream: t.Stream}
		switch t.Group {
		case searchGroupRoom:
			q.RoomIDs = slices.DeleteFunc(slices.Clone(rooms), func(id string) bool { return id != t.Value })
		case searchGroupUser:
			if q.Senders == nil || slices.Contains(*q.Senders, t.Value) {
				q.Senders = &[]string{t.Value}
			} else {
				q.Senders = &[]string{}
			}
		}
	}
	return q
}

// searchableRooms are the rooms whose events the user may find: those
// they are joined to, then those they left or were banned from (history
// visibility then decides event by event), that the filter lets through.
// Past storage.MaxSearchRooms the rest are not searched.
func (a *API) searchableRooms(ctx context.Context, userID string, f *roomEventFilter) ([]string, error) {
	var rooms []string
	for _, m := range []string{storage.MembershipJoin, storage.MembershipLeave, storage.MembershipBan} {
		ids, err := a.Store.RoomsForUser(ctx, userID, m)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if f == nil || listAllows(f.Rooms, f.NotRooms, id, false) {
				rooms = append(rooms, id)
			}
		}
	}
	if len(rooms) > storage.MaxSearchRooms {
		rooms = rooms[:storage.MaxSearchRooms]
	}
	return rooms, nil
}

// visibleHits reads hits for q and keeps those the user may see, up to
// limit. next is where a following page starts, nil when the search is
// exhausted.
func (a *API) visibleHits(ctx context.Context, userID string, q storage.SearchQuery, limit int) (hits []storage.SearchHit, next *storage.SearchPos, err error) {
	q.Limit = searchBatch
	for range maxSearchScans {
		if len(hits) == limit {
			return hits, q.After, nil
		}
		batch, err := a.Store.SearchEvents(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for i, h := range batch {
			q.After = &batch[i].SearchPos
			visible, err := a.Rooms.VisibleToUser(ctx, h.EventID, userID)
			if err != nil {
				return nil, nil, err
			}
			if visible {
				hits = append(hits, h)
			}
			if len(hits) == limit {
				if i == len(batch)-1 && len(batch) < searchBatch {
					return hits, nil, nil
				}
				return hits, q.After, nil
			}
		}
		if len(batch) < searchBatch {
			return hits, nil, nil
		}
	}
	return hits, q.After, nil // scans ran out; the next page continues
}
