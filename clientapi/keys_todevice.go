package clientapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

const (
	// toDeviceTxnLifetime is how long a sending device's transaction IDs
	// are remembered: a retry after that is sent again.
	toDeviceTxnLifetime = 24 * time.Hour
	// maxToDeviceMessages bounds the messages of one request.
	maxToDeviceMessages = 10000
)

type sendToDeviceRequest struct {
	Messages map[string]map[string]json.RawMessage `json:"messages"`
}

// sendToDevice is PUT /sendToDevice/{eventType}/{txnId}: idempotent per
// sending device and txnId; "*" addresses all of a user's devices.
// Messages to other servers' users go through the federation seam (the
// m.direct_to_device EDU, one per destination server); without
// federation they are dropped.
func (a *API) sendToDevice(r *http.Request) (any, error) {
	sess := roomCaller(r)
	eventType, txnID := roomPathParam(r, "eventType"), roomPathParam(r, "txnId")
	var req sendToDeviceRequest
	if err := mxhttp.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	if req.Messages == nil {
		return nil, mxcore.MissingParam("messages is required")
	}
	if err := checkToDeviceMessages(req.Messages); err != nil {
		return nil, err
	}
	ctx := r.Context()
	local, remote, err := a.toDeviceRecipients(ctx, sess.UserID, eventType, req.Messages)
	if err != nil {
		return nil, err
	}
	now := a.now()
	pos, duplicate, err := a.Store.SendToDevice(ctx, sess.UserID, sess.DeviceID, txnID, now.UnixMilli(), now.Add(-toDeviceTxnLifetime).UnixMilli(), local)
	if err != nil || duplicate {
		return struct{}{}, err
	}
	a.toDeviceSent(pos, local)
	a.sendRemoteToDevice(ctx, sess, eventType, txnID, remote)
	return struct{}{}, nil
}

func checkToDeviceMessages(messages map[string]map[string]json.RawMessage) error {
	n := 0
	for userID, devices := range messages {
		if _, err := mxcore.ParseUserID(userID); err != nil {
			return mxcore.InvalidParam("messages: " + userID + " is not a user ID")
		}
		for _, content := range devices {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(content, &obj); err != nil || obj == nil {
				return mxcore.BadJSON("messages: each message must be a JSON object")
			}
			n++
		}
	}
	if n > maxToDeviceMessages {
		return mxcore.InvalidParam("Too many messages in one request")
	}
	return nil
}

// toDeviceRecipients expands the messages to local devices (existing
// ones; "*" for all) and groups the rest by server.
func (a *API) toDeviceRecipients(ctx context.Context, sender, eventType string, messages map[string]map[string]json.RawMessage) ([]storage.ToDeviceMessage, map[string]map[string]map[string]json.RawMessage, error) {
	var local []storage.ToDeviceMessage
	remote := map[string]map[string]map[string]json.RawMessage{}
	for userID, devices := range messages {
		if server := serverOf(userID); server != a.ServerName {
			if remote[server] == nil {
				remote[server] = map[string]map[string]json.RawMessage{}
			}
			remote[server][userID] = devices
			continue
		}
		existing, err := a.Store.ListDevices(ctx, userID)
		if err != nil {
			return nil, nil, err
		}
		// An explicit message to a device wins over "*" for it.
		chosen := map[string]json.RawMessage{}
		if all, ok := devices["*"]; ok {
			for _, d := range existing {
				chosen[d.DeviceID] = all
			}
		}
		for _, d := range existing {
			if content, ok := devices[d.DeviceID]; ok {
				chosen[d.DeviceID] = content
			}
		}
		for deviceID, content := range chosen {
			local = append(local, storage.ToDeviceMessage{UserID: userID, DeviceID: deviceID, Sender: sender, Type: eventType, Content: content})
		}
	}
	return local, remote, nil
}

// toDeviceSent wakes the recipients' long-polls.
func (a *API) toDeviceSent(pos int64, msgs []storage.ToDeviceMessage) {
	if a.syncs == nil || pos <= 0 {
		return
	}
	if st, ok := a.syncs.streams[streamToDevice].(*toDeviceStream); ok {
		st.pos.advance(pos)
	}
	woken := map[string]bool{}
	for _, m := range msgs {
		if !woken[m.UserID] {
			woken[m.UserID] = true
			a.syncs.notify(streamToDevice, pos, "", m.UserID)
		}
	}
}

// sendRemoteToDevice hands other servers' messages to federation.
func (a *API) sendRemoteToDevice(ctx context.Context, sess Session, eventType, txnID string, byServer map[string]map[string]map[string]json.RawMessage) {
	for server, messages := range byServer {
		if a.RemoteE2EE == nil {
			slog.Debug("clientapi: to-device messages for another server dropped: no federation", "server", server)
			continue
		}
		// The message ID must be unique per sender; the device and txn ID are.
		messageID := sess.DeviceID + ":" + txnID
		if err := a.RemoteE2EE.SendToDevice(ctx, server, sess.UserID, eventType, messageID, messages); err != nil {
			slog.Warn("clientapi: queueing to-device messages for another server", "server", server, "err", err)
		}
	}
}
