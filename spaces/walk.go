package spaces

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// The walk behind the client /hierarchy: depth first from the root,
// each space's children in their order, every room at most once, to at
// most MaxDepth below the root and MaxVisited rooms looked at in all.
// Pages are cut from the one order the walk produces; a page token
// carries the request's parameters and how many rooms came before, so a
// later page walks again and skips those (a changed space moves the
// pages, as in other servers; the walk is bounded, so this stays cheap).

// Room is one room of a hierarchy page.
type Room struct {
	Summary
	ChildrenState []StrippedChild `json:"children_state"`
}

// Node is what a Source knows of one room.
type Node struct {
	Room Room
	// Children are the space's children to walk (filtered when only
	// suggested rooms are wanted); empty for a room that is no space.
	Children []Child
	// Visible says whether the requester may see the room.
	Visible bool
}

// Source tells the walk about rooms, local ones or through other servers.
type Source interface {
	// Node describes roomID; via are the servers its parent named.
	// found is false when no one could tell (the room is then skipped).
	Node(ctx context.Context, roomID string, via []string, suggestedOnly bool) (n Node, found bool, err error)
}

const (
	// DefaultMaxDepth and MaxMaxDepth: how deep a walk goes when the
	// client says nothing, and at most.
	DefaultMaxDepth = 10
	MaxMaxDepth     = 20
	// DefaultLimit and MaxLimit: rooms per page.
	DefaultLimit = 50
	MaxLimit     = 100
	// MaxVisited bounds the rooms one walk looks at (and so the rooms it
	// can return over all pages).
	MaxVisited = 500
)

// ErrRootNotVisible: the requester may not see the root (or it is unknown).
var ErrRootNotVisible = errors.New("spaces: the requested room cannot be seen")

// Query is one page request.
type Query struct {
	Root          string
	SuggestedOnly bool
	MaxDepth      int
	Skip, Limit   int
}

// Page is one page of the walk; More says whether a next page may hold
// rooms.
type Page struct {
	Rooms []Room
	More  bool
}

type walkEntry struct {
	roomID string
	via    []string
	depth  int
}

// Walk produces the page q asks for.
func Walk(ctx context.Context, src Source, q Query) (Page, error) {
	stack := []walkEntry{{roomID: q.Root}}
	seen := map[string]bool{}
	page := Page{Rooms: []Room{}}
	matched := 0
	for len(stack) > 0 && len(seen) < MaxVisited {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[e.roomID] {
			continue
		}
		seen[e.roomID] = true
		n, found, err := src.Node(ctx, e.roomID, e.via, q.SuggestedOnly)
		if err != nil {
			return Page{}, err
		}
		if e.depth == 0 && (!found || !n.Visible) {
			return Page{}, ErrRootNotVisible
		}
		if !found || !n.Visible {
			continue
		}
		if matched == q.Skip+q.Limit {
			page.More = true // a further visible room exists
			break
		}
		if matched >= q.Skip {
			page.Rooms = append(page.Rooms, n.Room)
		}
		matched++
		if e.depth < q.MaxDepth {
			// Pushed in reverse so the first child is walked next.
			for i := len(n.Children) - 1; i >= 0; i-- {
				c := n.Children[i]
				if !seen[c.RoomID] {
					stack = append(stack, walkEntry{roomID: c.RoomID, via: c.Via, depth: e.depth + 1})
				}
			}
		}
	}
	return page, nil
}

// tokenPrefix marks hierarchy page tokens.
const tokenPrefix = "h1_"

// pageToken is what a next_batch token carries.
type pageToken struct {
	Root      string `json:"r"`
	Suggested bool   `json:"s"`
	MaxDepth  int    `json:"d"`
	Skip      int    `json:"o"`
}

// NextToken is the token of the page after q's.
func NextToken(q Query) string {
	b, _ := json.Marshal(pageToken{Root: q.Root, Suggested: q.SuggestedOnly, MaxDepth: q.MaxDepth, Skip: q.Skip + q.Limit})
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ErrBadToken: a from token that is malformed, out of bounds, or from a
// request with other parameters.
var ErrBadToken = errors.New("spaces: invalid pagination token")

// ApplyToken checks token against q and returns q with its Skip set.
func ApplyToken(q Query, token string) (Query, error) {
	raw, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(raw) > 1024 {
		return q, ErrBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return q, ErrBadToken
	}
	var t pageToken
	if json.Unmarshal(b, &t) != nil || t.Skip <= 0 || t.Skip > MaxVisited {
		return q, ErrBadToken
	}
	if t.Root != q.Root || t.Suggested != q.SuggestedOnly || t.MaxDepth != q.MaxDepth {
		return q, ErrBadToken
	}
	q.Skip = t.Skip
	return q, nil
}

// Hierarchy is the answer of the federation GET /hierarchy: the room, the
// children the asking server may see, and those it may not.
type Hierarchy struct {
	Room         Room      `json:"room"`
	Children     []Summary `json:"children"`
	Inaccessible []string  `json:"inaccessible_children"`
}
