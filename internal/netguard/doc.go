// Package netguard keeps outbound connections away from internal networks.
// A Guard decides which IP addresses may be reached: public unicast ones,
// plus whatever the operator opened with allowed networks (e.g. a test
// cluster on loopback). A Dialer resolves host names itself and checks every
// address before connecting to it, so a hostile DNS name (or a redirect to
// one) cannot reach loopback, private, link-local or other special-purpose
// addresses by pointing at them.
//
// It must not know about Matrix or HTTP; federation and remote media use it
// under their own transports.
package netguard
