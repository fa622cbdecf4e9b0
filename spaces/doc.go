// Package spaces describes rooms to those who are not (yet) in them: the
// summary of a room (the public room directory's entry, /room_summary,
// each room of a space hierarchy), the m.space.child tree of a space
// with its ordering rules, who may see a room's summary, and the
// depth-first walk behind /hierarchy.
//
// It reads rooms only through the roomserver's current state (Reader) and
// never writes. The walk itself is pure over a Source, so the client API
// can feed it local rooms and answers of other servers alike; it does not
// reach other servers itself.
package spaces
