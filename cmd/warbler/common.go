package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/internal/version"
	"github.com/warbler-im/warbler/storage"
	storageopen "github.com/warbler-im/warbler/storage/open"
	"github.com/warbler-im/warbler/storage/postgres"
)

func versionString() string { return version.String() }

// newFlags makes a subcommand flag set with the shared --config flag.
func newFlags(name string, out io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	configPath := fs.String("config", "", "YAML config file (default: built-in defaults, see config.sample.yaml)")
	return fs, configPath
}

// loadConfig reads the config file (if any) and the WARBLER_* environment.
func loadConfig(path string) (config.Config, error) {
	cfg, err := config.Load(path, os.Environ())
	if err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// openDatabase creates the data directory and opens storage, running
// migrations.
func openDatabase(ctx context.Context, cfg config.Config) (storage.Database, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data_dir: %w", err)
	}
	db, err := storageopen.Open(ctx, cfg.Database.URL, postgres.Options{
		MaxOpenConns: cfg.Database.Postgres.MaxOpenConns,
		MaxIdleConns: cfg.Database.Postgres.MaxIdleConns,
	})
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	return db, nil
}
