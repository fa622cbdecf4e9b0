package roomserver

import (
	"context"
	"errors"
	"net/netip"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// Server ACLs (m.room.server_acl) say which servers may take part in a
// room. They act on requests, not on the DAG: every federation endpoint
// that serves or accepts data of a room asks before it does.

// MRoomServerACL is the state event type holding a room's server ACL.
const MRoomServerACL = "m.room.server_acl"

// maxACLGlobs bounds how many entries of each list are considered, so a
// huge ACL event cannot make every request slow. Events are at most 64
// KiB, which already keeps lists short; this is a second fence.
const maxACLGlobs = 4096

// ServerACLAllows applies the content of an m.room.server_acl event to a
// server name, in the order the event's schema gives: an IP literal is
// denied when allow_ip_literals is false; a deny match denies; an allow
// match allows; anything else (including a missing allow list) is denied.
// Ports are ignored and globs (* and ?) match case-insensitively. A room
// without the event allows every server: callers check that themselves.
func ServerACLAllows(content []byte, serverName string) bool {
	host, _, err := mxcore.ParseServerName(serverName)
	if err != nil {
		return false // no valid server is denied by this
	}
	host = strings.ToLower(host)
	acl := gjson.ParseBytes(content)
	if ip := acl.Get("allow_ip_literals"); ip.Type == gjson.False && isIPLiteral(host) {
		return false
	}
	if matchesAnyGlob(acl.Get("deny"), host) {
		return false
	}
	return matchesAnyGlob(acl.Get("allow"), host)
}

// isIPLiteral reports whether a server name's host is an IPv4 address or
// a bracketed IPv6 address.
func isIPLiteral(host string) bool {
	if strings.HasPrefix(host, "[") {
		return true // ParseServerName accepts brackets only around IPv6
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}

// matchesAnyGlob reports whether host matches a string entry of list;
// entries of other types are ignored.
func matchesAnyGlob(list gjson.Result, host string) bool {
	if !list.IsArray() {
		return false
	}
	found, n := false, 0
	list.ForEach(func(_, v gjson.Result) bool {
		n++
		if v.Type == gjson.String && GlobMatch(strings.ToLower(v.Str), host) {
			found = true
		}
		return !found && n < maxACLGlobs
	})
	return found
}

// GlobMatch reports whether s matches pattern, where * matches any run of
// characters (including none) and ? exactly one; everything else matches
// itself. It runs in O(len(pattern)·len(s)) at worst, backtracking only to
// the last star.
func GlobMatch(pattern, s string) bool {
	p, i := []rune(pattern), []rune(s)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(i) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == i[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// ServerAllowedInRoom applies the room's current server ACL to a server.
// A room without one allows every server.
func (rs *RoomServer) ServerAllowedInRoom(ctx context.Context, roomID, serverName string) (bool, error) {
	ev, err := rs.CurrentStateEvent(ctx, roomID, MRoomServerACL, "")
	if errors.Is(err, ErrNoStateEvent) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return ServerACLAllows(ev.Content(), serverName), nil
}
