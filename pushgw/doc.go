// Package pushgw delivers notifications to push gateways (Push Gateway
// API, POST /_matrix/push/v1/notify) for users' http pushers.
//
// Delivery runs off the event write path: Enqueue only appends to a
// bounded in-memory queue per pusher, and one goroutine per busy pusher
// sends its queue in order, retrying failures with exponential backoff.
// A full queue drops its oldest notification. A pushkey the gateway
// rejects is reported to the caller, which deletes the pusher. Every
// connection goes through internal/netguard, so a pusher URL cannot
// reach loopback or private addresses unless the operator allowed them,
// and every delivery asks the policy Decider first (data leaves the
// server).
//
// Queued notifications live in memory only: a restart loses those not
// yet delivered, never an event.
//
// It knows the wire format and the queues, not rooms or push rules: the
// client API builds each Notification.
package pushgw
