package clientapi

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/spaces"
)

// The pure half of /publicRooms: matching a room against the request's
// filter, ordering, and cutting one page with its tokens.

const (
	// defaultPublicRoomsLimit applies when a client gives no limit;
	// maxPublicRoomsLimit caps the one it gives.
	defaultPublicRoomsLimit = 100
	maxPublicRoomsLimit     = 500
	// maxDirectoryRooms bounds how many published rooms one request
	// looks at (and so the memory and time it takes).
	maxDirectoryRooms = 5000
	// maxSearchTermLength bounds generic_search_term.
	maxSearchTermLength = 256
)

// publicRoom is one chunk entry of /publicRooms.
type publicRoom = spaces.PublicRoom

// publicRoomsFilter is the POST body's filter.
type publicRoomsFilter struct {
	GenericSearchTerm string `json:"generic_search_term"`
	// RoomTypes lists wanted room types; a nil entry (JSON null) stands
	// for rooms without a type. A nil list wants every room.
	RoomTypes []*string `json:"room_types"`
}

// matches reports whether the room passes the filter: its name, topic or
// canonical alias contains the search term, ignoring case, and its type
// is one of those asked for.
func (f publicRoomsFilter) matches(room publicRoom) bool {
	return f.typeMatches(room.RoomType) && searchMatches(f.GenericSearchTerm, room.Name, room.Topic, room.CanonicalAlias)
}

func (f publicRoomsFilter) typeMatches(roomType string) bool {
	if f.RoomTypes == nil {
		return true
	}
	for _, t := range f.RoomTypes {
		if t == nil && roomType == "" || t != nil && *t == roomType {
			return true
		}
	}
	return false
}

// searchMatches reports whether any field contains term, ignoring case
// and surrounding space; an empty term matches everything.
func searchMatches(term string, fields ...string) bool {
	term = strings.ToLower(strings.TrimSpace(term))
	if term == "" {
		return true
	}
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), term) {
			return true
		}
	}
	return false
}

// sortPublicRooms orders the directory as the spec recommends: the
// largest rooms first, then by room ID so the order is stable across
// pages.
func sortPublicRooms(rooms []publicRoom) {
	slices.SortFunc(rooms, func(a, b publicRoom) int {
		if c := cmp.Compare(b.NumJoinedMembers, a.NumJoinedMembers); c != 0 {
			return c
		}
		return strings.Compare(a.RoomID, b.RoomID)
	})
}

// directoryTokenPrefix starts every /publicRooms pagination token. A
// token is the offset of the page's first room in the ordered directory;
// next_batch and prev_batch are both such offsets, so the direction is in
// the token, as the spec asks.
const directoryTokenPrefix = "d"

func directoryToken(offset int) string {
	return directoryTokenPrefix + strconv.Itoa(offset)
}

// parseDirectoryToken reads a since token; "" is the first page.
func parseDirectoryToken(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(s, directoryTokenPrefix))
	if !strings.HasPrefix(s, directoryTokenPrefix) || err != nil || n < 0 || n > maxDirectoryRooms {
		return 0, mxcore.InvalidParam("Invalid since token")
	}
	return n, nil
}

// publicRoomsLimit bounds the client's limit; 0 (absent) or less picks
// the default.
func publicRoomsLimit(limit int) int {
	if limit <= 0 {
		return defaultPublicRoomsLimit
	}
	return min(limit, maxPublicRoomsLimit)
}

// publicRoomsPage is the /publicRooms response body.
type publicRoomsPage struct {
	Chunk     []publicRoom `json:"chunk"`
	NextBatch string       `json:"next_batch,omitempty"`
	PrevBatch string       `json:"prev_batch,omitempty"`
	Total     int          `json:"total_room_count_estimate"`
}

// pagePublicRooms cuts the page of limit rooms starting at offset out of
// the ordered, filtered rooms.
func pagePublicRooms(rooms []publicRoom, offset, limit int) publicRoomsPage {
	p := publicRoomsPage{Chunk: []publicRoom{}, Total: len(rooms)}
	start := min(offset, len(rooms))
	end := min(start+limit, len(rooms))
	p.Chunk = append(p.Chunk, rooms[start:end]...)
	if end < len(rooms) {
		p.NextBatch = directoryToken(end)
	}
	if start > 0 {
		p.PrevBatch = directoryToken(max(start-limit, 0))
	}
	return p
}
