// Package federation is Warbler's server-server API.
//
// What it holds so far:
//
//   - Request authentication (xmatrix*.go): signing outgoing requests with
//     the X-Matrix Authorization header and the Authenticator middleware
//     that verifies every incoming request under /_matrix/federation/ and
//     puts the verified origin in the request context (Origin).
//   - Server keys (keys.go, keyring*.go, notary.go): publishing our own at
//     /_matrix/key/v2/server; the Keyring, which fetches other servers'
//     keys directly or through notaries, caches them in memory and storage
//     and applies their validity rules (VerifyKeyAt, VerifyJSONFrom,
//     VerifyEventFrom); and the notary endpoints /_matrix/key/v2/query.
//   - Discovery and transport (discovery*.go, client*.go): resolving a
//     server name as the spec prescribes (IP literal, explicit port,
//     .well-known, SRV, port 8448) and the Client, which connects only to
//     permitted addresses (internal/netguard) over verified TLS.
//
// Inbound transactions, joins, backfill and the outbound queues come next.
// They must not write room events themselves (everything goes through the
// roomserver's persist pipeline) and must not serve room data, media,
// profiles or device keys to another server without asking the residency
// policy. Server signing keys are public and need no such decision.
package federation
