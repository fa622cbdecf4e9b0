// Command warbler is the Warbler homeserver: one binary that serves the
// client-server and server-server APIs and holds the operator's tools.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `warbler — a Matrix homeserver

Usage:
  warbler serve [--config FILE]          run the homeserver
  warbler generate-keys [--config FILE] [--out PATH] [--rotate]
                                         write a new ed25519 signing key
  warbler register-user [--config FILE] --user NAME [--password PW | --password-stdin] [--admin]
                                         create a local account directly in the database
  warbler registration-token create [--config FILE] [--token T | --length N] [--uses-allowed N]
                                  [--expires-in DURATION | --expiry-time UNIX_MS]
  warbler registration-token list [--config FILE]
  warbler registration-token delete [--config FILE] --token T
                                         manage the tokens registration.require_token asks for
  warbler bench --url URL [--users N] [--rooms R] [--messages M] [--concurrency C]
              [--registration dummy|shared-secret] [--shared-secret S]
              [--user-prefix P] [--json] [--timeout D]
                                         load-test any homeserver over the client-server API
  warbler version                        print the version

Every config key can also be set as WARBLER_<KEY PATH> (see config.sample.yaml).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(args[1:], stderr)
	case "generate-keys":
		err = generateKeys(args[1:], stdout)
	case "register-user":
		err = registerUser(args[1:], stdin, stdout)
	case "registration-token":
		err = registrationToken(args[1:], stdout)
	case "bench":
		err = bench(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "warbler", versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "warbler: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "warbler:", err)
		return 1
	}
	return 0
}
