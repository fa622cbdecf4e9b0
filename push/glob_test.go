package push

import "testing"

// TestLiteralMatchAgreesWithGlob: the fast path for patterns without
// wildcards must answer as the regexp would.
func TestLiteralMatchAgreesWithGlob(t *testing.T) {
	patterns := []string{"cake", "CAKE", "m.room.message", "a b", "", "é", "x_y"}
	values := []string{"cake", "I like cake!", "cakes", "cupcake", "m.room.message", "M.ROOM.MESSAGE", "a b c", "", "É", "x_y z", "x_yz", "cake cake", "cakecake cake"}
	for _, p := range patterns {
		for _, v := range values {
			for _, words := range []bool{false, true} {
				if got, want := literalMatch(p, v, words), compileGlob(p, words).MatchString(v); got != want {
					t.Errorf("%q ~ %q words=%v: literal %v, regexp %v", p, v, words, got, want)
				}
			}
		}
	}
}
