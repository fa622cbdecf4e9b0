package main

import (
	"bytes"
	"os"
	"testing"
)

// The committed table is what the generator makes of the spec, when the
// spec is where go generate looks for it (the steering repo's shared/,
// beside the repository): a hand edit, or a generator change without a
// regeneration, fails here. WARBLER_SPEC_DIR names another checkout (a
// worktree elsewhere has no shared/ beside it).
func TestTableIsGenerated(t *testing.T) {
	specDir := "../../../shared/matrix-spec-v1.19/data/api/client-server"
	if dir := os.Getenv("WARBLER_SPEC_DIR"); dir != "" {
		specDir = dir
	}
	if _, err := os.Stat(specDir); err != nil {
		t.Skipf("no spec checkout at %s: %v", specDir, err)
	}
	want, err := generate(specDir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../spec_endpoints_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("sytest/spec_endpoints_test.go differs from what specgen makes of the spec: run go generate ./sytest/")
	}
}
