package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// registerUser creates a local account straight in the database, for the
// first admin of a server with registration closed.
func registerUser(args []string, stdin io.Reader, stdout io.Writer) error {
	fs, configPath := newFlags("register-user", stdout)
	name := fs.String("user", "", "localpart of the new user (e.g. alice)")
	password := fs.String("password", "", "password (prefer --password-stdin: arguments are visible to other local users)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	admin := fs.Bool("admin", false, "make the user a server admin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		*password = strings.TrimRight(line, "\r\n")
	}
	if !mxcore.ValidLocalpart(*name, true) {
		return fmt.Errorf("--user %q is not a valid localpart (a-z, 0-9, . _ = - / +)", *name)
	}
	if *password == "" {
		return errors.New("a password is required (--password or --password-stdin)")
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	hash, err := secrets.HashPassword(*password)
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	userID := "@" + *name + ":" + cfg.ServerName
	err = db.CreateAccount(ctx, storage.NewAccount{
		User:    storage.User{UserID: userID, PasswordHash: hash, IsAdmin: *admin, CreatedTS: time.Now().UnixMilli()},
		Profile: storage.Profile{DisplayName: *name},
	})
	if errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("user %s already exists", userID)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (admin: %v)\n", userID, *admin)
	return nil
}
