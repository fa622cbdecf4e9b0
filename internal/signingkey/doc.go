// Package signingkey reads, writes and generates the server's ed25519
// signing key file. The file holds one line, "ed25519 <version> <seed>",
// with the seed in unpadded standard base64: the layout other homeservers
// use, so keys can move between implementations.
//
// It must not publish or sign anything itself; federation does that with
// the key this package loads.
package signingkey
