package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Validate checks every key and returns all problems at once, each naming
// its key path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if err := checkServerName(c.ServerName); err != nil {
		bad("server_name", "%v", err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", "must not be empty")
	}
	c.validateListeners(bad)
	c.validateDatabase(bad)
	if n := c.Memory.GCPercent; n < 10 || n > 1000 {
		bad("memory.gc_percent", "must be 10-1000")
	}
	c.validateVoIP(bad) // voip.go
	if c.SigningKey.Validity.Std() < time.Hour {
		bad("signing_key.validity", "must be at least 1h")
	}
	for i, cidr := range c.Federation.AllowedNetworks {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			bad(fmt.Sprintf("federation.allowed_networks[%d]", i), "%q is not a CIDR", cidr)
		}
	}
	for i, name := range c.Federation.KeyNotaries {
		if err := checkServerName(name); err != nil {
			bad(fmt.Sprintf("federation.key_notaries[%d]", i), "%v", err)
		}
	}
	c.validateRetryBackoff(bad)
	for i, f := range c.Appservices {
		if strings.TrimSpace(f) == "" {
			bad(fmt.Sprintf("appservices[%d]", i), "must be a file path")
		}
	}
	if c.HTTP.MaxRequestBytes <= 0 {
		bad("http.max_request_bytes", "must be > 0")
	}
	if c.HTTP.ShutdownTimeout.Std() <= 0 {
		bad("http.shutdown_timeout", "must be > 0")
	}
	c.validateLogging(bad)
	c.validateLogin(bad)
	c.validateRateLimits(bad)
	c.validateMedia(bad)
	c.validateSupport(bad)
	c.validatePush(bad) // push.go
	return errors.Join(errs...)
}

func (c *Config) validateMedia(bad reporter) {
	m := c.Media
	if m.MaxUploadBytes <= 0 {
		bad("media.max_upload_bytes", "must be > 0")
	}
	if m.UnusedExpiry.Std() < time.Minute {
		bad("media.unused_expiry", "must be at least 1m")
	}
	if m.MaxPendingUploads < 1 {
		bad("media.max_pending_uploads", "must be at least 1")
	}
	if !(m.CreateRateLimit.PerSecond > 0) {
		bad("media.create_rate_limit.per_second", "must be > 0")
	}
	if m.CreateRateLimit.Burst < 1 {
		bad("media.create_rate_limit.burst", "must be at least 1")
	}
	for i, cidr := range m.URLPreview.AllowedNetworks {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			bad(fmt.Sprintf("media.url_preview.allowed_networks[%d]", i), "%q is not a CIDR", cidr)
		}
	}
	if !(m.URLPreview.RateLimit.PerSecond > 0) {
		bad("media.url_preview.rate_limit.per_second", "must be > 0")
	}
	if m.URLPreview.RateLimit.Burst < 1 {
		bad("media.url_preview.rate_limit.burst", "must be at least 1")
	}
}

// jwtAlgorithms are the signing algorithms org.matrix.login.jwt accepts,
// each with whether it verifies with a shared secret (HMAC) or a public key.
var jwtAlgorithms = map[string]bool{
	"HS256": true, "HS384": true, "HS512": true,
	"RS256": false, "RS384": false, "RS512": false,
	"PS256": false, "PS384": false, "PS512": false,
	"ES256": false, "ES384": false, "ES512": false,
	"EdDSA": false,
}

// UsesSecret reports whether the JWT algorithm is verified with
// login.jwt.secret rather than login.jwt.public_key_file.
func (j JWT) UsesSecret() bool { return jwtAlgorithms[j.Algorithm] }

func (c *Config) validateLogin(bad reporter) {
	if c.Login.AccessTokenLifetime.Std() < time.Second {
		bad("login.access_token_lifetime", "must be at least 1s")
	}
	// A login token is meant to be carried to another device by hand or QR
	// code, not kept: the spec recommends 2 minutes.
	if lt := c.Login.GetToken.Lifetime.Std(); lt < time.Second || lt > time.Hour {
		bad("login.get_token.lifetime", "must be between 1s and 1h")
	}
	j := c.Login.JWT
	if !j.Enabled {
		return
	}
	hmac, known := jwtAlgorithms[j.Algorithm]
	switch {
	case !known:
		bad("login.jwt.algorithm", "must be one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA, got %q", j.Algorithm)
	case hmac && j.Secret == "":
		bad("login.jwt.secret", "must be set for %s", j.Algorithm)
	case !hmac && j.PublicKeyFile == "":
		bad("login.jwt.public_key_file", "must be set for %s", j.Algorithm)
	}
}

func (c *Config) validateRateLimits(bad reporter) {
	limits := []struct {
		path  string
		limit RateLimit
	}{
		{"rate_limits.login", c.RateLimits.Login},
		{"rate_limits.login_account", c.RateLimits.LoginAccount},
		{"rate_limits.register", c.RateLimits.Register},
		{"rate_limits.send", c.RateLimits.Send},
		{"rate_limits.join", c.RateLimits.Join},
	}
	for _, l := range limits {
		if !(l.limit.PerSecond > 0) {
			bad(l.path+".per_second", "must be > 0")
		}
		if l.limit.Burst < 1 {
			bad(l.path+".burst", "must be at least 1")
		}
	}
}

type reporter func(path, format string, args ...any)

func (c *Config) validateListeners(bad reporter) {
	if c.Listen.Client == "" && c.Listen.Federation == "" {
		bad("listen", "set listen.client or listen.federation")
	}
	if c.Listen.Client != "" && !validHostPort(c.Listen.Client) {
		bad("listen.client", "must be host:port, got %q", c.Listen.Client)
	}
	if c.Listen.Federation != "" && !validHostPort(c.Listen.Federation) {
		bad("listen.federation", "must be host:port, got %q", c.Listen.Federation)
	}
	if c.Metrics.Pprof && (!c.Metrics.Enabled || c.Metrics.Listen == "") {
		bad("metrics.pprof", "needs metrics.enabled and a separate metrics.listen")
	}
	if c.Metrics.Listen != "" && !validHostPort(c.Metrics.Listen) {
		bad("metrics.listen", "must be host:port, got %q", c.Metrics.Listen)
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "set both cert_file and key_file, or neither")
	}
}

func (c *Config) validateDatabase(bad reporter) {
	url := c.Database.URL
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		if strings.TrimPrefix(url, "sqlite:") == "" {
			bad("database.url", "sqlite: needs a file path")
		}
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
	default:
		bad("database.url", "must start with sqlite: or postgres://")
	}
	if n := c.Database.SQLite.ProcsPerCPU; n < 1 || n > 64 {
		bad("database.sqlite.procs_per_cpu", "must be 1-64")
	}
	if c.Database.Postgres.MaxOpenConns <= 0 {
		bad("database.postgres.max_open_conns", "must be > 0")
	}
	if c.Database.Postgres.MaxIdleConns < 0 {
		bad("database.postgres.max_idle_conns", "must be >= 0")
	}
}

func (c *Config) validateLogging(bad reporter) {
	switch c.Logging.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("logging.level", "must be debug, info, warn or error")
	}
	switch c.Logging.Format {
	case "text", "json":
	default:
		bad("logging.format", "must be text or json")
	}
}

func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

func (c *Config) validateSupport(bad reporter) {
	s := c.WellKnown.Support
	for _, contact := range []struct {
		path string
		c    SupportContact
	}{{"well_known.support.admin", s.Admin}, {"well_known.support.security", s.Security}} {
		if id := contact.c.MatrixID; id != "" && (!strings.HasPrefix(id, "@") || !strings.Contains(id, ":")) {
			bad(contact.path+".matrix_id", "must be a Matrix user ID such as @admin:example.org, got %q", id)
		}
		if e := contact.c.EmailAddress; e != "" && !strings.Contains(e, "@") {
			bad(contact.path+".email_address", "must be an email address, got %q", e)
		}
	}
	if p := s.Page; p != "" && !strings.HasPrefix(p, "https://") && !strings.HasPrefix(p, "http://") {
		bad("well_known.support.page", "must be an http(s) URL, got %q", p)
	}
}

// validateRetryBackoff keeps the federation retry schedule sane: a base
// too short would hammer a dead server, a cap under the base means nothing.
func (c *Config) validateRetryBackoff(bad func(key, format string, args ...any)) {
	f := c.Federation
	if f.RetryBackoffBase.Std() < 100*time.Millisecond {
		bad("federation.retry_backoff_base", "must be at least 100ms")
	}
	if f.RetryBackoffMax.Std() < f.RetryBackoffBase.Std() {
		bad("federation.retry_backoff_max", "must be at least federation.retry_backoff_base")
	}
}
