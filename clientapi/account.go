package clientapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/internal/secrets"
	"github.com/warbler-im/warbler/mxcore"
)

func (a *API) whoami(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	guest, err := a.isGuest(r.Context(), sess.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"user_id": sess.UserID, "device_id": sess.DeviceID, "is_guest": guest}, nil
}

// decodeOptionalJSON is DecodeJSON for endpoints whose first call clients
// often send without a body, to learn the auth flows.
func decodeOptionalJSON(r *http.Request, dst any) error {
	body, err := mxhttp.ReadBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return mxhttp.DecodeJSONBytes(body, dst)
}

// accountOperation names what a UIA session on an account endpoint may
// authorise: the action and the caller ("" when unauthenticated).
func accountOperation(r *http.Request, action string) (operation, accountID, deviceID string) {
	sess, _ := SessionFrom(r.Context())
	return action + " " + sess.UserID, sess.UserID, sess.DeviceID
}

type passwordRequest struct {
	NewPassword   string          `json:"new_password"`
	LogoutDevices *bool           `json:"logout_devices"`
	Auth          json.RawMessage `json:"auth"`
}

// changePassword sets a new password after the old one is proven. Other
// devices are logged out unless the client asks otherwise; the caller's
// own session stays, as the spec asks.
func (a *API) changePassword(r *http.Request) (any, error) {
	var req passwordRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return nil, err
	}
	if req.NewPassword == "" {
		return nil, mxcore.MissingParam("Missing new_password")
	}
	if len(req.NewPassword) > secrets.MaxPasswordBytes {
		return nil, mxcore.InvalidParam("new_password is too long")
	}
	operation, accountID, deviceID := accountOperation(r, "change password")
	sess, err := a.interactiveAuth(r, uiaRequest{operation: operation, flows: passwordFlows, auth: req.Auth, accountID: accountID})
	if err != nil {
		return nil, err
	}
	err = a.setPassword(r, sess.userID, req.NewPassword, req.LogoutDevices == nil || *req.LogoutDevices, deviceID)
	a.uia.finish(sess, err == nil)
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// setPassword hashes and stores the new password, logging out every device
// but keepDeviceID when asked.
func (a *API) setPassword(r *http.Request, userID, password string, logout bool, keepDeviceID string) error {
	hash, err := secrets.HashPassword(password)
	if err != nil {
		return err
	}
	var gone []string
	if logout {
		if gone, err = a.deviceIDs(r.Context(), userID); err != nil {
			return err
		}
		gone = slices.DeleteFunc(gone, func(d string) bool { return d == keepDeviceID })
	}
	if err := a.Store.ChangePassword(r.Context(), userID, hash, logout, keepDeviceID); err != nil {
		return err
	}
	a.forgetDevices(r.Context(), userID, gone)
	return nil
}

// deviceIDs lists the IDs of a user's devices.
func (a *API) deviceIDs(ctx context.Context, userID string) ([]string, error) {
	devices, err := a.Store.ListDevices(ctx, userID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(devices))
	for i, d := range devices {
		ids[i] = d.DeviceID
	}
	return ids, nil
}

type deactivateRequest struct {
	Auth     json.RawMessage `json:"auth"`
	IDServer string          `json:"id_server"`
	Erase    bool            `json:"erase"`
}

// deactivate closes the account for good: it can no longer log in, its
// devices and tokens go, and its profile is cleared. With erase, the
// request is recorded for the room code to serve redacted history to later
// joiners; leaving the account's rooms comes with rooms.
func (a *API) deactivate(r *http.Request) (any, error) {
	var req deactivateRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return nil, err
	}
	operation, accountID, _ := accountOperation(r, "deactivate")
	sess, err := a.interactiveAuth(r, uiaRequest{operation: operation, flows: passwordFlows, auth: req.Auth, accountID: accountID})
	if err != nil {
		return nil, err
	}
	devices, err := a.deviceIDs(r.Context(), sess.userID)
	if err == nil {
		err = a.Store.DeactivateAccount(r.Context(), sess.userID, req.Erase, a.now().UnixMilli())
	}
	a.uia.finish(sess, err == nil)
	if err != nil {
		return nil, err
	}
	a.forgetAccountKeys(r.Context(), sess.userID, devices)
	// No third-party identifiers are ever bound, and the spec has the
	// result be "success" when there is nothing to unbind.
	return map[string]string{"id_server_unbind_result": "success"}, nil
}
