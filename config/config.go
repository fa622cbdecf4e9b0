package config

import (
	"time"
)

// Config is the whole configuration. Field yaml tags are the key names
// operators and test harnesses rely on; do not rename them.
type Config struct {
	ServerName   string       `yaml:"server_name"`
	DataDir      string       `yaml:"data_dir"`
	Listen       Listen       `yaml:"listen"`
	TLS          TLS          `yaml:"tls"`
	Database     Database     `yaml:"database"`
	SigningKey   SigningKey   `yaml:"signing_key"`
	Registration Registration `yaml:"registration"`
	RateLimits   RateLimits   `yaml:"rate_limits"`
	Federation   Federation   `yaml:"federation"`
	Appservices  []string     `yaml:"appservices"`
	Policy       Policy       `yaml:"policy"`
	WellKnown    WellKnown    `yaml:"well_known"`
	HTTP         HTTP         `yaml:"http"`
	Metrics      Metrics      `yaml:"metrics"`
	Logging      Logging      `yaml:"logging"`
}

// Listen holds the addresses the server listens on. Each listener serves
// both the client and the federation API.
type Listen struct {
	Client     string `yaml:"client"`     // host:port, plain HTTP
	Federation string `yaml:"federation"` // host:port, TLS
}

// TLS names the certificate for the federation listener. Empty files with a
// federation listener mean: generate a self-signed certificate in data_dir.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Database selects the storage backend.
type Database struct {
	URL      string   `yaml:"url"` // sqlite:PATH or postgres://...
	Postgres Postgres `yaml:"postgres"`
}

// Postgres tunes the PostgreSQL connection pool.
type Postgres struct {
	MaxOpenConns int `yaml:"max_open_conns"`
	MaxIdleConns int `yaml:"max_idle_conns"`
}

// SigningKey locates the server's ed25519 signing key and sets how long
// published keys are declared valid.
type SigningKey struct {
	File     string   `yaml:"file"`
	Validity Duration `yaml:"validity"`
}

// Registration controls open registration of new accounts.
type Registration struct {
	Enabled      bool   `yaml:"enabled"`
	SharedSecret string `yaml:"shared_secret"`
}

// RateLimits switches request rate limiting.
type RateLimits struct {
	Enabled bool `yaml:"enabled"`
}

// Federation configures outbound federation trust and reachability.
type Federation struct {
	TrustedCAFile      string   `yaml:"trusted_ca_file"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify"`
	AllowedNetworks    []string `yaml:"allowed_networks"`
}

// Policy locates the residency policy bundle.
type Policy struct {
	Dir string `yaml:"dir"`
}

// WellKnown holds what /.well-known/matrix/{client,server} answer.
type WellKnown struct {
	ClientBaseURL string `yaml:"client_base_url"`
	Server        string `yaml:"server"`
}

// HTTP bounds requests.
type HTTP struct {
	MaxRequestBytes int64    `yaml:"max_request_bytes"`
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Metrics controls the Prometheus endpoint.
type Metrics struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"` // empty: served at /metrics on the client listener
}

// Logging selects the log level and format.
type Logging struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Duration is a time.Duration written in YAML and env as "30s", "24h".
type Duration time.Duration

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		ServerName: "localhost:8008",
		DataDir:    "./warbler-data",
		Listen:     Listen{Client: "127.0.0.1:8008"},
		Database:   Database{Postgres: Postgres{MaxOpenConns: 20, MaxIdleConns: 5}},
		SigningKey: SigningKey{Validity: Duration(24 * time.Hour)},
		RateLimits: RateLimits{Enabled: true},
		HTTP: HTTP{
			MaxRequestBytes: 1 << 20,
			ShutdownTimeout: Duration(10 * time.Second),
		},
		Metrics: Metrics{Enabled: true},
		Logging: Logging{Level: "info", Format: "text"},
	}
}
