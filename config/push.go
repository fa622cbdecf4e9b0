package config

import (
	"fmt"
	"net"
	"time"
)

// Push configures the delivery of notifications to push gateways, the
// servers named by users' http pushers (/pushers/set data.url).
type Push struct {
	// Enabled off: pushers are still stored, but nothing is sent.
	Enabled bool `yaml:"enabled"`
	// AllowedNetworks are CIDRs gateways may be reached at although they
	// are loopback, private or link-local; all such addresses are refused
	// otherwise.
	AllowedNetworks []string `yaml:"allowed_networks"`
	// AllowHTTPGateways accepts pushers with a plain http data.url; the
	// spec wants https. Test deployments only.
	AllowHTTPGateways bool `yaml:"allow_http_gateways"`
	// Timeout bounds one request to a gateway.
	Timeout Duration `yaml:"timeout"`
	// QueueSize bounds each pusher's backlog of undelivered notifications;
	// beyond it the oldest are dropped.
	QueueSize int `yaml:"queue_size"`
	// RetryBackoffBase and RetryBackoffMax shape the retries of a failed
	// request: the n-th waits base × 2^(n-1), at most max. GiveUpAfter is
	// how long one notification is retried.
	RetryBackoffBase Duration `yaml:"retry_backoff_base"`
	RetryBackoffMax  Duration `yaml:"retry_backoff_max"`
	GiveUpAfter      Duration `yaml:"give_up_after"`
}

func defaultPush() Push {
	return Push{
		Enabled: true, Timeout: Duration(10 * time.Second), QueueSize: 100,
		RetryBackoffBase: Duration(time.Second), RetryBackoffMax: Duration(10 * time.Minute),
		GiveUpAfter: Duration(time.Hour),
	}
}

func (c *Config) validatePush(bad func(path, format string, args ...any)) {
	p := c.Push
	for i, cidr := range p.AllowedNetworks {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			bad(fmt.Sprintf("push.allowed_networks[%d]", i), "%q is not a CIDR", cidr)
		}
	}
	if p.Timeout.Std() < 100*time.Millisecond {
		bad("push.timeout", "must be at least 100ms")
	}
	if p.QueueSize < 1 || p.QueueSize > 10000 {
		bad("push.queue_size", "must be between 1 and 10000")
	}
	if p.RetryBackoffBase.Std() < 10*time.Millisecond {
		bad("push.retry_backoff_base", "must be at least 10ms")
	}
	if p.RetryBackoffMax.Std() < p.RetryBackoffBase.Std() {
		bad("push.retry_backoff_max", "must be at least push.retry_backoff_base")
	}
	if p.GiveUpAfter.Std() <= 0 {
		bad("push.give_up_after", "must be > 0")
	}
}
