// Package roomserver is the room DAG: event authorization rules, state
// resolution, and the single persist pipeline through which every event,
// local or remote, enters a room.
//
// The algorithms (auth rules, state resolution) are pure functions over
// Event values with no I/O. The pipeline is the only writer of events: no
// other package may insert events into storage directly. It must not speak
// HTTP or know about clients and federation transports.
package roomserver
