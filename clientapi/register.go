package clientapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

const (
	// maxUserIDBytes is the spec's limit on a whole user ID.
	maxUserIDBytes = 255
	// generatedLocalpartDigits sizes the localparts made for registrations
	// without a username (and for guests).
	generatedLocalpartDigits = 12
)

type registerRequest struct {
	Auth                     json.RawMessage `json:"auth"`
	Username                 string          `json:"username"`
	Password                 string          `json:"password"`
	DeviceID                 string          `json:"device_id"`
	InitialDeviceDisplayName string          `json:"initial_device_display_name"`
	InhibitLogin             bool            `json:"inhibit_login"`
	RefreshToken             bool            `json:"refresh_token"`
}

// registeredOnly is the answer when inhibit_login is set: no session.
type registeredOnly struct {
	UserID     string `json:"user_id"`
	HomeServer string `json:"home_server"`
}

func (a *API) register(r *http.Request) (any, error) {
	switch kind := r.URL.Query().Get("kind"); kind {
	case "", "user":
	case "guest":
		return a.registerGuest(r)
	default:
		return nil, mxcore.InvalidParam("kind must be user or guest")
	}
	if !a.Registration.Enabled {
		return nil, mxcore.Forbidden("Registration is disabled")
	}
	var req registerRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	userID, err := a.checkRegistration(r.Context(), req)
	if err != nil {
		return nil, err
	}
	sess, err := a.interactiveAuth(r, uiaRequest{operation: "register", flows: a.registrationFlows(), auth: req.Auth})
	if err != nil {
		return nil, err
	}
	resp, err := a.completeRegistration(r, req, userID, sess.regToken)
	a.uia.finish(sess, err == nil)
	return resp, err
}

// registrationFlows are the stages /register asks for.
func (a *API) registrationFlows() []uiaFlow {
	if a.Registration.RequireToken {
		return []uiaFlow{{Stages: []string{stageRegistrationToken}}}
	}
	return []uiaFlow{{Stages: []string{stageDummy}}}
}

// checkRegistration vets what can be vetted before authentication, as the
// spec requires for the username, and returns the user ID asked for ("" if
// the server is to pick one).
func (a *API) checkRegistration(ctx context.Context, req registerRequest) (string, error) {
	if err := checkDeviceFields(req.DeviceID, req.InitialDeviceDisplayName); err != nil {
		return "", err
	}
	if len(req.Password) > secrets.MaxPasswordBytes {
		return "", mxcore.InvalidParam("password is too long")
	}
	if req.Username == "" {
		return "", nil
	}
	return a.availableUserID(ctx, req.Username)
}

// availableUserID maps a requested username onto a user ID of this server
// and checks that it is valid and free.
func (a *API) availableUserID(ctx context.Context, username string) (string, error) {
	userID, err := a.userIDFor(username)
	if err != nil {
		return "", err
	}
	if a.Exclusive != nil && a.Exclusive(userID) {
		return "", mxcore.NewError(http.StatusBadRequest, mxcore.ErrExclusive, "This user ID is reserved by an application service")
	}
	_, err = a.Store.GetUser(ctx, userID)
	if err == nil {
		return "", userInUse()
	}
	if !errors.Is(err, storage.ErrNotFound) {
		return "", err
	}
	return userID, nil
}

// userIDFor maps a username onto a user ID: localparts are lower-case (as
// login treats them), and what is still outside the grammar is refused.
func (a *API) userIDFor(username string) (string, error) {
	localpart := strings.ToLower(username)
	if !mxcore.ValidLocalpart(localpart, true) {
		return "", mxcore.NewError(http.StatusBadRequest, mxcore.ErrInvalidUsername,
			"User ID may only contain a-z, 0-9, and the characters . _ = - / +")
	}
	userID := a.userID(localpart)
	if len(userID) > maxUserIDBytes {
		return "", mxcore.NewError(http.StatusBadRequest, mxcore.ErrInvalidUsername, "User ID is too long")
	}
	return userID, nil
}

func userInUse() error {
	return mxcore.NewError(http.StatusBadRequest, mxcore.ErrUserInUse, "Desired user ID is already taken")
}

// completeRegistration creates the account once authentication passed,
// and the session unless the client asked not to log in.
func (a *API) completeRegistration(r *http.Request, req registerRequest, userID, regToken string) (any, error) {
	if req.Password == "" {
		return nil, mxcore.MissingParam("Missing password")
	}
	hash, err := secrets.HashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	user := storage.User{UserID: userID, PasswordHash: hash, CreatedTS: a.now().UnixMilli()}
	if user.UserID, err = a.createAccount(r.Context(), user, regToken); err != nil {
		return nil, err
	}
	if req.InhibitLogin {
		return registeredOnly{UserID: user.UserID, HomeServer: a.ServerName}, nil
	}
	return a.startSession(r, sessionRequest{user.UserID, req.DeviceID, req.InitialDeviceDisplayName, req.RefreshToken})
}

// createAccount stores a new account whose display name starts as its
// localpart. With no user ID it picks a free numeric one. It returns the
// user ID it created.
func (a *API) createAccount(ctx context.Context, user storage.User, regToken string) (string, error) {
	pick := user.UserID == ""
	for attempt := 0; ; attempt++ {
		if pick {
			user.UserID = a.userID(randomDigits(generatedLocalpartDigits))
		}
		err := a.Store.CreateAccount(ctx, storage.NewAccount{
			User: user, Profile: storage.Profile{DisplayName: localpartOf(user.UserID)}, RegistrationToken: regToken,
		})
		switch {
		case err == nil:
			return user.UserID, nil
		case !errors.Is(err, storage.ErrConflict):
			return "", err
		case !pick || attempt >= 3:
			// Taken while the client was authenticating (or, when picking,
			// a run of collisions that random IDs make vanishingly rare).
			return "", userInUse()
		}
	}
}

// localpartOf returns the localpart of a well-formed user ID.
func localpartOf(userID string) string {
	localpart, _, _ := strings.Cut(strings.TrimPrefix(userID, "@"), ":")
	return localpart
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) string {
	var b strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10)) // never fails since Go 1.24
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

// registerGuest makes a guest account. The spec has the server ignore every
// parameter but initial_device_display_name, and pick the device ID.
func (a *API) registerGuest(r *http.Request) (any, error) {
	if !a.Registration.GuestAccess {
		return nil, guestForbidden()
	}
	var req registerRequest
	if body, err := mxhttp.ReadBody(r); err != nil {
		return nil, err
	} else if len(strings.TrimSpace(string(body))) > 0 {
		if err := mxhttp.DecodeJSONBytes(body, &req); err != nil {
			return nil, err
		}
	}
	if len(req.InitialDeviceDisplayName) > maxDisplayNameBytes {
		return nil, mxcore.InvalidParam("initial_device_display_name is too long")
	}
	userID, err := a.createAccount(r.Context(), storage.User{IsGuest: true, CreatedTS: a.now().UnixMilli()}, "")
	if err != nil {
		return nil, err
	}
	return a.startSession(r, sessionRequest{userID: userID, displayName: req.InitialDeviceDisplayName})
}

func (a *API) registerAvailable(r *http.Request) (any, error) {
	username := r.URL.Query().Get("username")
	if username == "" {
		return nil, mxcore.MissingParam("Missing username")
	}
	if _, err := a.availableUserID(r.Context(), username); err != nil {
		return nil, err
	}
	return map[string]bool{"available": true}, nil
}
