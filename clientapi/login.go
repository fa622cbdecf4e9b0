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
	// maxDeviceIDBytes bounds client-chosen device IDs.
	maxDeviceIDBytes = 255
	// maxDisplayNameBytes bounds device display names.
	maxDisplayNameBytes = 1024
	// accessTokenPrefix marks Warbler access tokens for secret scanners.
	accessTokenPrefix = "wat_"
)

func loginFlows(*http.Request) (any, error) {
	return map[string]any{"flows": []map[string]string{{"type": loginTypePassword}}}, nil
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
	DeviceID                 string          `json:"device_id"`
	InitialDeviceDisplayName string          `json:"initial_device_display_name"`
}

type loginResponse struct {
	UserID      string `json:"user_id"`
	AccessToken string `json:"access_token"`
	DeviceID    string `json:"device_id"`
	HomeServer  string `json:"home_server"`
}

func (a *API) login(r *http.Request) (any, error) {
	var req loginRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Type != loginTypePassword {
		return nil, mxcore.Unknown("Unknown login type")
	}
	if len(req.DeviceID) > maxDeviceIDBytes || len(req.InitialDeviceDisplayName) > maxDisplayNameBytes {
		return nil, mxcore.InvalidParam("device_id or initial_device_display_name is too long")
	}
	userID, err := a.loginUserID(req)
	if err != nil {
		return nil, err
	}
	user, err := a.checkPassword(r, userID, req.Password)
	if err != nil {
		return nil, err
	}
	return a.startSession(r, user.UserID, req.DeviceID, req.InitialDeviceDisplayName)
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
		return "@" + strings.ToLower(name) + ":" + a.ServerName, nil
	}
	id, err := mxcore.ParseUserID(name)
	if err != nil || id.Server != a.ServerName {
		return "", mxcore.Forbidden("Invalid username or password")
	}
	return "@" + strings.ToLower(id.Localpart) + ":" + a.ServerName, nil
}

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
		return storage.User{}, mxcore.NewError(http.StatusForbidden, mxcore.ErrUserDeactivated, "This account has been deactivated")
	}
	return user, nil
}

// startSession makes (or reuses) the device and issues a new access token.
func (a *API) startSession(r *http.Request, userID, deviceID, displayName string) (loginResponse, error) {
	ctx := r.Context()
	now := a.now().UnixMilli()
	if deviceID == "" {
		var err error
		if deviceID, err = secrets.NewDeviceID(); err != nil {
			return loginResponse{}, err
		}
	}
	_, err := a.Store.GetDevice(ctx, userID, deviceID)
	if errors.Is(err, storage.ErrNotFound) {
		err = a.Store.CreateDevice(ctx, storage.Device{
			UserID: userID, DeviceID: deviceID, DisplayName: displayName, CreatedTS: now, LastSeenTS: now,
		})
	}
	if err != nil {
		return loginResponse{}, err
	}
	token, err := secrets.NewToken(accessTokenPrefix)
	if err != nil {
		return loginResponse{}, err
	}
	err = a.Store.CreateAccessToken(ctx, storage.AccessToken{
		TokenHash: secrets.HashToken(token), UserID: userID, DeviceID: deviceID, CreatedTS: now,
	})
	if err != nil {
		return loginResponse{}, err
	}
	return loginResponse{UserID: userID, AccessToken: token, DeviceID: deviceID, HomeServer: a.ServerName}, nil
}

func (a *API) whoami(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	return map[string]any{"user_id": sess.UserID, "device_id": sess.DeviceID, "is_guest": false}, nil
}

// logout ends this session. The spec ties a device to its token, so the
// device goes too (and with it any other token it had).
func (a *API) logout(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	if err := a.Store.DeleteDevice(r.Context(), sess.UserID, sess.DeviceID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
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
	if err := a.Store.DeleteUserAccessTokens(r.Context(), sess.UserID, ""); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
