package federation

import (
	"crypto/ed25519"
	"time"

	"github.com/warbler-im/warbler/storage"
)

// Config is what New takes from the server's configuration.
type Config struct {
	ServerName  string
	KeyID       string
	PrivateKey  ed25519.PrivateKey
	KeyValidity time.Duration // signing_key.validity
	Store       Store
	// federation.* settings
	TrustedCAFile      string
	InsecureSkipVerify bool
	AllowedNetworks    []string
	KeyNotaries        []string
	WellKnownServer    string // well_known.server
}

// Store is the storage federation uses.
type Store interface {
	storage.ServerKeyStore
	storage.RemoteServerKeyStore
}

// Federation is the server-server side of one homeserver: the outbound
// client, the keyring of other servers' keys, and the endpoints.
type Federation struct {
	Client  *Client
	Keyring *Keyring
	Routes  *Routes
}

// New assembles the federation parts from cfg.
func New(cfg Config) (*Federation, error) {
	client, err := NewClient(ClientConfig{
		ServerName: cfg.ServerName, KeyID: cfg.KeyID, PrivateKey: cfg.PrivateKey,
		TrustedCAFile: cfg.TrustedCAFile, InsecureSkipVerify: cfg.InsecureSkipVerify, AllowedNetworks: cfg.AllowedNetworks,
	})
	if err != nil {
		return nil, err
	}
	self := &KeyServer{
		ServerName: cfg.ServerName, KeyID: cfg.KeyID, Private: cfg.PrivateKey,
		Validity: cfg.KeyValidity, Store: cfg.Store, Now: time.Now,
	}
	keyring := NewKeyring(KeyringConfig{Self: self, Store: cfg.Store, Client: client, Notaries: cfg.KeyNotaries})
	routes := &Routes{
		Keys:            self,
		Notary:          &Notary{Keyring: keyring, Self: self},
		Auth:            &Authenticator{ServerName: cfg.ServerName, Keys: keyring},
		WellKnownServer: cfg.WellKnownServer,
	}
	return &Federation{Client: client, Keyring: keyring, Routes: routes}, nil
}
