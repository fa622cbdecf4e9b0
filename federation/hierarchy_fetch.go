package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/spaces"
)

// DiscoveryFetcher asks other servers about rooms this server is not in:
// a space's hierarchy (for the client /hierarchy and /room_summary) and
// a server's public room directory. Answers about spaces are cached
// briefly, as the spec suggests, so a client paging through a space does
// not ask again for every page.
type DiscoveryFetcher struct {
	ServerName string
	Client     MembershipRequester
	Now        func() time.Time

	once  sync.Once
	cache *boundedCache[spaces.Hierarchy]
}

const (
	// hierarchyCacheTTL is how long another server's hierarchy answer is
	// reused; hierarchyCacheSize bounds how many are kept.
	hierarchyCacheTTL  = time.Minute
	hierarchyCacheSize = 2000
	// maxDiscoveryServers bounds the servers asked about one room, and
	// discoveryTimeout how long each may take.
	maxDiscoveryServers = 3
	discoveryTimeout    = 10 * time.Second
	// maxAnswerChildren bounds the children, inaccessible rooms and child
	// events kept from one answer.
	maxAnswerChildren = 2 * spaces.MaxChildren
	maxAnswerEvents   = 1000
)

func (f *DiscoveryFetcher) now() time.Time {
	if f.Now == nil {
		return time.Now()
	}
	return f.Now()
}

// ErrNoServerAnswered: none of the servers asked could describe the room.
var ErrNoServerAnswered = errors.New("federation: no server could describe the room")

// Hierarchy asks up to three of servers, in order, for roomID's hierarchy
// (GET /_matrix/federation/v1/hierarchy/{roomId}) and returns the first
// well-formed answer about that room.
func (f *DiscoveryFetcher) Hierarchy(ctx context.Context, roomID string, servers []string, suggestedOnly bool) (spaces.Hierarchy, error) {
	key := fmt.Sprintf("%t|%s", suggestedOnly, roomID)
	f.once.Do(func() { f.cache = newBoundedCache[spaces.Hierarchy](hierarchyCacheSize) })
	if e, ok := f.cache.get(key); ok && e.expires.After(f.now()) {
		return e.value, nil
	}
	path := "/_matrix/federation/v1/hierarchy/" + url.PathEscape(roomID) + "?" + url.Values{"suggested_only": {fmt.Sprint(suggestedOnly)}}.Encode()
	errs := []error{ErrNoServerAnswered}
	asked := 0
	for _, server := range servers {
		if server == f.ServerName || asked == maxDiscoveryServers {
			continue
		}
		asked++
		h, err := f.askHierarchy(ctx, server, path, roomID)
		if err == nil {
			f.cache.put(key, h, f.now().Add(hierarchyCacheTTL), f.now())
			return h, nil
		}
		errs = append(errs, err)
	}
	return spaces.Hierarchy{}, errors.Join(errs...)
}

// askHierarchy makes one request and checks the answer.
func (f *DiscoveryFetcher) askHierarchy(ctx context.Context, server, path, roomID string) (spaces.Hierarchy, error) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	resp, err := f.Client.Do(ctx, server, http.MethodGet, path, nil)
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		return spaces.Hierarchy{}, err
	}
	var h spaces.Hierarchy
	if err := json.Unmarshal(resp.Body, &h); err != nil {
		return spaces.Hierarchy{}, fmt.Errorf("%s: hierarchy answer: %w", server, err)
	}
	if h.Room.RoomID != roomID {
		return spaces.Hierarchy{}, fmt.Errorf("%s answered about %q, not the room asked about", server, h.Room.RoomID)
	}
	return boundHierarchy(h), nil
}

// boundHierarchy cuts an answer's lists to what this server uses and
// drops children without a room ID.
func boundHierarchy(h spaces.Hierarchy) spaces.Hierarchy {
	h.Room.ChildrenState = h.Room.ChildrenState[:min(len(h.Room.ChildrenState), maxAnswerEvents)]
	if h.Room.ChildrenState == nil {
		h.Room.ChildrenState = []spaces.StrippedChild{}
	}
	children := make([]spaces.Summary, 0, min(len(h.Children), maxAnswerChildren))
	for _, c := range h.Children {
		if c.RoomID != "" && len(children) < maxAnswerChildren {
			children = append(children, c)
		}
	}
	h.Children = children
	h.Inaccessible = h.Inaccessible[:min(len(h.Inaccessible), maxAnswerChildren)]
	return h
}

// PublicRooms asks server for a page of its public room directory
// (POST /_matrix/federation/v1/publicRooms with the client's query).
func (f *DiscoveryFetcher) PublicRooms(ctx context.Context, server string, body json.RawMessage) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	resp, err := f.Client.Do(ctx, server, http.MethodPost, "/_matrix/federation/v1/publicRooms", body)
	if err == nil {
		err = resp.Err()
	}
	var remote *RemoteError
	if errors.As(err, &remote) && remote.Status >= 400 && remote.Status < 500 && remote.ErrCode != "" {
		return nil, mxcore.NewError(remote.Status, remote.ErrCode, "%s: %s", server, remote.Message)
	}
	if err != nil {
		return nil, mxcore.NewError(http.StatusBadGateway, mxcore.ErrUnknown, "Could not get the room directory of %s: %v", server, err)
	}
	return resp.Body, nil
}
