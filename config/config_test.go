package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSampleDocumentsEveryKeyWithItsDefault(t *testing.T) {
	raw, err := os.ReadFile("../config.sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fromSample := Default()
	if err := decodeYAML(raw, &fromSample); err != nil {
		t.Fatalf("sample does not load: %v", err)
	}
	if !reflect.DeepEqual(normalise(fromSample), normalise(Default())) {
		t.Errorf("sample differs from defaults:\nsample:  %+v\ndefault: %+v", fromSample, Default())
	}
	text := string(raw)
	for _, key := range Keys() {
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(text, leaf+":") {
			t.Errorf("config.sample.yaml does not document %s", key)
		}
	}
}

// normalise treats nil and empty lists alike.
func normalise(c Config) Config {
	if len(c.Appservices) == 0 {
		c.Appservices = nil
	}
	if len(c.Federation.AllowedNetworks) == 0 {
		c.Federation.AllowedNetworks = nil
	}
	if len(c.Media.URLPreview.AllowedNetworks) == 0 {
		c.Media.URLPreview.AllowedNetworks = nil
	}
	if len(c.VoIP.TurnURIs) == 0 {
		c.VoIP.TurnURIs = nil
	}
	if len(c.Federation.KeyNotaries) == 0 {
		c.Federation.KeyNotaries = nil
	}
	if len(c.Push.AllowedNetworks) == 0 {
		c.Push.AllowedNetworks = nil
	}
	return c
}

func TestLoadWithoutFileGivesWorkingDefaults(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "localhost:8008" || cfg.Listen.Client != "127.0.0.1:8008" {
		t.Errorf("defaults: %+v", cfg)
	}
	if cfg.Database.URL != "sqlite:./warbler-data/warbler.db" {
		t.Errorf("database.url = %q", cfg.Database.URL)
	}
	if cfg.SigningKey.File != "./warbler-data/signing.key" {
		t.Errorf("signing_key.file = %q", cfg.SigningKey.File)
	}
	if cfg.Media.Dir != "./warbler-data/media" {
		t.Errorf("media.dir = %q", cfg.Media.Dir)
	}
	if cfg.Registration.Enabled {
		t.Error("registration must be off by default")
	}
}

func TestLoadErrorsNameTheKeyPath(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"unknown top key", "sever_name: x\n", nil, "sever_name: unknown key"},
		{"unknown nested key", "listen:\n  clent: 1.2.3.4:1\n", nil, "listen.clent: unknown key"},
		{"bad pool size", "database:\n  postgres:\n    max_open_conns: 0\n", nil, "database.postgres.max_open_conns: must be > 0"},
		{"wrong type", "registration:\n  enabled: maybe\n", nil, "registration.enabled: must be true or false"},
		{"bad duration", "http:\n  shutdown_timeout: soon\n", nil, "http.shutdown_timeout: must be a duration"},
		{"bad listen", "listen:\n  client: nonsense\n", nil, "listen.client: must be host:port"},
		{"bad database url", "database:\n  url: mysql://x\n", nil, "database.url: must start with sqlite: or postgres://"},
		{"gc percent 5", "memory:\n  gc_percent: 5\n", nil, "memory.gc_percent: must be 10-1000"},
		{"procs per cpu 0", "database:\n  sqlite:\n    procs_per_cpu: 0\n", nil, "database.sqlite.procs_per_cpu: must be 1-64"},
		{"bad cidr", "federation:\n  allowed_networks: [10.0.0.0/33]\n", nil, "federation.allowed_networks[0]"},
		{"bad notary", "federation:\n  key_notaries: [matrix.org, 'not a name']\n", nil, "federation.key_notaries[1]"},
		{"short retry base", "federation:\n  retry_backoff_base: 1ms\n", nil, "federation.retry_backoff_base: must be at least 100ms"},
		{"retry cap under base", "federation:\n  retry_backoff_base: 10m\n  retry_backoff_max: 1m\n", nil, "federation.retry_backoff_max: must be at least federation.retry_backoff_base"},
		{"bad server name", "server_name: 'bad name'\n", nil, "server_name:"},
		{"only cert", "tls:\n  cert_file: a.pem\n", nil, "tls: set both"},
		{"bad env bool", "", []string{"WARBLER_REGISTRATION__ENABLED=perhaps"}, "registration.enabled (from WARBLER_REGISTRATION__ENABLED): must be true or false"},
		{"bad env int", "", []string{"WARBLER_DATABASE__POSTGRES__MAX_OPEN_CONNS=-1"}, "database.postgres.max_open_conns: must be > 0"},
		{"mapping expected", "listen: 5\n", nil, "listen: must be a mapping"},
		{"bad jwt algorithm", "login:\n  jwt:\n    enabled: true\n    algorithm: none\n", nil, "login.jwt.algorithm: must be one of"},
		{"jwt without secret", "login:\n  jwt:\n    enabled: true\n", nil, "login.jwt.secret: must be set for HS256"},
		{"jwt without key", "login:\n  jwt:\n    enabled: true\n    algorithm: ES256\n", nil, "login.jwt.public_key_file: must be set for ES256"},
		{"short token lifetime", "login:\n  access_token_lifetime: 10ms\n", nil, "login.access_token_lifetime: must be at least 1s"},
		{"zero burst", "rate_limits:\n  login:\n    burst: 0\n", nil, "rate_limits.login.burst: must be at least 1"},
		{"long login token", "login:\n  get_token:\n    lifetime: 2h\n", nil, "login.get_token.lifetime: must be between 1s and 1h"},
		{"bad support id", "well_known:\n  support:\n    admin:\n      matrix_id: admin\n", nil, "well_known.support.admin.matrix_id: must be a Matrix user ID"},
		{"bad support email", "well_known:\n  support:\n    security:\n      email_address: nobody\n", nil, "well_known.support.security.email_address: must be an email address"},
		{"bad support page", "well_known:\n  support:\n    page: example.org\n", nil, "well_known.support.page: must be an http(s) URL"},
		{"negative rate", "rate_limits:\n  register:\n    per_second: -1\n", nil, "rate_limits.register.per_second: must be > 0"},
		{"rate not a number", "rate_limits:\n  register:\n    per_second: fast\n", nil, "rate_limits.register.per_second: must be a number"},
		{"bad env float", "", []string{"WARBLER_RATE_LIMITS__LOGIN__PER_SECOND=x"}, "rate_limits.login.per_second (from WARBLER_RATE_LIMITS__LOGIN__PER_SECOND): must be a number"},
		{"zero upload size", "media:\n  max_upload_bytes: 0\n", nil, "media.max_upload_bytes: must be > 0"},
		{"short unused expiry", "media:\n  unused_expiry: 5s\n", nil, "media.unused_expiry: must be at least 1m"},
		{"no pending uploads", "", []string{"WARBLER_MEDIA__MAX_PENDING_UPLOADS=0"}, "media.max_pending_uploads: must be at least 1"},
		{"bad preview cidr", "media:\n  url_preview:\n    allowed_networks: [localhost]\n", nil, "media.url_preview.allowed_networks[0]"},
		{"bad push cidr", "push:\n  allowed_networks: [localhost]\n", nil, "push.allowed_networks[0]"},
		{"push queue of zero", "push:\n  queue_size: 0\n", nil, "push.queue_size: must be between 1 and 10000"},
		{"push retry cap under base", "push:\n  retry_backoff_base: 1m\n  retry_backoff_max: 1s\n", nil, "push.retry_backoff_max: must be at least push.retry_backoff_base"},
		{"push timeout too short", "push:\n  timeout: 1ms\n", nil, "push.timeout: must be at least 100ms"},
		{"zero create burst", "media:\n  create_rate_limit:\n    burst: 0\n", nil, "media.create_rate_limit.burst: must be at least 1"},
		{"pprof on the public listener", "metrics:\n  pprof: true\n", nil, "metrics.pprof: needs metrics.enabled and a separate metrics.listen"},
		{"not yaml", "listen: [\n", nil, "config: yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestEnvironmentOverridesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	body := "server_name: file.example\nregistration:\n  enabled: false\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"WARBLER_REGISTRATION__ENABLED=true",
		"WARBLER_LISTEN__CLIENT=127.0.0.1:9008",
		"WARBLER_APPSERVICES=a.yaml, b.yaml",
		"WARBLER_FEDERATION__ALLOWED_NETWORKS=127.0.0.0/8,::1/128",
		"WARBLER_SIGNING_KEY__VALIDITY=48h",
		"WARBLER_RATE_LIMITS__LOGIN__PER_SECOND=2.5",
		"WARBLER_TEST_POSTGRES=postgres://ignored", // not a key: left alone
		"HOME=/root",
	}
	cfg, err := Load(path, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ServerName != "file.example" || !cfg.Registration.Enabled || cfg.Listen.Client != "127.0.0.1:9008" {
		t.Errorf("got %+v", cfg)
	}
	if !reflect.DeepEqual(cfg.Appservices, []string{"a.yaml", "b.yaml"}) {
		t.Errorf("appservices = %q", cfg.Appservices)
	}
	if len(cfg.Federation.AllowedNetworks) != 2 {
		t.Errorf("allowed_networks = %q", cfg.Federation.AllowedNetworks)
	}
	if cfg.RateLimits.Login.PerSecond != 2.5 {
		t.Errorf("rate_limits.login.per_second = %v", cfg.RateLimits.Login.PerSecond)
	}
	if cfg.SigningKey.Validity.Std() != 48*time.Hour {
		t.Errorf("validity = %v", cfg.SigningKey.Validity.Std())
	}
}

func TestFederationListenerGetsGeneratedCertPaths(t *testing.T) {
	cfg, err := Load("", []string{"WARBLER_LISTEN__FEDERATION=127.0.0.1:8448", "WARBLER_DATA_DIR=/srv/w"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.CertFile != "/srv/w/tls.crt" || cfg.TLS.KeyFile != "/srv/w/tls.key" {
		t.Errorf("tls = %+v", cfg.TLS)
	}
}
