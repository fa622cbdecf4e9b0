// Package mxcore holds the pure Matrix primitives every other package builds
// on: identifiers, canonical JSON, unpadded base64, ed25519 signing of JSON,
// the event format per room version (event IDs, content and reference
// hashes, redaction) and the Matrix error type.
//
// It must not do I/O of any kind (no database, network, clock or files) and
// must not import any other Warbler package: everything here is a function of
// its arguments, so it can be tested from the spec's examples and fuzzed.
//
// Where to find what:
//
//   - canonicaljson.go, canonicalnumbers.go: CanonicalJSON and
//     CanonicalJSONLax, a single-pass encoder that can also leave out
//     top-level keys and redact on the fly, so hashing and signing an event
//     is one pass over its bytes.
//   - base64.go: unpadded standard and URL-safe base64.
//   - ids.go: server names, user IDs, room IDs, event IDs, room aliases.
//   - signing.go: SignJSON, VerifyJSON, KeyID.
//   - event.go: PDU, an event validated for its room version (NewPDU).
//   - hashes.go: content and reference hashes, event IDs, v12 room IDs,
//     SignEvent and VerifyEventSignature.
//   - redaction.go: the redaction algorithm of every room version.
//   - roomversion.go: the behaviour switches of room versions 1–12.
//   - errors.go: the Matrix error type and errcodes.
package mxcore
