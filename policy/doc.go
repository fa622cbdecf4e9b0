// Package policy is the one decision seam for data leaving this server
// (DESIGN.md principle 4, "Policy at the boundary"). Every federation route
// that serves room data, media, profiles or keys, and every outbound path
// (the per-destination sender, invites, joins, appservice pushes, assistant
// model calls) asks a Decider before it moves data.
//
// This package decides; it must not move data, open connections or know
// about HTTP. For now the only Decider is AllowAll; the data-residency work
// fills the seam with Open Policy Agent.
package policy
