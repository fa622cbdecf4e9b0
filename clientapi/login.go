package clientapi

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

const (
	loginTypePassword = "m.login.password"
	loginTypeJWT      = "org.matrix.login.jwt"
	// maxDeviceIDBytes bounds client-chosen device IDs.
	maxDeviceIDBytes = 255
	// maxDisplayNameBytes bounds device display names.
	maxDisplayNameBytes = 1024
	// accessTokenPrefix and refreshTokenPrefix mark Warbler's tokens for
	// secret scanners.
	accessTokenPrefix  = "wat_"
	refreshTokenPrefix = "wrt_"
)

func (a *API) loginFlows(*http.Request) (any, error) {
	flows := []map[string]any{{"type": loginTypePassword}}
	if a.JWT != nil {
		flows = append(flows, map[string]any{"type": loginTypeJWT})
	}
	if a.LoginTokens.Enabled {
		// get_login_token tells clients that are not logged in yet that a
		// logged-in one can make them a token (login_token.go).
		flows = append(flows, map[string]any{"type": loginTypeToken, "get_login_token": true})
	}
	return map[string]any{"flows": flows}, nil
}

type userIdentifier struct {
	Type string `json:"type"`
	User string `json:"user"`
}

type loginRequest struct {
	Type                     string          `json:"type"`
	Identifier               *userIdentifier `json:"identifier"`
	User                     string          `json:"user"` // deprecated form
	Password                 string          `json:"password"`
	Token                    string          `json:"token"`
	DeviceID                 string          `json:"device_id"`
	InitialDeviceDisplayName string          `json:"initial_device_display_name"`
	RefreshToken             bool            `json:"refresh_token"`
}

// loginResponse is the session /login and /register hand out.
type loginResponse struct {
	UserID       string `json:"user_id"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresInMs  int64  `json:"expires_in_ms,omitempty"`
	DeviceID     string `json:"device_id"`
	HomeServer   string `json:"home_server"`
}

// sessionRequest is what a new session is made from.
type sessionRequest struct {
	userID, deviceID, displayName string
	refresh                       bool // the client supports refresh tokens
}

func (a *API) login(r *http.Request) (any, error) {
	var req loginRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if err := checkDeviceFields(req.DeviceID, req.InitialDeviceDisplayName); err != nil {
		return nil, err
	}
	var userID string
	var err error
	switch {
	case req.Type == loginTypePassword:
		userID, err = a.passwordLogin(r, req)
	case req.Type == loginTypeJWT && a.JWT != nil:
		userID, err = a.jwtLogin(r, req.Token)
	case req.Type == loginTypeToken && a.LoginTokens.Enabled:
		userID, err = a.tokenLogin(r, req.Token)
	default:
		return nil, mxcore.Unknown("Unknown login type")
	}
	if err == nil {
		err = a.refuseLocked(r, userID)
	}
	if err != nil {
		return nil, err
	}
	return a.startSession(r, sessionRequest{userID, req.DeviceID, req.InitialDeviceDisplayName, req.RefreshToken})
}

func checkDeviceFields(deviceID, displayName string) error {
	if len(deviceID) > maxDeviceIDBytes || len(displayName) > maxDisplayNameBytes {
		return mxcore.InvalidParam("device_id or initial_device_display_name is too long")
	}
	return nil
}

// passwordLogin checks a password login and returns the user it proves.
func (a *API) passwordLogin(r *http.Request, req loginRequest) (string, error) {
	userID, err := a.loginUserID(req)
	if err != nil {
		return "", err
	}
	// Guessing spread over many addresses still meets this per-account
	// budget (the per-address one is applied by the route).
	if err := limited(a.Limits.LoginAccount, userID); err != nil {
		return "", err
	}
	user, err := a.checkPassword(r, userID, req.Password)
	return user.UserID, err
}

// loginUserID turns the identifier (a localpart or a full user ID of this
// server) into a canonical local user ID.
func (a *API) loginUserID(req loginRequest) (string, error) {
	name := req.User
	if req.Identifier != nil {
		if req.Identifier.Type != "m.id.user" {
			return "", mxcore.Unknown("Unsupported identifier type")
		}
		name = req.Identifier.User
	}
	if name == "" {
		return "", mxcore.MissingParam("Missing user identifier")
	}
	if !strings.HasPrefix(name, "@") {
		return a.userID(strings.ToLower(name)), nil
	}
	id, err := mxcore.ParseUserID(name)
	if err != nil || id.Server != a.ServerName {
		return "", mxcore.Forbidden("Invalid username or password")
	}
	return a.userID(strings.ToLower(id.Localpart)), nil
}

func (a *API) userID(localpart string) string { return "@" + localpart + ":" + a.ServerName }

// dummyHash is checked when the user does not exist, so that a login for an
// unknown user costs as long as one with a wrong password and response time
// does not reveal which accounts exist.
var dummyHash = sync.OnceValue(func() string {
	h, _ := secrets.HashPassword("warbler-timing-equaliser")
	return h
})

func (a *API) checkPassword(r *http.Request, userID, password string) (storage.User, error) {
	user, err := a.Store.GetUser(r.Context(), userID)
	if errors.Is(err, storage.ErrNotFound) {
		secrets.CheckPassword(dummyHash(), password)
		return storage.User{}, mxcore.Forbidden("Invalid username or password")
	}
	if err != nil {
		return storage.User{}, err
	}
	if !secrets.CheckPassword(user.PasswordHash, password) {
		return storage.User{}, mxcore.Forbidden("Invalid username or password")
	}
	if user.Deactivated {
		return storage.User{}, userDeactivated()
	}
	return user, nil
}

// refuseLocked keeps a locked account from getting new sessions: the spec
// has it wait for the unlock (moderation.go).
func (a *API) refuseLocked(r *http.Request, userID string) error {
	user, err := a.Store.GetUser(r.Context(), userID)
	if err == nil && user.Locked {
		return userLocked()
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil // a JWT login creating the account
	}
	return err
}

func userDeactivated() error {
	return mxcore.NewError(http.StatusForbidden, mxcore.ErrUserDeactivated, "This account has been deactivated")
}

// startSession makes (or reuses) the device and issues a new access token,
// with a refresh token and an expiry if the client supports refreshing.
// Any token the device held before is revoked.
func (a *API) startSession(r *http.Request, req sessionRequest) (loginResponse, error) {
	now := a.now()
	deviceID := req.deviceID
	if deviceID == "" {
		var err error
		if deviceID, err = secrets.NewDeviceID(); err != nil {
			return loginResponse{}, err
		}
	}
	issued, err := a.newTokens(req.refresh)
	if err != nil {
		return loginResponse{}, err
	}
	device := storage.Device{
		UserID: req.userID, DeviceID: deviceID, DisplayName: req.displayName,
		CreatedTS: now.UnixMilli(), LastSeenTS: now.UnixMilli(), LastSeenIP: clientIP(r),
	}
	created, err := a.Store.StartSession(r.Context(), device, issued.record(req.userID, deviceID))
	if err != nil {
		return loginResponse{}, err
	}
	if created {
		a.deviceAdded(r.Context(), req.userID, deviceID)
	}
	return loginResponse{
		UserID: req.userID, AccessToken: issued.access, RefreshToken: issued.refresh, ExpiresInMs: issued.expiresInMs,
		DeviceID: deviceID, HomeServer: a.ServerName,
	}, nil
}

// issuedTokens are fresh tokens in the clear, to hand to the client once.
type issuedTokens struct {
	access, refresh string
	createdTS       int64
	expiresInMs     int64 // 0: the access token does not expire
}

// newTokens makes an access token, plus a refresh token and an expiry when
// the client can refresh. Clients that cannot get a token that lasts until
// logout, since expiring it would log them out.
func (a *API) newTokens(refreshable bool) (issuedTokens, error) {
	access, err := secrets.NewToken(accessTokenPrefix)
	if err != nil {
		return issuedTokens{}, err
	}
	t := issuedTokens{access: access, createdTS: a.now().UnixMilli()}
	if !refreshable {
		return t, nil
	}
	if t.refresh, err = secrets.NewToken(refreshTokenPrefix); err != nil {
		return issuedTokens{}, err
	}
	t.expiresInMs = a.accessTokenLifetime().Milliseconds()
	return t, nil
}

// record is what storage keeps of the tokens: their hashes.
func (t issuedTokens) record(userID, deviceID string) storage.AccessToken {
	rec := storage.AccessToken{
		TokenHash: secrets.HashToken(t.access), UserID: userID, DeviceID: deviceID, CreatedTS: t.createdTS,
	}
	if t.refresh != "" {
		rec.RefreshTokenHash = secrets.HashToken(t.refresh)
		rec.ExpiresTS = t.createdTS + t.expiresInMs
	}
	return rec
}

// logout ends this session. The spec ties a device to its token, so the
// device goes too (and with it any other token it had).
func (a *API) logout(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	if err := a.Store.DeleteDevice(r.Context(), sess.UserID, sess.DeviceID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	a.forgetDevices(r.Context(), sess.UserID, []string{sess.DeviceID})
	if err := a.Store.DeleteAccessToken(r.Context(), sess.TokenHash); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	return struct{}{}, nil
}

// logoutAll ends every session of the user and removes all its devices.
func (a *API) logoutAll(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	devices, err := a.Store.ListDevices(r.Context(), sess.UserID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(devices))
	for i, d := range devices {
		ids[i] = d.DeviceID
	}
	if err := a.Store.DeleteDevices(r.Context(), sess.UserID, ids); err != nil {
		return nil, err
	}
	a.forgetDevices(r.Context(), sess.UserID, ids)
	if err := a.Store.DeleteUserAccessTokens(r.Context(), sess.UserID, ""); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
