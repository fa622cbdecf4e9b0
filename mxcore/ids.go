package mxcore

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Identifier grammar, from the spec appendix "Identifier Grammar".

// MaxIDLength is the byte limit of user IDs, room IDs, event IDs and room
// aliases, sigil and server name included.
const MaxIDLength = 255

// maxDNSNameLength is the grammar's limit on a server name's DNS name.
const maxDNSNameLength = 255

// ParseServerName splits a server name into its host and port. host is a
// DNS name, a dotted-quad IPv4 literal or a bracketed IPv6 literal (the
// brackets are kept, so host is ready for a Host header); port is 0 when
// none is given. Server names are case-sensitive and returned as written.
func ParseServerName(s string) (host string, port int, err error) {
	host, portText, hasPort, err := splitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	if hasPort {
		if port, err = parsePort(portText); err != nil {
			return "", 0, err
		}
	}
	if err := validateHost(host); err != nil {
		return "", 0, err
	}
	return host, port, nil
}

func splitHostPort(s string) (host, port string, hasPort bool, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false, errors.New("server name: unterminated IPv6 literal")
		}
		host, rest := s[:end+1], s[end+1:]
		if rest == "" {
			return host, "", false, nil
		}
		if rest[0] != ':' {
			return "", "", false, errors.New("server name: unexpected text after IPv6 literal")
		}
		return host, rest[1:], true, nil
	}
	host, port, hasPort = strings.Cut(s, ":")
	return host, port, hasPort, nil
}

func parsePort(s string) (int, error) {
	if len(s) == 0 || len(s) > 5 {
		return 0, fmt.Errorf("server name: invalid port %q", s)
	}
	port := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, fmt.Errorf("server name: invalid port %q", s)
		}
		port = port*10 + int(s[i]-'0')
	}
	if port < 1 || port > 65535 {
		return 0, fmt.Errorf("server name: port %d out of range", port)
	}
	return port, nil
}

func validateHost(host string) error {
	switch {
	case host == "":
		return errors.New("server name: empty host")
	case host[0] == '[':
		return validateIPv6Literal(host[1 : len(host)-1])
	case looksLikeIPv4(host):
		return validateIPv4(host)
	}
	return validateDNSName(host)
}

// validateIPv6Literal checks the text between the brackets: the grammar's
// characters (which excludes zone suffixes like %eth0), then RFC 3513 form.
func validateIPv6Literal(s string) error {
	if len(s) < 2 || len(s) > 45 {
		return errors.New("server name: invalid IPv6 literal length")
	}
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) && s[i] != ':' && s[i] != '.' {
			return errors.New("server name: invalid character in IPv6 literal")
		}
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is6() {
		return errors.New("server name: invalid IPv6 literal")
	}
	return nil
}

func isHexDigit(b byte) bool {
	return isDigit(b) || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// looksLikeIPv4 matches the grammar's IPv4address: four dot-separated
// groups of one to three digits. Such a host is taken as an IPv4 literal
// (and must then be a real address) rather than as a DNS name.
func looksLikeIPv4(s string) bool {
	groups, digits := 1, 0
	for i := 0; i < len(s); i++ {
		switch {
		case isDigit(s[i]) && digits < 3:
			digits++
		case s[i] == '.' && digits > 0:
			groups, digits = groups+1, 0
		default:
			return false
		}
	}
	return groups == 4 && digits > 0
}

// validateIPv4 checks that each group of a looksLikeIPv4 host is at most 255.
func validateIPv4(s string) error {
	value := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if value > 255 {
				return fmt.Errorf("server name: invalid IPv4 literal %q", s)
			}
			value = 0
			continue
		}
		value = value*10 + int(s[i]-'0')
	}
	return nil
}

// validateDNSName applies the grammar (1–255 of A-Z a-z 0-9 - .). Label
// structure is only a recommendation in the spec, and rejecting a remote
// server's name that the grammar allows would split us from the room.
func validateDNSName(s string) error {
	if len(s) > maxDNSNameLength {
		return errors.New("server name: DNS name too long")
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !isDigit(b) && !(b >= 'a' && b <= 'z') && !(b >= 'A' && b <= 'Z') && b != '-' && b != '.' {
			return fmt.Errorf("server name: invalid character %q", b)
		}
	}
	return nil
}

// ValidServerName reports whether s is a valid server name.
func ValidServerName(s string) bool {
	_, _, err := ParseServerName(s)
	return err == nil
}

// UserID is a parsed "@localpart:server" user ID.
type UserID struct {
	Localpart string
	Server    string
}

// ParseUserID parses a user ID. It accepts the historical grammar (any
// code points but ':' and NUL in the localpart, even an empty one), which
// the spec requires servers to accept in events; use ValidLocalpart with
// strict=true to vet new registrations.
func ParseUserID(s string) (UserID, error) {
	localpart, server, err := splitID(s, '@', "user ID")
	if err != nil {
		return UserID{}, err
	}
	if !ValidLocalpart(localpart, false) {
		return UserID{}, errors.New("user ID: invalid localpart")
	}
	return UserID{Localpart: localpart, Server: server}, nil
}

func (u UserID) String() string { return "@" + u.Localpart + ":" + u.Server }

// Compliant reports whether the user ID meets the current grammar's
// character range (U+0021–U+007E, non-empty). The spec asks servers not to
// pass other user IDs to clients outside the context of an event.
func (u UserID) Compliant() bool {
	if u.Localpart == "" {
		return false
	}
	for i := 0; i < len(u.Localpart); i++ {
		if u.Localpart[i] < 0x21 || u.Localpart[i] > 0x7E {
			return false
		}
	}
	return true
}

// ValidLocalpart checks a user ID localpart. strict is the current grammar
// (1+ of a-z 0-9 . _ = - / +), which new accounts must follow; otherwise
// the historical one: valid UTF-8 without ':' or NUL, possibly empty.
func ValidLocalpart(s string, strict bool) bool {
	if !strict {
		return validOpaque(s)
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isStrictLocalpartByte(s[i]) {
			return false
		}
	}
	return true
}

func isStrictLocalpartByte(b byte) bool {
	return b >= 'a' && b <= 'z' || isDigit(b) || strings.IndexByte("._=-/+", b) >= 0
}

// validOpaque is the shared localpart rule of IDs: valid UTF-8 (so no
// surrogates), no ':' and no NUL.
func validOpaque(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, ':') < 0 && strings.IndexByte(s, 0) < 0
}

// splitID checks the sigil and length of "&localpart:server" and splits it
// at the first ':' (localparts have none; server names may, for ports).
func splitID(s string, sigil byte, what string) (localpart, server string, err error) {
	if len(s) > MaxIDLength {
		return "", "", fmt.Errorf("%s: longer than %d bytes", what, MaxIDLength)
	}
	if len(s) == 0 || s[0] != sigil {
		return "", "", fmt.Errorf("%s: must start with %q", what, sigil)
	}
	localpart, server, ok := strings.Cut(s[1:], ":")
	if !ok {
		return "", "", fmt.Errorf("%s: missing server name", what)
	}
	if _, _, err := ParseServerName(server); err != nil {
		return "", "", fmt.Errorf("%s: %w", what, err)
	}
	return localpart, server, nil
}

// RoomID is a parsed room ID: "!opaque:server" up to room version 11, or
// "!opaque" (the create event's reference hash) from version 12, where
// Server is empty.
type RoomID struct {
	Opaque string
	Server string
}

// ParseRoomID parses a room ID of either form. Which form a room must use
// depends on its version; NewPDU and the auth rules check that.
func ParseRoomID(s string) (RoomID, error) {
	opaque, server, err := parseOpaqueID(s, '!', "room ID")
	return RoomID{Opaque: opaque, Server: server}, err
}

func (r RoomID) String() string { return joinOpaqueID('!', r.Opaque, r.Server) }

// EventID is a parsed event ID: "$opaque:server" in room versions 1–2, or
// "$hash" from version 3 on, where Server is empty.
type EventID struct {
	Opaque string
	Server string
}

// ParseEventID parses an event ID of either form.
func ParseEventID(s string) (EventID, error) {
	opaque, server, err := parseOpaqueID(s, '$', "event ID")
	return EventID{Opaque: opaque, Server: server}, err
}

func (e EventID) String() string { return joinOpaqueID('$', e.Opaque, e.Server) }

// parseOpaqueID parses room and event IDs, whose server part is optional.
func parseOpaqueID(s string, sigil byte, what string) (opaque, server string, err error) {
	if len(s) > MaxIDLength {
		return "", "", fmt.Errorf("%s: longer than %d bytes", what, MaxIDLength)
	}
	if len(s) < 2 || s[0] != sigil {
		return "", "", fmt.Errorf("%s: must start with %q and not be empty", what, sigil)
	}
	if strings.IndexByte(s, ':') >= 0 {
		opaque, server, err = splitID(s, sigil, what)
	} else {
		opaque = s[1:]
	}
	if err == nil && (opaque == "" || !validOpaque(opaque)) {
		err = fmt.Errorf("%s: invalid opaque part", what)
	}
	if err != nil {
		return "", "", err
	}
	return opaque, server, nil
}

func joinOpaqueID(sigil byte, opaque, server string) string {
	if server == "" {
		return string(sigil) + opaque
	}
	return string(sigil) + opaque + ":" + server
}

// RoomAlias is a parsed "#alias:server" room alias.
type RoomAlias struct {
	Alias  string
	Server string
}

// ParseRoomAlias parses a room alias. The spec allows any code points but
// ':' and NUL in the alias; an empty alias is refused as meaningless.
func ParseRoomAlias(s string) (RoomAlias, error) {
	alias, server, err := splitID(s, '#', "room alias")
	if err != nil {
		return RoomAlias{}, err
	}
	if alias == "" || !validOpaque(alias) {
		return RoomAlias{}, errors.New("room alias: invalid alias")
	}
	return RoomAlias{Alias: alias, Server: server}, nil
}

func (a RoomAlias) String() string { return "#" + a.Alias + ":" + a.Server }
