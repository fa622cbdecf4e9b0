package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/storage"
)

// defaultTokenLength gives generated registration tokens 16 letters and
// digits: about 95 bits, far beyond guessing through a rate-limited API.
const defaultTokenLength = 16

// registrationToken manages registration tokens straight in the database;
// it works whether or not the server is running.
func registrationToken(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("registration-token needs a subcommand: create, list or delete")
	}
	switch args[0] {
	case "create":
		return createRegistrationToken(args[1:], stdout)
	case "list":
		return listRegistrationTokens(args[1:], stdout)
	case "delete":
		return deleteRegistrationToken(args[1:], stdout)
	default:
		return fmt.Errorf("registration-token: unknown subcommand %q (want create, list or delete)", args[0])
	}
}

// withDatabase parses the flags, opens the configured database and runs fn.
func withDatabase(fs *flag.FlagSet, configPath *string, args []string, fn func(ctx context.Context, db storage.Database) error) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(ctx, db)
}

func createRegistrationToken(args []string, stdout io.Writer) error {
	fs, configPath := newFlags("registration-token create", stdout)
	token := fs.String("token", "", "the token (1-64 of A-Z a-z 0-9 . _ ~ -); default: a random one")
	length := fs.Int("length", defaultTokenLength, "length of a random token")
	usesAllowed := fs.Int64("uses-allowed", -1, "how many registrations it allows; default: unlimited")
	expiresIn := fs.Duration("expires-in", 0, "how long it stays valid, e.g. 72h; default: forever")
	expiryTime := fs.Int64("expiry-time", 0, "when it stops being valid, in Unix milliseconds (instead of --expires-in)")
	return withDatabase(fs, configPath, args, func(ctx context.Context, db storage.Database) error {
		now := time.Now()
		t := storage.RegistrationToken{Token: *token, CreatedTS: now.UnixMilli()}
		var err error
		if t.Token == "" {
			if *length < 1 || *length > 64 {
				return errors.New("--length must be between 1 and 64")
			}
			t.Token = clientapi.NewRegistrationToken(*length)
		}
		if !clientapi.ValidRegistrationToken(t.Token) {
			return fmt.Errorf("--token %q: use 1 to 64 of A-Z a-z 0-9 . _ ~ -", t.Token)
		}
		if *usesAllowed >= 0 {
			t.UsesAllowed = usesAllowed
		}
		if t.ExpiryTS, err = expiryFlags(now, *expiresIn, *expiryTime); err != nil {
			return err
		}
		err = db.CreateRegistrationToken(ctx, t)
		if errors.Is(err, storage.ErrConflict) {
			return fmt.Errorf("registration token %s already exists", t.Token)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created registration token %s (uses allowed: %s, expires: %s)\n",
			t.Token, usesText(t.UsesAllowed), expiryText(t.ExpiryTS))
		return nil
	})
}

func listRegistrationTokens(args []string, stdout io.Writer) error {
	fs, configPath := newFlags("registration-token list", stdout)
	return withDatabase(fs, configPath, args, func(ctx context.Context, db storage.Database) error {
		tokens, err := db.ListRegistrationTokens(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "TOKEN\tUSES ALLOWED\tPENDING\tCOMPLETED\tEXPIRES\tVALID")
		nowTS := time.Now().UnixMilli()
		for _, t := range tokens {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%v\n", t.Token, usesText(t.UsesAllowed), t.Pending, t.Completed,
				expiryText(t.ExpiryTS), clientapi.RegistrationTokenUsable(t, nowTS))
		}
		return w.Flush()
	})
}

func deleteRegistrationToken(args []string, stdout io.Writer) error {
	fs, configPath := newFlags("registration-token delete", stdout)
	token := fs.String("token", "", "the token to delete")
	return withDatabase(fs, configPath, args, func(ctx context.Context, db storage.Database) error {
		if *token == "" {
			return errors.New("--token is required")
		}
		err := db.DeleteRegistrationToken(ctx, *token)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("no registration token %s", *token)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted registration token %s\n", *token)
		return nil
	})
}

// expiryFlags turns --expires-in or --expiry-time into an expiry
// timestamp; 0 means the token does not expire.
func expiryFlags(now time.Time, expiresIn time.Duration, expiryTime int64) (int64, error) {
	switch {
	case expiresIn != 0 && expiryTime != 0:
		return 0, errors.New("give --expires-in or --expiry-time, not both")
	case expiresIn < 0:
		return 0, errors.New("--expires-in must not be negative")
	case expiresIn > 0:
		return now.Add(expiresIn).UnixMilli(), nil
	case expiryTime < 0 || (expiryTime > 0 && expiryTime <= now.UnixMilli()):
		return 0, errors.New("--expiry-time must be in the future")
	default:
		return expiryTime, nil
	}
}

func usesText(uses *int64) string {
	if uses == nil {
		return "unlimited"
	}
	return strconv.FormatInt(*uses, 10)
}

func expiryText(ts int64) string {
	if ts == 0 {
		return "never"
	}
	return time.UnixMilli(ts).UTC().Format(time.RFC3339)
}
