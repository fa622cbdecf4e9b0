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
	if c.SigningKey.Validity.Std() < time.Hour {
		bad("signing_key.validity", "must be at least 1h")
	}
	for i, cidr := range c.Federation.AllowedNetworks {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			bad(fmt.Sprintf("federation.allowed_networks[%d]", i), "%q is not a CIDR", cidr)
		}
	}
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
	return errors.Join(errs...)
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
