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
//   - Transactions: the outbound Sender (sender*.go), one persistent queue
//     per destination, drained into PUT /send/{txnId} transactions of at
//     most 50 PDUs and 100 EDUs with exponential backoff, asking the policy
//     before anything leaves; and inbound /send (send_*.go), which checks
//     each PDU, fills gaps from the origin (/get_missing_events,
//     /state_ids, /event), hands the PDUs to the persist pipeline and the
//     EDUs to the handlers features register (Inbound.HandleEDU).
//
// Joins and backfill come next. Nothing here may write room events itself
// (everything goes through the roomserver's persist pipeline) or serve
// room data, media, profiles or device keys to another server, or send it
// any, without asking the residency policy. Server signing keys are public and need no such decision.
package federation
