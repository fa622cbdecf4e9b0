package storage

import "context"

// RemoteServerKey is one signing key of another server, as this server last
// learned it from that server's key response (directly or via a notary).
type RemoteServerKey struct {
	ServerName string
	KeyID      string // e.g. "ed25519:abc"
	PublicKey  []byte // raw 32-byte ed25519 public key
	// ValidUntilTS is the valid_until_ts of the newest response that listed
	// the key in verify_keys (Unix milliseconds); 0 if none did.
	ValidUntilTS int64
	// ExpiredTS is the expired_ts under old_verify_keys (Unix
	// milliseconds); 0 while the server lists the key as current.
	ExpiredTS int64
	// FetchedTS is when the response the row came from was fetched.
	FetchedTS int64
}

// RemoteKeyResponse is a remote server's signed key response
// (/_matrix/key/v2/server) kept whole, with the server's own signature, so
// that this server can hand it on as a notary.
type RemoteKeyResponse struct {
	ServerName   string
	JSON         []byte
	ValidUntilTS int64 // Unix milliseconds
	FetchedTS    int64 // Unix milliseconds
}

// RemoteServerKeyStore keeps what this server knows of other servers'
// signing keys, so that a restart does not refetch them and events signed
// with keys their servers no longer publish can still be verified.
type RemoteServerKeyStore interface {
	// StoreRemoteServerKeys records keys, replacing earlier rows with the
	// same server name and key ID, and, when resp.JSON is not empty, the
	// response, replacing the one stored for resp.ServerName. It is one
	// transaction.
	StoreRemoteServerKeys(ctx context.Context, resp RemoteKeyResponse, keys []RemoteServerKey) error
	// RemoteServerKeys returns the stored keys of a server ordered by key
	// ID; an unknown server has none.
	RemoteServerKeys(ctx context.Context, serverName string) ([]RemoteServerKey, error)
	// RemoteKeyResponse returns the stored response of a server;
	// ErrNotFound if there is none.
	RemoteKeyResponse(ctx context.Context, serverName string) (RemoteKeyResponse, error)
}
