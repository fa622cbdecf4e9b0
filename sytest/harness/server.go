package harness

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warbler-im/warbler/storage/postgres/pgtest"
)

// Backend is a storage backend a server can run on.
type Backend string

const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
)

// Backends lists the backends every scenario runs on. PostgreSQL scenarios
// skip (with the reason) when WARBLER_TEST_POSTGRES is not set.
func Backends() []Backend { return []Backend{SQLite, Postgres} }

// Options shape one server.
type Options struct {
	Backend Backend
	// Env adds WARBLER_* settings (e.g. "WARBLER_REGISTRATION__ENABLED=true").
	Env []string
	// Federation also opens a TLS listener, and the server name becomes
	// its address so that other servers reach it there.
	Federation bool
	// SharedCA (with Federation) gives the listener a certificate from the
	// test process's CA, which such servers trust, and lets them reach
	// loopback: a federation of servers on this machine.
	SharedCA bool
	// Host is the loopback address the server listens on and is named
	// after; "" means 127.0.0.1. Servers on different addresses of
	// 127.0.0.0/8 have different hosts, which server ACLs (they ignore
	// ports) can tell apart.
	Host string
}

// Server is one running warbler process and what it needs to restart.
type Server struct {
	t          testing.TB
	Name       string // server_name
	ClientURL  string // http://127.0.0.1:port
	FedURL     string // https://127.0.0.1:port, when Options.Federation
	DataDir    string
	env        []string
	cmd        *exec.Cmd
	logs       *syncBuffer
	exited     chan struct{}
	exitErr    error
	HTTPClient *http.Client
}

// Start launches a server and waits until it answers. The server is
// stopped when the test ends, and the test fails if it did not shut down
// cleanly.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	addr := freeAddr(t, host)
	s := &Server{
		t:          t,
		Name:       addr,
		ClientURL:  "http://" + addr,
		DataDir:    t.TempDir(),
		HTTPClient: &http.Client{Timeout: 30 * time.Second},
	}
	var fedAddr string
	if opts.Federation {
		fedAddr = freeAddr(t, host)
		s.FedURL = "https://" + fedAddr
		s.Name = fedAddr
	}
	s.env = []string{
		"WARBLER_SERVER_NAME=" + s.Name,
		"WARBLER_DATA_DIR=" + s.DataDir,
		"WARBLER_LISTEN__CLIENT=" + strings.TrimPrefix(s.ClientURL, "http://"),
		"WARBLER_LOGGING__LEVEL=debug",
	}
	if opts.Backend == Postgres {
		s.env = append(s.env, "WARBLER_DATABASE__URL="+pgtest.FreshDatabase(t))
	}
	if opts.Federation {
		s.env = append(s.env, "WARBLER_LISTEN__FEDERATION="+fedAddr)
	}
	if opts.Federation && opts.SharedCA {
		s.env = append(s.env, writeSharedCAFiles(t, s.DataDir, host)...)
	}
	s.env = append(s.env, opts.Env...)
	s.Launch()
	t.Cleanup(func() { s.Stop() })
	return s
}

// Env is the environment the server runs with, for running the binary's
// other subcommands against the same data.
func (s *Server) Env() []string { return append(baseEnv(), s.env...) }

// baseEnv is the test process's environment without WARBLER_ settings, so
// a developer's shell cannot leak into a test server.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARBLER_") {
			out = append(out, kv)
		}
	}
	return out
}

// Launch starts the process (again, after Stop) and waits for readiness.
func (s *Server) Launch() {
	s.t.Helper()
	bin, err := Binary()
	if err != nil {
		s.t.Fatal(err)
	}
	s.logs = &syncBuffer{}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = s.Env()
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() { s.exitErr = s.cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.dumpLogs()
		s.t.Fatalf("server %s did not become ready: %v", s.Name, err)
	}
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("process exited: %v", s.exitErr)
		default:
		}
		resp, err := s.HTTPClient.Get(s.ClientURL + "/_matrix/client/versions")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer within %v", limit)
}

// Stop sends SIGTERM and fails the test unless the process exits cleanly
// (exit status 0) within 20 seconds. Stopping a stopped server is a no-op.
func (s *Server) Stop() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	defer func() { s.cmd = nil }()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.dumpLogs()
		s.t.Errorf("server %s did not stop within 20s of SIGTERM", s.Name)
		return
	}
	if s.exitErr != nil {
		s.dumpLogs()
		s.t.Errorf("server %s exited uncleanly: %v", s.Name, s.exitErr)
	}
}

// Restart stops and relaunches the server on the same data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Launch()
}

// Logs returns what the process has printed so far.
func (s *Server) Logs() string { return s.logs.String() }

func (s *Server) dumpLogs() {
	s.t.Logf("--- logs of %s ---\n%s", s.Name, s.logs.String())
}

// Run executes another subcommand of the binary (e.g. register-user)
// against this server's configuration and returns its combined output.
func (s *Server) Run(ctx context.Context, args ...string) (string, error) {
	return s.RunWithEnv(ctx, nil, args...)
}

// RunWithEnv is Run with extra environment settings that win over the
// server's own.
func (s *Server) RunWithEnv(ctx context.Context, extraEnv []string, args ...string) (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(s.Env(), extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// RegisterUser creates an account with the binary's register-user command.
func (s *Server) RegisterUser(localpart, password string, admin bool) string {
	s.t.Helper()
	args := []string{"register-user", "--user", localpart, "--password", password}
	if admin {
		args = append(args, "--admin")
	}
	out, err := s.Run(context.Background(), args...)
	if err != nil {
		s.t.Fatalf("register-user: %v\n%s", err, out)
	}
	return "@" + localpart + ":" + s.Name
}

// Test servers listen on ports below Linux's ephemeral range (32768 and
// up by default). A port the kernel handed out for ":0" can be taken again
// by any outgoing connection (a PostgreSQL client, a federation request)
// before the server binds it; ports picked from this range cannot, and the
// set below keeps one test process from handing a port out twice.
const (
	lowestTestPort = 20000
	testPortCount  = 12000
)

var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freeAddr returns host:port with a port free on host a moment ago, one no
// other server of this test process was given.
func freeAddr(t testing.TB, host string) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 1000 {
		port := lowestTestPort + rand.IntN(testPortCount)
		if handedOut.ports[port] {
			continue
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		handedOut.ports[port] = true
		return addr
	}
	t.Fatal("no free loopback port found for a test server")
	return ""
}

// DataFile is a path inside the server's data directory.
func (s *Server) DataFile(name string) string { return filepath.Join(s.DataDir, name) }

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
