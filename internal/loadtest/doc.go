// Package loadtest drives any Matrix homeserver through the client-server
// API only (register, login, createRoom, join, send, /sync, /messages) and
// measures how it copes, so that Warbler and other servers can be compared
// with the same tool. The `warbler bench` subcommand is a thin front end.
//
// Every phase is bounded twice: by the sizes in Config and by the context's
// deadline, so a run always ends by itself.
package loadtest
