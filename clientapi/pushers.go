package clientapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Pushers (pusher.yaml) are stored and listed here; push_deliver.go
// sends http pushers their notifications.

// Field bounds from pusher.yaml (app_id and pushkey at most 64 and 512
// bytes) and our own for the rest.
const (
	maxAppIDLen     = 64
	maxPushKeyLen   = 512
	maxPusherText   = 512
	maxPusherData   = 4096
	maxPushersOfOne = 50
)

func (a *API) mountPushers(r chi.Router) {
	r.Get("/pushers", a.handle(a.getPushers))
	r.Post("/pushers/set", a.handle(a.setPusher))
}

type pusherJSON struct {
	AppID             string          `json:"app_id"`
	PushKey           string          `json:"pushkey"`
	Kind              *string         `json:"kind"`
	AppDisplayName    string          `json:"app_display_name"`
	DeviceDisplayName string          `json:"device_display_name"`
	ProfileTag        string          `json:"profile_tag,omitempty"`
	Lang              string          `json:"lang"`
	Data              json.RawMessage `json:"data"`
	Append            bool            `json:"append,omitempty"`
}

func (a *API) getPushers(r *http.Request) (any, error) {
	sess, _ := SessionFrom(r.Context())
	ps, err := a.Store.Pushers(r.Context(), sess.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]pusherJSON, 0, len(ps))
	for _, p := range ps {
		kind := p.Kind
		out = append(out, pusherJSON{AppID: p.AppID, PushKey: p.PushKey, Kind: &kind, AppDisplayName: p.AppDisplayName,
			DeviceDisplayName: p.DeviceDisplayName, ProfileTag: p.ProfileTag, Lang: p.Lang, Data: p.Data})
	}
	return map[string]any{"pushers": out}, nil
}

// setPusher is POST /pushers/set: kind null deletes the pusher.
func (a *API) setPusher(r *http.Request) (any, error) {
	var body pusherJSON
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	sess, _ := SessionFrom(r.Context())
	if body.AppID == "" || body.PushKey == "" {
		return nil, mxcore.MissingParam("app_id and pushkey are required")
	}
	if len(body.AppID) > maxAppIDLen || len(body.PushKey) > maxPushKeyLen {
		return nil, mxcore.InvalidParam("app_id or pushkey is too long")
	}
	if body.Kind == nil {
		defer a.forgetPushers(sess.UserID)
		return struct{}{}, a.Store.DeletePusher(r.Context(), sess.UserID, body.AppID, body.PushKey)
	}
	if err := checkPusher(body, a.AllowHTTPGateways); err != nil {
		return nil, err
	}
	existing, err := a.Store.Pushers(r.Context(), sess.UserID)
	if err != nil {
		return nil, err
	}
	if len(existing) >= maxPushersOfOne {
		return nil, mxcore.Unknown("too many pushers")
	}
	p := storage.Pusher{UserID: sess.UserID, AppID: body.AppID, PushKey: body.PushKey, Kind: *body.Kind,
		AppDisplayName: body.AppDisplayName, DeviceDisplayName: body.DeviceDisplayName, ProfileTag: body.ProfileTag,
		Lang: body.Lang, Data: body.Data, CreatedTS: a.now().UnixMilli()}
	// Without append the pushkey leaves other users too: forget them all.
	forget := sess.UserID
	if !body.Append {
		forget = ""
	}
	defer a.forgetPushers(forget)
	return struct{}{}, a.Store.SetPusher(r.Context(), p, body.Append)
}

// forgetPushers tells delivery that userID's pushers (or, for "",
// anyone's) changed.
func (a *API) forgetPushers(userID string) {
	if a.deliver != nil {
		a.deliver.forgetPushers(userID)
	}
}

// PusherRejected deletes a pusher whose pushkey its push gateway
// rejected (push gateway API: the homeserver must remove it); wire it as
// the PushSender's rejection callback.
func (a *API) PusherRejected(ctx context.Context, userID, appID, pushKey string) {
	defer a.forgetPushers(userID)
	if err := a.Store.DeletePusher(ctx, userID, appID, pushKey); err != nil {
		slog.Warn("push: deleting a rejected pusher failed", "user", userID, "app_id", appID, "err", err)
	}
}

// checkPusher applies pusher.yaml: kind http or email, the display names,
// lang and data required, and an http pusher's data.url an HTTPS URL with
// the path /_matrix/push/v1/notify.
func checkPusher(p pusherJSON, allowHTTP bool) error {
	switch {
	case *p.Kind != "http" && *p.Kind != "email":
		return mxcore.InvalidParam("kind must be http, email or null")
	case p.AppDisplayName == "" || p.DeviceDisplayName == "" || p.Lang == "" || len(p.Data) == 0:
		return mxcore.MissingParam("app_display_name, device_display_name, lang and data are required")
	case len(p.AppDisplayName) > maxPusherText || len(p.DeviceDisplayName) > maxPusherText ||
		len(p.ProfileTag) > maxPusherText || len(p.Lang) > maxPusherText || len(p.Data) > maxPusherData:
		return mxcore.InvalidParam("a pusher field is too long")
	}
	var data struct {
		URL *string `json:"url"`
	}
	if json.Unmarshal(p.Data, &data) != nil {
		return mxcore.BadJSON("data must be an object")
	}
	if *p.Kind == "http" && (data.URL == nil || !validGatewayURL(*data.URL, allowHTTP)) {
		return mxcore.InvalidParam("an http pusher needs data.url, the push gateway's /_matrix/push/v1/notify URL")
	}
	return nil
}

func validGatewayURL(raw string, allowHTTP bool) bool {
	u, err := url.Parse(raw)
	scheme := err == nil && (u.Scheme == "https" || allowHTTP && u.Scheme == "http")
	return scheme && u.Host != "" && u.User == nil && u.Path == "/_matrix/push/v1/notify"
}
