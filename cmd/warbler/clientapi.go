package main

import (
	"fmt"
	"os"

	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/internal/ratelimit"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// newClientAPI turns the configuration into the client API's options.
func newClientAPI(cfg config.Config, db storage.Database, rooms *roomserver.RoomServer) (*clientapi.API, error) {
	jwt, err := newJWTVerifier(cfg.Login.JWT)
	if err != nil {
		return nil, err
	}
	return &clientapi.API{
		ServerName:    cfg.ServerName,
		Store:         db,
		Rooms:         rooms,
		ClientBaseURL: cfg.WellKnown.ClientBaseURL,
		Registration: clientapi.RegistrationOptions{
			Enabled:      cfg.Registration.Enabled,
			RequireToken: cfg.Registration.RequireToken,
			GuestAccess:  cfg.Registration.GuestAccess,
			SharedSecret: cfg.Registration.SharedSecret,
		},
		AccessTokenLifetime: cfg.Login.AccessTokenLifetime.Std(),
		JWT:                 jwt,
		Limits:              newLimits(cfg.RateLimits),
		PresenceDisabled:    !cfg.Presence.Enabled,
		SearchAllUsers:      cfg.UserDirectory.SearchAllUsers,
		TURN:                clientapi.TURNOptions{URIs: cfg.VoIP.TurnURIs, SharedSecret: cfg.VoIP.TurnSharedSecret, UserLifetime: cfg.VoIP.TurnUserLifetime.Std()},
		LoginTokens:         clientapi.LoginTokenOptions{Enabled: cfg.Login.GetToken.Enabled, Lifetime: cfg.Login.GetToken.Lifetime.Std()},
		Support:             supportInfo(cfg.WellKnown.Support),
	}, nil
}

// supportInfo lists the configured contacts under their spec roles.
func supportInfo(s config.Support) clientapi.SupportInfo {
	return clientapi.SupportInfo{
		Contacts: []clientapi.SupportContact{
			{Role: "m.role.admin", MatrixID: s.Admin.MatrixID, EmailAddress: s.Admin.EmailAddress},
			{Role: "m.role.security", MatrixID: s.Security.MatrixID, EmailAddress: s.Security.EmailAddress},
		},
		Page: s.Page,
	}
}

// newJWTVerifier reads the issuer's key; nil when JWT login is off.
func newJWTVerifier(cfg config.JWT) (*clientapi.JWTVerifier, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	opts := clientapi.JWTOptions{
		Algorithm: cfg.Algorithm, Secret: cfg.Secret,
		Issuer: cfg.Issuer, Audience: cfg.Audience, CreateUsers: cfg.CreateUsers,
	}
	if !cfg.UsesSecret() {
		pem, err := os.ReadFile(cfg.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("login.jwt.public_key_file: %w", err)
		}
		opts.PublicKeyPEM = pem
	}
	return clientapi.NewJWTVerifier(opts)
}

// newLimits builds the rate limiters; with rate limiting off they stay nil,
// which limits nothing.
func newLimits(cfg config.RateLimits) clientapi.Limits {
	if !cfg.Enabled {
		return clientapi.Limits{}
	}
	limiter := func(l config.RateLimit) *ratelimit.Limiter { return ratelimit.New(l.PerSecond, l.Burst) }
	return clientapi.Limits{
		Login:        limiter(cfg.Login),
		LoginAccount: limiter(cfg.LoginAccount),
		Register:     limiter(cfg.Register),
		Send:         limiter(cfg.Send),
		Join:         limiter(cfg.Join),
	}
}
