// Package federation is Warbler's server-server API.
//
// What it holds so far:
//
//   - Request authentication (xmatrix*.go): signing outgoing requests with
//     the X-Matrix Authorization header and the Authenticator middleware
//     that verifies every incoming request under /_matrix/federation/ and
//     puts the verified origin in the request context (Origin).
//
//   - Server keys (keys.go, keyring*.go, notary.go): publishing our own at
//     /_matrix/key/v2/server; the Keyring, which fetches other servers'
//     keys directly or through notaries, caches them in memory and storage
//     and applies their validity rules (VerifyKeyAt, VerifyJSONFrom,
//     VerifyEventFrom); and the notary endpoints /_matrix/key/v2/query.
//
//   - Discovery and transport (discovery*.go, client*.go): resolving a
//     server name as the spec prescribes (IP literal, explicit port,
//     .well-known, SRV, port 8448) and the Client, which connects only to
//     permitted addresses (internal/netguard) over verified TLS.
//
//   - The policy seam for data leaving (egress.go): every route that
//     serves room data, media, profiles or keys is registered through
//     Routes.egress, which asks the policy Decider before anything is
//     written; egress_test.go enumerates the routes so none can bypass it.
//
//   - Reading endpoints (read*.go): /event, /state, /state_ids,
//     /event_auth, /backfill, /get_missing_events, /query/profile and
//     the media download and thumbnail, each checking the room's server
//     ACL, the requesting server's membership and history visibility.
//
//   - Room discovery (hierarchy*.go, public_rooms.go): /hierarchy and
//     /publicRooms for other servers, through the egress wrapper and with
//     a policy decision for each further room they describe; and the
//     DiscoveryFetcher, which asks other servers for spaces and
//     directories on behalf of the client API, caching space answers
//     briefly.
//
//   - Fetching from other servers: remote media (media_fetch.go) and
//     history for /messages (backfill_fetch.go), verified and persisted
//     through the roomserver pipeline.
//
//   - Transactions (send_*.go, sender*.go, setup_send.go): inbound /send,
//     idempotent per origin and transaction ID, checking each PDU
//     (format, signatures, server ACL) and filling gaps before the
//     roomserver pipeline persists it, with EDUs routed to registered
//     handlers; and the outbound Sender, one persistent queue per
//     destination with backoff, which asks the policy before each PDU or
//     EDU leaves. At its start the sender sends every server it shares a
//     room with a transaction (empty when nothing is queued for it), so
//     that servers backing off from this one retry at once
//     (sender_announce.go).
//
//   - Joins, leaves, invites and knocks (membership*.go), both as the
//     resident or invited server and as the joining or inviting one;
//     send_join, send_leave and invite fall back to their v1 endpoints
//     when the other server does not know v2, and are served in v1 too
//     (membership_v1.go).
//
//   - End-to-end encryption (e2ee*.go): /user/devices, /user/keys/query
//     and /user/keys/claim for local users behind the policy seam; the
//     E2EE component, which answers local clients' key queries and
//     claims about remote users (from a cache of the device lists of
//     users sharing a room, kept current by m.device_list_update and
//     m.signing_key_update with gap detection and resync, else by asking
//     their server; the cache still answers when the server cannot),
//     announces local key changes (devices added and removed, keys or
//     not), and sends and delivers m.direct_to_device messages. A local
//     user's signatures of other users' master keys never leave this
//     server: only the signer sees them (clientapi).
//
// The package must not write room events itself (everything goes through
// the roomserver's persist pipeline) and must not serve room data, media,
// profiles or device keys to another server, nor send them, without
// asking the residency policy. Server signing keys are public and need no
// such decision.
package federation
