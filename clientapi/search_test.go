package clientapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// TestSearchWords: terms split on anything but letters and digits, lower
// case, without repeats or stop words; query syntax of either engine
// never survives.
func TestSearchWords(t *testing.T) {
	for _, tc := range []struct {
		term string
		want []string
	}{
		{"martians and men", []string{"martians", "men"}},
		{"  Hello, WORLD! hello ", []string{"hello", "world"}},
		{`"quoted" OR NEAR(x y) -not * ^col:x & | ! ' ;`, []string{"quoted", "near", "x", "y", "not", "col"}},
		{"Grüße 東京 café42", []string{"grüße", "東京", "café42"}},
		{"the a of", nil},
		{"", nil},
		{"\x00\xff", nil},
	} {
		if got := searchWords(tc.term); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("searchWords(%q) = %q, want %q", tc.term, got, tc.want)
		}
	}
}

// TestSearchTokenRoundTrip: a next_batch parses back to itself in the
// order it was made for, and only there; malformed ones are refused.
func TestSearchTokenRoundTrip(t *testing.T) {
	for _, tok := range []searchToken{
		{Order: searchOrderRecent, Stream: 42, Count: 10},
		{Order: searchOrderRank, Rank: 0.1 + 0.2, Stream: -7},
		{Order: searchOrderRank, Rank: math.SmallestNonzeroFloat64, Stream: 1, Group: searchGroupRoom, Value: "!r:x"},
		{Order: searchOrderRecent, Stream: math.MaxInt64, Group: searchGroupUser, Value: "@u:x"},
	} {
		got, err := parseSearchToken(tok.String(), tok.Order)
		if err != nil || *got != tok {
			t.Errorf("%+v parses to %+v, %v", tok, got, err)
		}
		other := searchOrderRank
		if tok.Order == searchOrderRank {
			other = searchOrderRecent
		}
		if _, err := parseSearchToken(tok.String(), other); err == nil {
			t.Errorf("%+v accepted for order %s", tok, other)
		}
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{
		"", "!!!", "x", strings.Repeat("A", maxSearchToken+1),
		enc(`{"o":"recent","s":1,"extra":1}`), enc(`{"o":"recent","s":"1"}`), enc(`{"o":"recent","s":1}{}`),
		enc(`{"o":"recent","s":1,"g":"room_id"}`), enc(`{"o":"recent","s":1,"g":"type","v":"x"}`),
		enc(`{"o":"recent","s":1,"v":"x"}`), enc(`{"o":"recent","s":1,"c":-1}`), enc(`{"o":"other","s":1}`),
	} {
		if tok, err := parseSearchToken(bad, searchOrderRecent); err == nil {
			t.Errorf("%q parses to %+v", bad, tok)
		}
	}
}

func searchErrcode(err error) string {
	var mx *mxcore.Error
	if errors.As(err, &mx) {
		return mx.ErrCode
	}
	return fmt.Sprint(err)
}

// TestParseSearchRequest: defaults, bounds and every refusal of a body
// and next_batch, with its errcode.
func TestParseSearchRequest(t *testing.T) {
	long := strings.Repeat("w ", maxSearchTermBytes)
	tooMany := ""
	for i := range storage.MaxSearchWords + 1 {
		tooMany += fmt.Sprintf(" w%d", i)
	}
	users := `"@u:x"` + strings.Repeat(`,"@u:x"`, storage.MaxSearchFilterUsers)
	okToken := searchToken{Order: searchOrderRank, Stream: 5}.String()
	for _, tc := range []struct {
		name, body, next string
		hasNext          bool
		errcode          string
	}{
		{name: "not json", body: `{`, errcode: "M_NOT_JSON"},
		{name: "not an object", body: `[]`, errcode: "M_NOT_JSON"},
		{name: "no categories", body: `{}`, errcode: "M_MISSING_PARAM"},
		{name: "no search term", body: `{"search_categories":{"room_events":{}}}`, errcode: "M_MISSING_PARAM"},
		{name: "term not a string", body: `{"search_categories":{"room_events":{"search_term":1}}}`, errcode: "M_BAD_JSON"},
		{name: "term too long", body: `{"search_categories":{"room_events":{"search_term":"` + long + `"}}}`, errcode: "M_INVALID_PARAM"},
		{name: "too many words", body: `{"search_categories":{"room_events":{"search_term":"` + tooMany + `"}}}`, errcode: "M_INVALID_PARAM"},
		{name: "bad key", body: `{"search_categories":{"room_events":{"search_term":"x","keys":["content.url"]}}}`, errcode: "M_INVALID_PARAM"},
		{name: "bad order", body: `{"search_categories":{"room_events":{"search_term":"x","order_by":"oldest"}}}`, errcode: "M_INVALID_PARAM"},
		{name: "negative limit", body: `{"search_categories":{"room_events":{"search_term":"x","filter":{"limit":-1}}}}`, errcode: "M_INVALID_PARAM"},
		{name: "too many senders", body: `{"search_categories":{"room_events":{"search_term":"x","filter":{"senders":[` + users + `]}}}}`, errcode: "M_INVALID_PARAM"},
		{name: "negative context", body: `{"search_categories":{"room_events":{"search_term":"x","event_context":{"after_limit":-1}}}}`, errcode: "M_INVALID_PARAM"},
		{name: "bad group", body: `{"search_categories":{"room_events":{"search_term":"x","groupings":{"group_by":[{"key":"type"}]}}}}`, errcode: "M_INVALID_PARAM"},
		{name: "bad next_batch", body: `{"search_categories":{"room_events":{"search_term":"x"}}}`, next: "nope", hasNext: true, errcode: "M_INVALID_PARAM"},
		{name: "empty next_batch", body: `{"search_categories":{"room_events":{"search_term":"x"}}}`, hasNext: true, errcode: "M_INVALID_PARAM"},
		{name: "next_batch of the other order", body: `{"search_categories":{"room_events":{"search_term":"x","order_by":"recent"}}}`, next: okToken, hasNext: true, errcode: "M_INVALID_PARAM"},
		{name: "next_batch", body: `{"search_categories":{"room_events":{"search_term":"x"}}}`, next: okToken, hasNext: true},
		{name: "other category only", body: `{"search_categories":{"other":{}}}`},
	} {
		_, err := parseSearchRequest([]byte(tc.body), tc.next, tc.hasNext)
		if got := searchErrcode(err); tc.errcode == "" && err != nil || tc.errcode != "" && got != tc.errcode {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.errcode)
		}
	}
}

// TestParseSearchRequestValues: what a valid request turns into.
func TestParseSearchRequestValues(t *testing.T) {
	req, err := parseSearchRequest([]byte(`{"search_categories":{"room_events":{"search_term":"Hi there"}}}`), "", false)
	if err != nil {
		t.Fatal(err)
	}
	want := &searchRequest{words: []string{"hi", "there"}, order: searchOrderRank, limit: defaultSearchLimit,
		types: []string{storage.SearchTypeMessage, storage.SearchTypeName, storage.SearchTypeTopic}}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("defaults: %+v, want %+v", req, want)
	}
	req, err = parseSearchRequest([]byte(`{"search_categories":{"room_events":{"search_term":"x","filter":{"limit":1000}}}}`), "", false)
	if err != nil || req.limit != maxSearchLimit {
		t.Errorf("limit without context: %+v, %v", req, err)
	}
	req, err = parseSearchRequest([]byte(`{"search_categories":{"room_events":{"search_term":"x","order_by":"recent",
		"keys":["content.body","content.topic","content.body"],"filter":{"limit":1000,"not_types":["m.room.topic"]},
		"event_context":{"before_limit":1000,"include_profile":true},"include_state":true,
		"groupings":{"group_by":[{"key":"sender"},{"key":"room_id"},{"key":"sender"}]}}}}`), "", false)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case !reflect.DeepEqual(req.types, []string{storage.SearchTypeMessage}):
		t.Errorf("types %q: keys then filter.not_types", req.types)
	case req.limit != maxSearchLimitWithContext || req.order != searchOrderRecent || !req.includeState:
		t.Errorf("limit %d, order %s, include_state %v", req.limit, req.order, req.includeState)
	case *req.context != searchContext{before: maxSearchContext, after: defaultSearchContext, includeProfile: true}:
		t.Errorf("context %+v", *req.context)
	case !reflect.DeepEqual(req.groupBy, []string{searchGroupUser, searchGroupRoom}):
		t.Errorf("groups %q", req.groupBy)
	}
}

// TestSearchStoreQuery: a group's next_batch narrows the next page to
// the group, never widening the filter.
func TestSearchStoreQuery(t *testing.T) {
	rooms := []string{"!a:x", "!b:x"}
	req := &searchRequest{words: []string{"w"}, types: []string{"t"}, order: searchOrderRank,
		filter: &roomEventFilter{Senders: &[]string{"@a:x"}, NotSenders: []string{"@c:x"}}}
	q := req.storeQuery(rooms)
	if q.After != nil || !q.ByRank || !reflect.DeepEqual(q.RoomIDs, rooms) || (*q.Senders)[0] != "@a:x" || q.NotSenders[0] != "@c:x" {
		t.Errorf("first page: %+v", q)
	}
	req.token = &searchToken{Order: searchOrderRank, Rank: 2, Stream: 9, Group: searchGroupRoom, Value: "!b:x"}
	q = req.storeQuery(rooms)
	if !reflect.DeepEqual(q.RoomIDs, []string{"!b:x"}) || *q.After != (storage.SearchPos{Rank: 2, Stream: 9}) || len(rooms) != 2 {
		t.Errorf("room group: %+v", q)
	}
	req.token = &searchToken{Order: searchOrderRank, Group: searchGroupRoom, Value: "!elsewhere:x"}
	if q = req.storeQuery(rooms); len(q.RoomIDs) != 0 {
		t.Errorf("a room group outside the searchable rooms: %+v", q.RoomIDs)
	}
	req.token = &searchToken{Order: searchOrderRank, Group: searchGroupUser, Value: "@b:x"}
	if q = req.storeQuery(rooms); q.Senders == nil || len(*q.Senders) != 0 {
		t.Errorf("a sender group outside filter.senders: %+v", q.Senders)
	}
	req.filter.Senders = nil
	if q = req.storeQuery(rooms); !reflect.DeepEqual(*q.Senders, []string{"@b:x"}) {
		t.Errorf("sender group: %+v", q.Senders)
	}
}

// TestSearchGroups: groups in order of first appearance, with a
// next_batch only while the search has more.
func TestSearchGroups(t *testing.T) {
	hits := []storage.SearchHit{
		{EventID: "$1", RoomID: "!b", Sender: "@x"}, {EventID: "$2", RoomID: "!a", Sender: "@x"}, {EventID: "$3", RoomID: "!b", Sender: "@y"},
	}
	req := &searchRequest{order: searchOrderRecent, groupBy: []string{searchGroupRoom, searchGroupUser}}
	groups := searchGroups(req, hits, nil, 3)
	rooms, senders := groups[searchGroupRoom], groups[searchGroupUser]
	if rooms["!b"].Order != 1 || rooms["!a"].Order != 2 || !reflect.DeepEqual(rooms["!b"].Results, []string{"$1", "$3"}) || rooms["!b"].NextBatch != "" {
		t.Errorf("by room: %+v %+v", rooms["!b"], rooms["!a"])
	}
	if !reflect.DeepEqual(senders["@x"].Results, []string{"$1", "$2"}) || senders["@y"].Order != 2 {
		t.Errorf("by sender: %+v %+v", senders["@x"], senders["@y"])
	}
	groups = searchGroups(req, hits, &storage.SearchPos{Stream: 3}, 3)
	tok, err := parseSearchToken(groups[searchGroupRoom]["!a"].NextBatch, searchOrderRecent)
	if err != nil || *tok != (searchToken{Order: searchOrderRecent, Stream: 3, Group: searchGroupRoom, Value: "!a", Count: 3}) {
		t.Errorf("group next_batch %+v, %v", tok, err)
	}
	if searchGroups(&searchRequest{}, hits, nil, 3) != nil {
		t.Error("groups without group_by")
	}
}
