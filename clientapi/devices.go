package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// clientDevice is a device as the client API shows it; empty fields are
// left out, as the spec marks them optional.
type clientDevice struct {
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"display_name,omitempty"`
	LastSeenIP  string `json:"last_seen_ip,omitempty"`
	LastSeenTS  int64  `json:"last_seen_ts,omitempty"`
}

func toClientDevice(d storage.Device) clientDevice {
	return clientDevice{DeviceID: d.DeviceID, DisplayName: d.DisplayName, LastSeenIP: d.LastSeenIP, LastSeenTS: d.LastSeenTS}
}

func (a *API) listDevices(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	devices, err := a.Store.ListDevices(r.Context(), sess.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]clientDevice, len(devices))
	for i, d := range devices {
		out[i] = toClientDevice(d)
	}
	return map[string]any{"devices": out}, nil
}

func (a *API) getDevice(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	d, err := a.Store.GetDevice(r.Context(), sess.UserID, chi.URLParam(r, "deviceId"))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, deviceNotFound()
	}
	if err != nil {
		return nil, err
	}
	return toClientDevice(d), nil
}

func deviceNotFound() error { return mxcore.NotFound("The current user has no device with this ID") }

// updateDevice renames one of the caller's devices. Creating devices this
// way is for application services only, so an unknown device is a 404.
func (a *API) updateDevice(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	var req struct {
		DisplayName *string `json:"display_name"`
	}
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	deviceID := chi.URLParam(r, "deviceId")
	if req.DisplayName == nil {
		_, err := a.Store.GetDevice(r.Context(), sess.UserID, deviceID)
		return emptyUnlessNotFound(err)
	}
	if len(*req.DisplayName) > maxDisplayNameBytes {
		return nil, mxcore.InvalidParam("display_name is too long")
	}
	if err := a.Store.SetDeviceDisplayName(r.Context(), sess.UserID, deviceID, *req.DisplayName); err != nil {
		return emptyUnlessNotFound(err)
	}
	a.deviceRenamed(r.Context(), sess.UserID, deviceID)
	return struct{}{}, nil
}

func emptyUnlessNotFound(err error) (any, error) {
	if errors.Is(err, storage.ErrNotFound) {
		return nil, deviceNotFound()
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

type deleteDevicesRequest struct {
	Devices *[]string       `json:"devices"`
	Auth    json.RawMessage `json:"auth"`
}

func (a *API) deleteDevice(r *http.Request) (any, error) {
	var req deleteDevicesRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		return nil, err
	}
	return a.removeDevices(r, []string{chi.URLParam(r, "deviceId")}, req.Auth)
}

func (a *API) deleteDevices(r *http.Request) (any, error) {
	var req deleteDevicesRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Devices == nil {
		return nil, mxcore.MissingParam("Missing devices")
	}
	return a.removeDevices(r, *req.Devices, req.Auth)
}

// removeDevices deletes devices (and their tokens) after the password is
// proven. The UIA session is bound to the exact set of devices, so stages
// passed to delete one device cannot delete others.
func (a *API) removeDevices(r *http.Request, deviceIDs []string, auth json.RawMessage) (any, error) {
	sorted := slices.Clone(deviceIDs)
	slices.Sort(sorted)
	operation, accountID, _ := accountOperation(r, "delete devices "+strings.Join(sorted, "\x00"))
	sess, err := a.interactiveAuth(r, uiaRequest{operation: operation, flows: passwordFlows, auth: auth, accountID: accountID})
	if err != nil {
		return nil, err
	}
	// Devices already gone are not an error: the spec answers 200 for
	// them. Only those that existed are announced as deleted.
	existing, err := a.deviceIDs(r.Context(), accountID)
	if err == nil {
		err = a.Store.DeleteDevices(r.Context(), accountID, deviceIDs)
	}
	a.uia.finish(sess, err == nil)
	if err != nil {
		return nil, err
	}
	asked := asSet(deviceIDs)
	a.forgetDevices(r.Context(), accountID, slices.DeleteFunc(existing, func(d string) bool { return !asked[d] }))
	return struct{}{}, nil
}
