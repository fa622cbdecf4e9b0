package signingkey

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "signing.key")
	k, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", info.Mode(), err)
	}
	again, created, err := LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("reload: %v %v", created, err)
	}
	if again.ID != k.ID || !again.Private.Equal(k.Private) {
		t.Fatal("reloaded key differs")
	}
	if err := Write(path, k, false); err == nil {
		t.Fatal("Write replaced an existing key without replace")
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	for _, content := range []string{
		"", "ed25519 a_1", "rsa a_1 AAAA", "ed25519 bad-version YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1",
		"ed25519 a_1 c2hvcnQ",
	} {
		if _, err := Parse(content); err == nil {
			t.Errorf("Parse(%q) accepted", content)
		}
	}
	// The spec's test seed parses, padded or not.
	for _, content := range []string{
		"ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1",
		"ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1=\n",
	} {
		k, err := Parse(content)
		if err != nil || k.ID != "ed25519:1" {
			t.Errorf("Parse(%q) = %v, %v", content, k.ID, err)
		}
	}
}
