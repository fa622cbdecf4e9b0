package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/warbler-im/warbler/internal/loadtest"
)

// bench runs the load tool against any homeserver; the logic lives in
// internal/loadtest, this only reads flags and prints.
func bench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadtest.Config
	fs.StringVar(&cfg.URL, "url", "", "homeserver base URL, e.g. http://127.0.0.1:8008 (required)")
	fs.IntVar(&cfg.Users, "users", 50, "accounts to register")
	fs.IntVar(&cfg.Rooms, "rooms", 20, "rooms to create; every user joins every room")
	fs.IntVar(&cfg.Messages, "messages", 2000, "messages to send")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "concurrent requests per phase")
	fs.StringVar(&cfg.Registration, "registration", loadtest.RegDummy, `"dummy" (UIA m.login.dummy) or "shared-secret" (Synapse admin API)`)
	fs.StringVar(&cfg.SharedSecret, "shared-secret", "", "registration shared secret, with --registration shared-secret")
	fs.StringVar(&cfg.UserPrefix, "user-prefix", "", "localpart prefix (default: random, so reruns don't clash)")
	asJSON := fs.Bool("json", false, "print the report as JSON (schema "+loadtest.SchemaVersion+")")
	timeout := fs.Duration("timeout", 10*time.Minute, "stop the whole run after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if cfg.URL == "" {
		return errors.New("bench: --url is required")
	}
	if isTerminal(stdout) {
		cfg.Progress = newProgressBar(stderr).update
	}
	// Ctrl-C ends the run early but still prints what was measured.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := loadtest.Run(ctx, cfg)
	if cfg.Progress != nil {
		fmt.Fprintln(stderr)
	}
	if rep != nil {
		printReport(stdout, rep, *asJSON)
	}
	return err
}

func printReport(w io.Writer, rep *loadtest.Report, asJSON bool) {
	if !asJSON {
		rep.WriteText(w)
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

// isTerminal tells whether w is a character device; a bar written into a
// file or pipe would only be noise.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// progressBar redraws one line, and only when the shown percentage or phase
// changes, so thousands of updates cost little.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	phase string
	pct   int
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w, pct: -1} }

func (p *progressBar) update(phase string, done, total int) {
	if total <= 0 {
		return
	}
	pct := done * 100 / total
	p.mu.Lock()
	defer p.mu.Unlock()
	if phase == p.phase && pct == p.pct {
		return
	}
	if phase != p.phase && p.phase != "" {
		fmt.Fprintln(p.w)
	}
	p.phase, p.pct = phase, pct
	const width = 30
	bar := strings.Repeat("#", pct*width/100) + strings.Repeat(".", width-pct*width/100)
	fmt.Fprintf(p.w, "\r%-13s [%s] %3d%% %d/%d", phase, bar, pct, done, total)
}
