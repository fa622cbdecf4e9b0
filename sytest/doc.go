// Package sytest is Warbler's black-box integration suite. Its tests build
// the warbler binary once, start real `warbler serve` processes (one, or
// several federating servers) on free loopback ports with their own data
// directories and databases, and talk to them only over HTTP, as a client or
// another homeserver would.
//
// Tests here must not import Warbler's internal packages to reach into a
// running server: only the harness, mxcore's pure functions (to check
// signatures) and real client libraries.
//
// The spec's client-server endpoints, with the 4xx responses each operation
// declares, are a table generated from the Matrix specification's OpenAPI
// files by ./specgen (go generate); TestEverySpecEndpointIsServed and
// TestSpecErrorResponses walk it.
package sytest
