package loadtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"time"
)

// Config sizes one run. Zero values take the defaults in withDefaults.
type Config struct {
	URL          string
	Users        int
	Rooms        int
	Messages     int
	Concurrency  int
	Registration string // "dummy" (UIA m.login.dummy) or "shared-secret"
	SharedSecret string
	UserPrefix   string // localpart prefix; random by default so reruns don't clash
	SyncSample   int    // users whose initial /sync is timed
	// PollTimeout is the listeners' /sync long-poll timeout.
	PollTimeout time.Duration
	// DrainTimeout bounds the wait for deliveries after the last send.
	DrainTimeout time.Duration
	HTTPClient   *http.Client
	// Progress, if set, is told how far the current phase is.
	Progress func(phase string, done, total int)
}

const (
	RegDummy        = "dummy"
	RegSharedSecret = "shared-secret"
)

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Users, 50)
	def(&c.Rooms, 20)
	def(&c.Messages, 2000)
	def(&c.Concurrency, 8)
	def(&c.SyncSample, 50)
	if c.Registration == "" {
		c.Registration = RegDummy
	}
	if c.UserPrefix == "" {
		c.UserPrefix = "bench" + randomHex(4)
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = 10 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient(c.PollTimeout)
	}
	if c.Progress == nil {
		c.Progress = func(string, int, int) {}
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.URL == "":
		return errors.New("a homeserver URL is required")
	case c.Registration != RegDummy && c.Registration != RegSharedSecret:
		return errors.New(`registration must be "dummy" or "shared-secret"`)
	case c.Registration == RegSharedSecret && c.SharedSecret == "":
		return errors.New("shared-secret registration needs the shared secret")
	}
	return nil
}

// defaultHTTPClient keeps enough idle connections for every worker and
// listener, so the run measures requests rather than TCP handshakes. The
// client timeout lets long-polls finish and still catches a hung server.
func defaultHTTPClient(poll time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 512
	tr.MaxIdleConnsPerHost = 512
	return &http.Client{Transport: tr, Timeout: poll + time.Minute}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
