// Package clientapi is the client-server API that Matrix clients (Element,
// mautrix, matrix-js-sdk) speak: accounts and sessions, rooms, messages,
// /sync and the per-user data around them.
//
// It must not write room events except through the roomserver, and every
// handler checks the caller's access token (where the spec requires one)
// and room membership or visibility before returning data. It never logs
// access tokens, passwords or message bodies.
package clientapi
