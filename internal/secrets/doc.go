// Package secrets makes and checks the server's credentials: password
// hashes (argon2id, with bcrypt accepted for imported accounts) and random
// access tokens, which are stored only as their SHA-256.
//
// It must not store or log anything: callers decide where hashes go, and no
// plaintext password or token leaves the function that received it.
package secrets
