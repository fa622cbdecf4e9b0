package config

import (
	"fmt"
	"strings"
	"time"
)

// VoIP configures /voip/turnServer: the TURN servers clients use for
// calls, and the shared secret of the TURN REST API (as coturn's
// use-auth-secret), from which time-limited credentials are derived.
type VoIP struct {
	TurnURIs         []string `yaml:"turn_uris"`
	TurnSharedSecret string   `yaml:"turn_shared_secret"`
	TurnUserLifetime Duration `yaml:"turn_user_lifetime"`
}

// defaultTurnUserLifetime is how long TURN credentials stay valid.
const defaultTurnUserLifetime = Duration(time.Hour)

func (c *Config) validateVoIP(bad func(path, format string, args ...any)) {
	for i, uri := range c.VoIP.TurnURIs {
		if !strings.HasPrefix(uri, "turn:") && !strings.HasPrefix(uri, "turns:") {
			bad(fmt.Sprintf("voip.turn_uris[%d]", i), "%q is not a turn: or turns: URI", uri)
		}
	}
	if c.VoIP.TurnUserLifetime.Std() < time.Minute {
		bad("voip.turn_user_lifetime", "must be at least 1m")
	}
}
