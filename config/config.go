package config

import (
	"strings"
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
	Login        Login        `yaml:"login"`
	RateLimits   RateLimits   `yaml:"rate_limits"`
	Federation   Federation   `yaml:"federation"`
	Media        Media        `yaml:"media"`
	Presence     Presence     `yaml:"presence"`
	Push         Push         `yaml:"push"`
	Appservices  []string     `yaml:"appservices"`
	Policy       Policy       `yaml:"policy"`
	WellKnown    WellKnown    `yaml:"well_known"`
	HTTP         HTTP         `yaml:"http"`
	Metrics      Metrics      `yaml:"metrics"`
	Logging      Logging      `yaml:"logging"`
	Memory       Memory       `yaml:"memory"`

	UserDirectory UserDirectory `yaml:"user_directory"`
	VoIP          VoIP          `yaml:"voip"`
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
	SQLite   SQLite   `yaml:"sqlite"`
	Postgres Postgres `yaml:"postgres"`
}

// SQLite tunes the server when the database is SQLite.
type SQLite struct {
	// ProcsPerCPU sets GOMAXPROCS to this many times the CPUs (see
	// config.sample.yaml). 1 leaves Go's default.
	ProcsPerCPU int `yaml:"procs_per_cpu"`
}

// Memory tunes the Go runtime's trade of memory for CPU.
type Memory struct {
	// GCPercent is the garbage collector's target (GOGC): the heap may
	// grow this many percent above what is live before a collection.
	GCPercent int `yaml:"gc_percent"`
}

// IsPostgres reports whether the database URL names PostgreSQL.
func (d Database) IsPostgres() bool {
	return strings.HasPrefix(d.URL, "postgres://") || strings.HasPrefix(d.URL, "postgresql://")
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

// Registration controls who may create accounts.
type Registration struct {
	Enabled      bool   `yaml:"enabled"`
	RequireToken bool   `yaml:"require_token"`
	GuestAccess  bool   `yaml:"guest_access"`
	SharedSecret string `yaml:"shared_secret"`
}

// Login configures sessions and the extra login types.
type Login struct {
	// AccessTokenLifetime applies to clients that asked for a refresh
	// token; other clients get tokens that do not expire.
	AccessTokenLifetime Duration `yaml:"access_token_lifetime"`
	JWT                 JWT      `yaml:"jwt"`
	GetToken            GetToken `yaml:"get_token"`
}

// GetToken configures POST /login/get_token: a logged-in user makes a
// single-use token that logs another client in (login type m.login.token).
type GetToken struct {
	Enabled  bool     `yaml:"enabled"`
	Lifetime Duration `yaml:"lifetime"`
}

// JWT configures org.matrix.login.jwt: a client presents a JSON Web Token
// signed by a trusted issuer, and its sub claim names the local user.
type JWT struct {
	Enabled       bool   `yaml:"enabled"`
	Algorithm     string `yaml:"algorithm"`
	Secret        string `yaml:"secret"`          // HS256/384/512
	PublicKeyFile string `yaml:"public_key_file"` // PEM, for RS*, PS*, ES* and EdDSA
	Issuer        string `yaml:"issuer"`          // "" accepts any iss
	Audience      string `yaml:"audience"`        // "" refuses tokens that carry an aud
	CreateUsers   bool   `yaml:"create_users"`
}

// RateLimits switches request rate limiting and sets its token buckets.
type RateLimits struct {
	Enabled      bool      `yaml:"enabled"`
	Login        RateLimit `yaml:"login"`
	LoginAccount RateLimit `yaml:"login_account"`
	Register     RateLimit `yaml:"register"`
	Send         RateLimit `yaml:"send"`
	Join         RateLimit `yaml:"join"`
}

// UserDirectory says whom /user_directory/search finds.
type UserDirectory struct {
	// SearchAllUsers finds every local user; otherwise only users who
	// share a room with the searcher or are in a public room.
	SearchAllUsers bool `yaml:"search_all_users"`
}

// RateLimit is one token bucket: a client may make Burst requests at once
// and then PerSecond on average.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Federation configures outbound federation trust and reachability.
type Federation struct {
	TrustedCAFile      string   `yaml:"trusted_ca_file"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify"`
	AllowedNetworks    []string `yaml:"allowed_networks"`
	// KeyNotaries are servers asked for another server's signing keys when
	// that server cannot be reached itself.
	KeyNotaries []string `yaml:"key_notaries"`
	// RetryBackoffBase and RetryBackoffMax shape the retry schedule of
	// the outbound queues: a destination that failed n times in a row is
	// retried after base × 2^(n-1), at most max.
	RetryBackoffBase Duration `yaml:"retry_backoff_base"`
	RetryBackoffMax  Duration `yaml:"retry_backoff_max"`
}

// Media configures the content repository (uploads, downloads,
// thumbnails).
type Media struct {
	// Dir holds the media files; "" means <data_dir>/media.
	Dir            string `yaml:"dir"`
	MaxUploadBytes int64  `yaml:"max_upload_bytes"`
	// LegacyUnauthenticated serves local media on the deprecated
	// unauthenticated /_matrix/media/v3/download and thumbnail endpoints.
	LegacyUnauthenticated bool `yaml:"legacy_unauthenticated"`
	// UnusedExpiry is how long an mxc:// URI made by /create waits for
	// its upload.
	UnusedExpiry      Duration   `yaml:"unused_expiry"`
	MaxPendingUploads int        `yaml:"max_pending_uploads"`
	CreateRateLimit   RateLimit  `yaml:"create_rate_limit"`
	URLPreview        URLPreview `yaml:"url_preview"`
}

// URLPreview configures /preview_url, which fetches web pages for clients.
type URLPreview struct {
	Enabled bool `yaml:"enabled"`
	// AllowedNetworks are CIDRs previews may reach although they are
	// loopback, private or link-local; all such addresses are refused
	// otherwise.
	AllowedNetworks []string  `yaml:"allowed_networks"`
	RateLimit       RateLimit `yaml:"rate_limit"`
}

// Presence switches user presence (online, unavailable, offline).
type Presence struct {
	// Enabled off: presence is neither stored nor sent, and every user
	// reads as offline. It costs wake-ups of room-mates' /sync.
	Enabled bool `yaml:"enabled"`
}

// Policy locates the residency policy bundle.
type Policy struct {
	Dir string `yaml:"dir"`
}

// WellKnown holds what /.well-known/matrix/{client,server,support} answer.
type WellKnown struct {
	ClientBaseURL string  `yaml:"client_base_url"`
	Server        string  `yaml:"server"`
	Support       Support `yaml:"support"`
}

// Support is served at /.well-known/matrix/support: who runs the server
// (the m.role.admin and m.role.security contacts) and a help page.
type Support struct {
	Admin    SupportContact `yaml:"admin"`
	Security SupportContact `yaml:"security"`
	Page     string         `yaml:"page"`
}

// SupportContact is one way to reach the operators; either field may be
// empty, and a contact with neither is left out.
type SupportContact struct {
	MatrixID     string `yaml:"matrix_id"`
	EmailAddress string `yaml:"email_address"`
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
	// Pprof adds Go's profiler (/debug/pprof/) to the separate metrics
	// listener; it needs Listen, so it is never on the public one.
	Pprof bool `yaml:"pprof"`
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
		Database:   Database{SQLite: SQLite{ProcsPerCPU: 4}, Postgres: Postgres{MaxOpenConns: 20, MaxIdleConns: 20}},
		Memory:     Memory{GCPercent: 70},
		SigningKey: SigningKey{Validity: Duration(24 * time.Hour)},
		Login: Login{
			AccessTokenLifetime: Duration(5 * time.Minute),
			JWT:                 JWT{Algorithm: "HS256"},
			GetToken:            GetToken{Lifetime: Duration(2 * time.Minute)},
		},
		RateLimits: RateLimits{
			Enabled:      true,
			Login:        RateLimit{PerSecond: 0.5, Burst: 10},
			LoginAccount: RateLimit{PerSecond: 0.2, Burst: 10},
			Register:     RateLimit{PerSecond: 0.2, Burst: 10},
			Send:         RateLimit{PerSecond: 2, Burst: 30},
			Join:         RateLimit{PerSecond: 0.1, Burst: 10},
		},
		VoIP: VoIP{TurnUserLifetime: defaultTurnUserLifetime},
		Media: Media{
			MaxUploadBytes:    50 << 20,
			UnusedExpiry:      Duration(24 * time.Hour),
			MaxPendingUploads: 5,
			CreateRateLimit:   RateLimit{PerSecond: 1, Burst: 10},
			URLPreview:        URLPreview{RateLimit: RateLimit{PerSecond: 1, Burst: 10}},
		},
		HTTP: HTTP{
			MaxRequestBytes: 1 << 20,
			ShutdownTimeout: Duration(10 * time.Second),
		},
		Federation: Federation{RetryBackoffBase: Duration(2 * time.Second), RetryBackoffMax: Duration(time.Hour)},
		Presence:   Presence{Enabled: true},
		Push:       defaultPush(),
		Metrics:    Metrics{Enabled: true},
		Logging:    Logging{Level: "info", Format: "text"},
	}
}
