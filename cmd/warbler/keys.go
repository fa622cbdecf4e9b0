package main

import (
	"fmt"
	"io"

	"github.com/warbler-im/warbler/internal/signingkey"
)

// generateKeys writes a new signing key. Without --rotate it refuses to
// replace an existing key: losing a key makes other servers distrust us
// until they refetch, so replacing one must be deliberate.
func generateKeys(args []string, stdout io.Writer) error {
	fs, configPath := newFlags("generate-keys", stdout)
	out := fs.String("out", "", "where to write the key (default: signing_key.file from the config)")
	rotate := fs.Bool("rotate", false, "replace an existing key; the old public key stays published as an old key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := *out
	if path == "" {
		cfg, err := loadConfig(*configPath)
		if err != nil {
			return err
		}
		path = cfg.SigningKey.File
	}
	key, err := signingkey.Generate()
	if err != nil {
		return err
	}
	if err := signingkey.Write(path, key, *rotate); err != nil {
		return fmt.Errorf("%w (use --rotate to replace it)", err)
	}
	fmt.Fprintf(stdout, "wrote signing key %s to %s\n", key.ID, path)
	return nil
}
