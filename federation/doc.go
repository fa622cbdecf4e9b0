// Package federation is Warbler's server-server API: publishing and (later)
// fetching server keys, request signing and verification, discovery,
// inbound transactions, joins, backfill and the outbound per-destination
// queues.
//
// It must not write room events itself (everything goes through the
// roomserver's persist pipeline) and must not serve room data, media,
// profiles or keys to another server without asking the residency policy.
// For now it holds the key server and the version endpoint.
package federation
