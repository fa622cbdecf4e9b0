package clientapi

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// TestTopoTokenRoundTrip: tokens of any position, negative (backfilled)
// and extreme ones included, parse back; malformed ones do not.
func TestTopoTokenRoundTrip(t *testing.T) {
	for _, p := range []storage.TopoPos{{Depth: 3, Stream: 7}, {Depth: -2, Stream: -9}, {Depth: 5, Stream: -1}, storage.TopoMin, storage.TopoMax} {
		tok := topoToken(p)
		got, ok := parseTopoToken(tok[1:])
		if !ok || got != p {
			t.Errorf("%q parses to %v %v, want %v", tok, got, ok, p)
		}
	}
	for _, bad := range []string{"", "-", "5", "5-", "-5", "x-1", "1-x", "1--"} {
		if p, ok := parseTopoToken(bad); ok {
			t.Errorf("%q parses to %v", bad, p)
		}
	}
}
