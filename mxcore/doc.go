// Package mxcore holds the pure Matrix primitives every other package builds
// on: identifiers, canonical JSON, unpadded base64, ed25519 signing of JSON,
// the event format per room version (event IDs, content and reference
// hashes, redaction) and the Matrix error type.
//
// It must not do I/O of any kind (no database, network, clock or files) and
// must not import any other Warbler package: everything here is a function of
// its arguments, so it can be tested from the spec's examples and fuzzed.
package mxcore
