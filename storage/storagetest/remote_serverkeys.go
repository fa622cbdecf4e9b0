package storagetest

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// testRemoteServerKeys stores two servers' keys, replaces one key's row as
// a refetch would, and reopens: rows are per server, replaced per key ID,
// never dropped, and survive a restart; responses are one per server.
func testRemoteServerKeys(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const remote, other = "remote.example.org", "other.example.org:8448"

	keys, err := db.RemoteServerKeys(ctx, remote)
	noErr(t, "RemoteServerKeys of an unknown server", err)
	wantEqual(t, "RemoteServerKeys of an unknown server", keys, []storage.RemoteServerKey{})
	_, err = db.RemoteKeyResponse(ctx, remote)
	wantErr(t, "RemoteKeyResponse of an unknown server", err, storage.ErrNotFound)

	current := storage.RemoteServerKey{ServerName: remote, KeyID: "ed25519:b", PublicKey: pubKey('b'),
		ValidUntilTS: baseTS + 86_400_000, FetchedTS: baseTS}
	old := storage.RemoteServerKey{ServerName: remote, KeyID: "ed25519:a", PublicKey: pubKey('a'),
		ExpiredTS: baseTS - 1000, FetchedTS: baseTS}
	first := storage.RemoteKeyResponse{ServerName: remote, JSON: []byte(`{"server_name":"remote.example.org","n":1}`),
		ValidUntilTS: current.ValidUntilTS, FetchedTS: baseTS}
	noErr(t, "StoreRemoteServerKeys", db.StoreRemoteServerKeys(ctx, first, []storage.RemoteServerKey{current, old}))
	otherKey := storage.RemoteServerKey{ServerName: other, KeyID: "ed25519:b", PublicKey: pubKey('o'), FetchedTS: baseTS}
	noErr(t, "StoreRemoteServerKeys without a response",
		db.StoreRemoteServerKeys(ctx, storage.RemoteKeyResponse{ServerName: other}, []storage.RemoteServerKey{otherKey}))

	// A refetch: key b is now expired, and a newer response replaces the first.
	current.ExpiredTS, current.FetchedTS = baseTS+5000, baseTS+6000
	second := storage.RemoteKeyResponse{ServerName: remote, JSON: []byte(`{"server_name":"remote.example.org","n":2}`),
		ValidUntilTS: baseTS + 2*86_400_000, FetchedTS: baseTS + 6000}
	noErr(t, "StoreRemoteServerKeys again", db.StoreRemoteServerKeys(ctx, second, []storage.RemoteServerKey{current}))

	for round := 0; round < 2; round++ {
		if round == 1 {
			noErr(t, "Close", db.Close())
			db = openDB(t, open)
		}
		wantRemoteKeys(t, db, remote, old, current)
		wantRemoteKeys(t, db, other, otherKey)
		got, err := db.RemoteKeyResponse(ctx, remote)
		noErr(t, "RemoteKeyResponse", err)
		wantEqual(t, "RemoteKeyResponse", got, second)
		_, err = db.RemoteKeyResponse(ctx, other)
		wantErr(t, "RemoteKeyResponse of a server stored without one", err, storage.ErrNotFound)
	}
}

func wantRemoteKeys(t *testing.T, db storage.Database, server string, want ...storage.RemoteServerKey) {
	t.Helper()
	got, err := db.RemoteServerKeys(t.Context(), server)
	noErr(t, "RemoteServerKeys("+server+")", err)
	wantEqual(t, "RemoteServerKeys("+server+")", got, want)
}

// pubKey is a stand-in 32-byte public key, distinct per fill byte.
func pubKey(fill byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = fill
	}
	return k
}
