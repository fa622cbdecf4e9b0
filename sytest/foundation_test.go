package sytest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/sytest/harness"
)

// eachBackend runs a scenario once per storage backend.
func eachBackend(t *testing.T, scenario func(t *testing.T, backend harness.Backend)) {
	for _, b := range harness.Backends() {
		t.Run(string(b), func(t *testing.T) { scenario(t, b) })
	}
}

// TestServesWithNoConfigAtAll runs the binary exactly as the README's first
// command does: no config file, no WARBLER_ variables, in an empty folder.
func TestServesWithNoConfigAtAll(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:8008")
	if err != nil {
		t.Fatalf("port 8008, the default, is taken: this test needs it free: %v", err)
	}
	ln.Close()
	bin, err := harness.Binary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = envWithoutWarbler()
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	client := &http.Client{Timeout: 5 * time.Second}
	resp := waitFor(t, client, "http://127.0.0.1:8008/_matrix/client/versions", done, &logs)
	if _, ok := resp.JSON(t)["versions"].([]any); !ok {
		t.Errorf("/versions has no versions list: %s", resp.Body)
	}
	keys := harness.DoURL(t, client, "GET", "http://127.0.0.1:8008/_matrix/key/v2/server", nil, "")
	checkKeyResponse(t, keys, "localhost:8008")
	for _, f := range []string{"warbler-data/warbler.db", "warbler-data/signing.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("expected %s to be created: %v", f, err)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGINT: %v\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("no exit within 20s of SIGINT")
	}
}

func envWithoutWarbler() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WARBLER_") {
			env = append(env, kv)
		}
	}
	return env
}

func waitFor(t *testing.T, c *http.Client, url string, exited chan error, logs *bytes.Buffer) harness.Response {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("server exited: %v\n%s", err, logs.String())
		default:
		}
		if resp, err := c.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return harness.DoURL(t, c, "GET", url, nil, "")
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer in time\n%s", url, logs.String())
	return harness.Response{}
}

type keyResponse struct {
	ServerName   string `json:"server_name"`
	ValidUntilTS int64  `json:"valid_until_ts"`
	VerifyKeys   map[string]struct {
		Key string `json:"key"`
	} `json:"verify_keys"`
	OldVerifyKeys map[string]struct {
		Key       string `json:"key"`
		ExpiredTS int64  `json:"expired_ts"`
	} `json:"old_verify_keys"`
}

// checkKeyResponse verifies a key response with the keys it publishes and
// returns it decoded.
func checkKeyResponse(t *testing.T, resp harness.Response, serverName string) keyResponse {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("key request: %d %s", resp.Status, resp.Body)
	}
	var keys keyResponse
	if err := json.Unmarshal(resp.Body, &keys); err != nil {
		t.Fatal(err)
	}
	if keys.ServerName != serverName {
		t.Errorf("server_name = %q, want %q", keys.ServerName, serverName)
	}
	if keys.ValidUntilTS <= time.Now().UnixMilli() {
		t.Errorf("valid_until_ts %d is not in the future", keys.ValidUntilTS)
	}
	if len(keys.VerifyKeys) == 0 {
		t.Fatal("no verify_keys")
	}
	for id, k := range keys.VerifyKeys {
		pub, err := mxcore.DecodeBase64(k.Key)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("verify key %s is not an ed25519 key: %v", id, err)
		}
		if err := mxcore.VerifyJSON(resp.Body, serverName, id, ed25519.PublicKey(pub)); err != nil {
			t.Errorf("key response does not verify with its own key %s: %v", id, err)
		}
	}
	return keys
}

func TestKeyResponseVerifiesWithItsOwnKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend})
		checkKeyResponse(t, s.Do("GET", "/_matrix/key/v2/server", nil, ""), s.Name)
		version := s.Do("GET", "/_matrix/federation/v1/version", nil, "").JSON(t)
		if server, _ := version["server"].(map[string]any); server["name"] != "Warbler" {
			t.Errorf("federation version: %v", version)
		}
	})
}

func TestRestartKeepsKeyUsersAndSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend})
		before := checkKeyResponse(t, s.Do("GET", "/_matrix/key/v2/server", nil, ""), s.Name)
		userID := s.RegisterUser("alice", "wonderland-pw", false)
		token := s.Login("alice", "wonderland-pw")

		s.Restart()

		after := checkKeyResponse(t, s.Do("GET", "/_matrix/key/v2/server", nil, ""), s.Name)
		for id, k := range before.VerifyKeys {
			if after.VerifyKeys[id].Key != k.Key {
				t.Errorf("key %s changed across restart", id)
			}
		}
		who := s.Do("GET", "/_matrix/client/v3/account/whoami", nil, token)
		if who.Status != http.StatusOK || who.JSON(t)["user_id"] != userID {
			t.Errorf("whoami with the old token after restart: %d %s", who.Status, who.Body)
		}
		s.Login("@alice:"+s.Name, "wonderland-pw")
	})
}

func TestKeyRotationKeepsOldKeyPublished(t *testing.T) {
	s := harness.Start(t, harness.Options{Backend: harness.SQLite})
	before := checkKeyResponse(t, s.Do("GET", "/_matrix/key/v2/server", nil, ""), s.Name)
	s.Stop()
	if out, err := s.Run(context.Background(), "generate-keys"); err == nil {
		t.Fatalf("generate-keys replaced a key without --rotate: %s", out)
	}
	if out, err := s.Run(context.Background(), "generate-keys", "--rotate"); err != nil {
		t.Fatalf("generate-keys --rotate: %v %s", err, out)
	}
	s.Launch()
	after := checkKeyResponse(t, s.Do("GET", "/_matrix/key/v2/server", nil, ""), s.Name)
	for id, k := range before.VerifyKeys {
		if _, still := after.VerifyKeys[id]; still {
			t.Errorf("rotated key %s is still current", id)
		}
		old, ok := after.OldVerifyKeys[id]
		if !ok || old.Key != k.Key || old.ExpiredTS == 0 {
			t.Errorf("old key %s not in old_verify_keys with expired_ts: %+v", id, after.OldVerifyKeys)
		}
	}
}

func TestFederationListenerServesTLSWithGeneratedCertificate(t *testing.T) {
	s := harness.Start(t, harness.Options{Backend: harness.SQLite, Federation: true})
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed server
	}}
	checkKeyResponse(t, harness.DoURL(t, insecure, "GET", s.FedURL+"/_matrix/key/v2/server", nil, ""), s.Name)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if _, err := os.Stat(s.DataFile(f)); err != nil {
			t.Errorf("self-signed %s not generated: %v", f, err)
		}
	}
}
