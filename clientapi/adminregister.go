package clientapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Shared-secret admin registration, the API that register_new_matrix_user
// and similar provisioning tools speak: GET a nonce, then POST the new
// account with an HMAC-SHA1, keyed by the shared secret, over
//
//	nonce \0 username \0 password \0 "admin" or "notadmin" [\0 user_type]
const (
	nonceLifetime = time.Minute
	maxNonces     = 10_000
)

func (a *API) adminNonce(*http.Request) (any, error) {
	if a.Registration.SharedSecret == "" {
		return nil, sharedSecretOff()
	}
	return map[string]string{"nonce": a.nonces.issue()}, nil
}

func sharedSecretOff() error { return mxcore.Unknown("Shared secret registration is not enabled") }

type adminRegisterRequest struct {
	Nonce       string  `json:"nonce"`
	Username    string  `json:"username"`
	Password    string  `json:"password"`
	DisplayName string  `json:"displayname"`
	Admin       bool    `json:"admin"`
	UserType    *string `json:"user_type"`
	MAC         string  `json:"mac"`
}

func (a *API) adminRegister(r *http.Request) (any, error) {
	if a.Registration.SharedSecret == "" {
		return nil, sharedSecretOff()
	}
	// Wrong MACs draw on the client address's login budget, so the secret
	// cannot be guessed at speed; provisioning with the right one is free.
	if ok, wait := a.Limits.Login.Check(addressKey(r)); !ok {
		return nil, limitExceeded(wait)
	}
	var req adminRegisterRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Nonce == "" || req.Username == "" || req.Password == "" || req.MAC == "" {
		return nil, mxcore.MissingParam("nonce, username, password and mac are required")
	}
	if !a.nonces.redeem(req.Nonce) {
		return nil, mxcore.Unknown("Unrecognised nonce")
	}
	if !checkRegistrationMAC(a.Registration.SharedSecret, req) {
		a.Limits.Login.Allow(addressKey(r))
		return nil, mxcore.Forbidden("HMAC incorrect")
	}
	return a.createAdminRequested(r, req)
}

// registrationMAC is the hex HMAC-SHA1 the tools compute.
func registrationMAC(secret string, req adminRegisterRequest) string {
	mac := hmac.New(sha1.New, []byte(secret))
	admin := "notadmin"
	if req.Admin {
		admin = "admin"
	}
	parts := []string{req.Nonce, req.Username, req.Password, admin}
	if req.UserType != nil {
		parts = append(parts, *req.UserType)
	}
	for i, p := range parts {
		if i > 0 {
			mac.Write([]byte{0})
		}
		mac.Write([]byte(p))
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// checkRegistrationMAC compares in constant time, so response timing does
// not reveal how much of a guessed MAC was right.
func checkRegistrationMAC(secret string, req adminRegisterRequest) bool {
	got, err := hex.DecodeString(req.MAC)
	if err != nil {
		return false
	}
	want, _ := hex.DecodeString(registrationMAC(secret, req))
	return hmac.Equal(got, want)
}

// createAdminRequested creates the account the tool asked for and logs it
// in on a new device, as the tools expect an access token back.
func (a *API) createAdminRequested(r *http.Request, req adminRegisterRequest) (any, error) {
	userID, err := a.userIDFor(req.Username)
	if err != nil {
		return nil, err
	}
	if len(req.Password) > secrets.MaxPasswordBytes || len(req.DisplayName) > maxDisplayNameBytes {
		return nil, mxcore.InvalidParam("password or displayname is too long")
	}
	hash, err := secrets.HashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	displayName := req.DisplayName
	if displayName == "" {
		displayName = localpartOf(userID)
	}
	err = a.Store.CreateAccount(r.Context(), storage.NewAccount{
		User:    storage.User{UserID: userID, PasswordHash: hash, IsAdmin: req.Admin, CreatedTS: a.now().UnixMilli()},
		Profile: storage.Profile{DisplayName: displayName},
	})
	if errors.Is(err, storage.ErrConflict) {
		return nil, userInUse()
	}
	if err != nil {
		return nil, err
	}
	return a.startSession(r, sessionRequest{userID: userID})
}

// nonceStore hands out single-use nonces that expire after nonceLifetime.
type nonceStore struct {
	mu     sync.Mutex
	issued map[string]time.Time
	now    func() time.Time
}

func newNonceStore(now func() time.Time) *nonceStore {
	return &nonceStore{issued: make(map[string]time.Time), now: now}
}

func (s *nonceStore) issue() string {
	raw := make([]byte, 16)
	rand.Read(raw) // never fails since Go 1.24
	nonce := hex.EncodeToString(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.issued) >= maxNonces {
		s.dropExpiredLocked()
	}
	if len(s.issued) >= maxNonces {
		// Unauthenticated callers can ask for nonces freely; past the bound
		// the oldest makes room rather than memory growing.
		s.dropOldestLocked()
	}
	s.issued[nonce] = s.now()
	return nonce
}

// redeem reports whether nonce was issued and is fresh, and spends it
// either way, so each nonce allows exactly one attempt.
func (s *nonceStore) redeem(nonce string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.issued[nonce]
	delete(s.issued, nonce)
	return ok && s.now().Sub(at) <= nonceLifetime
}

func (s *nonceStore) dropExpiredLocked() {
	now := s.now()
	for nonce, at := range s.issued {
		if now.Sub(at) > nonceLifetime {
			delete(s.issued, nonce)
		}
	}
}

func (s *nonceStore) dropOldestLocked() {
	var oldest string
	var oldestAt time.Time
	for nonce, at := range s.issued {
		if oldest == "" || at.Before(oldestAt) {
			oldest, oldestAt = nonce, at
		}
	}
	delete(s.issued, oldest)
}
