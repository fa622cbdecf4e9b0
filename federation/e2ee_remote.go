package federation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/warbler-im/warbler/storage"
)

// The client side of other servers' keys: /keys/query and /keys/claim of
// local clients reach them through QueryKeys and ClaimKeys, and
// /sendToDevice through SendToDevice.

// maxRemoteDevices bounds the devices kept or accepted for one remote user.
const maxRemoteDevices = 1000

// QueryKeys answers a key query about server's users: from the cached
// device lists of users this server tracks, and by POST
// /user/keys/query for the rest (and for lists gone stale).
//
// When server cannot answer, QueryKeys returns what the cache knows
// with the error, so the caller reports server in failures and still
// serves those keys: fresh lists, and stale ones too. A stale list is
// the last one the server sent; the failure tells the client it may be
// out of date and the query worth repeating.
func (e *E2EE) QueryKeys(ctx context.Context, server string, deviceKeys map[string][]string) (DeviceKeysAnswer, error) {
	answer := DeviceKeysAnswer{DeviceKeys: map[string]map[string]json.RawMessage{},
		MasterKeys: map[string]json.RawMessage{}, SelfSigningKeys: map[string]json.RawMessage{}}
	users := make([]string, 0, len(deviceKeys))
	for u := range deviceKeys {
		if senderServer(u) == server {
			users = append(users, u)
		}
	}
	cached, err := e.cfg.Store.RemoteDeviceLists(ctx, users)
	if err != nil {
		return answer, err
	}
	ask := map[string][]string{}
	for _, u := range users {
		list, ok := cached[u]
		if !ok || list.Stale {
			ask[u] = deviceKeys[u]
			continue
		}
		addCachedKeys(&answer, list, deviceKeys[u])
	}
	if len(ask) == 0 {
		return answer, nil
	}
	var got DeviceKeysAnswer
	if err := e.post(ctx, server, "/_matrix/federation/v1/user/keys/query", map[string]any{"device_keys": ask}, &got); err != nil {
		for u := range ask {
			if list, ok := cached[u]; ok {
				addCachedKeys(&answer, list, deviceKeys[u])
			}
		}
		return answer, err
	}
	mergeRemoteKeys(&answer, got, ask)
	return answer, nil
}

// addCachedKeys adds a cached list's keys (devices asked for, or all)
// with the display names as unsigned.device_display_name.
func addCachedKeys(answer *DeviceKeysAnswer, list storage.RemoteDeviceList, asked []string) {
	wanted := map[string]bool{}
	for _, d := range asked {
		wanted[d] = true
	}
	devices := map[string]json.RawMessage{}
	for _, d := range list.Devices {
		if d.KeyJSON == nil || (len(wanted) > 0 && !wanted[d.DeviceID]) {
			continue
		}
		devices[d.DeviceID] = withDisplayName(d.KeyJSON, d.DisplayName)
	}
	if len(devices) > 0 {
		answer.DeviceKeys[list.UserID] = devices
	}
	if k, ok := list.CrossSigning["master"]; ok {
		answer.MasterKeys[list.UserID] = k
	}
	if k, ok := list.CrossSigning["self_signing"]; ok {
		answer.SelfSigningKeys[list.UserID] = k
	}
}

// withDisplayName sets unsigned.device_display_name on device keys.
func withDisplayName(keyJSON []byte, name string) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal(keyJSON, &obj) != nil {
		return keyJSON
	}
	unsigned := map[string]json.RawMessage{}
	if raw, ok := obj["unsigned"]; ok {
		_ = json.Unmarshal(raw, &unsigned)
	}
	if name != "" {
		unsigned["device_display_name"], _ = json.Marshal(name)
	}
	if len(unsigned) == 0 {
		return keyJSON
	}
	obj["unsigned"], _ = json.Marshal(unsigned)
	out, err := json.Marshal(obj)
	if err != nil {
		return keyJSON
	}
	return out
}

// mergeRemoteKeys adds a remote answer for the users asked, keeping only
// device keys of the devices asked (all if none were named) that name
// their user and device.
func mergeRemoteKeys(answer *DeviceKeysAnswer, got DeviceKeysAnswer, asked map[string][]string) {
	for u, devices := range got.DeviceKeys {
		names, ok := asked[u]
		if !ok {
			continue
		}
		wanted := make(map[string]bool, len(names))
		for _, d := range names {
			wanted[d] = true
		}
		kept := map[string]json.RawMessage{}
		for d, keys := range devices {
			if len(kept) >= maxRemoteDevices {
				break
			}
			if (len(wanted) == 0 || wanted[d]) && checkDeviceID(d) == nil && checkRemoteDeviceKeys(keys, u, d) == nil {
				kept[d] = keys
			}
		}
		if len(kept) > 0 {
			answer.DeviceKeys[u] = kept
		}
	}
	for u, k := range got.MasterKeys {
		if _, ok := asked[u]; ok && checkCrossSigningKey(k, u, "master") == nil {
			answer.MasterKeys[u] = k
		}
	}
	for u, k := range got.SelfSigningKeys {
		if _, ok := asked[u]; ok && checkCrossSigningKey(k, u, "self_signing") == nil {
			answer.SelfSigningKeys[u] = k
		}
	}
}

// ClaimKeys claims one-time keys of server's users by POST /user/keys/claim.
func (e *E2EE) ClaimKeys(ctx context.Context, server string, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	var got struct {
		OneTimeKeys map[string]map[string]map[string]json.RawMessage `json:"one_time_keys"`
	}
	if err := e.post(ctx, server, "/_matrix/federation/v1/user/keys/claim", map[string]any{"one_time_keys": claims}, &got); err != nil {
		return nil, err
	}
	out := map[string]map[string]map[string]json.RawMessage{}
	for u, devices := range got.OneTimeKeys {
		asked, ok := claims[u]
		if !ok {
			continue
		}
		for d, keys := range devices {
			if _, ok := asked[d]; !ok || len(keys) != 1 {
				continue // one key per device claimed
			}
			if out[u] == nil {
				out[u] = map[string]map[string]json.RawMessage{}
			}
			out[u][d] = keys
		}
	}
	return out, nil
}

// post sends a signed POST and decodes a 2xx answer into out.
func (e *E2EE) post(ctx context.Context, server, path string, body, out any) error {
	resp, err := e.cfg.Client.Do(ctx, server, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	if err := resp.Err(); err != nil {
		return err
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("federation: %s answered %s with bad JSON: %w", server, path, err)
	}
	return nil
}

// SendToDevice queues an m.direct_to_device EDU for server. The message
// ID is derived from the sending device's own (unique) ID for the send,
// within the spec's 32 characters, so a retried send keeps its ID and
// the receiver delivers it once.
func (e *E2EE) SendToDevice(ctx context.Context, server, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage) error {
	return e.cfg.Sender.SendEDU(ctx, []string{server}, "m.direct_to_device", directToDevice{
		Sender: sender, Type: eventType, MessageID: shortMessageID(messageID), Messages: messages,
	}, "")
}

// shortMessageID fits an ID into 32 characters: short ones are kept,
// longer ones hashed.
func shortMessageID(id string) string {
	if len(id) <= 32 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

// directToDevice is the content of m.direct_to_device.
type directToDevice struct {
	Sender    string                                `json:"sender"`
	Type      string                                `json:"type"`
	MessageID string                                `json:"message_id"`
	Messages  map[string]map[string]json.RawMessage `json:"messages"`
}

// fetchUserDevices asks the user's server for their whole device list.
func (e *E2EE) fetchUserDevices(ctx context.Context, userID string) (UserDevices, error) {
	var got UserDevices
	server := senderServer(userID)
	resp, err := e.cfg.Client.Do(ctx, server, http.MethodGet, "/_matrix/federation/v1/user/devices/"+url.PathEscape(userID), nil)
	if err != nil {
		return got, err
	}
	if err := resp.Err(); err != nil {
		return got, err
	}
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		return got, fmt.Errorf("federation: %s answered /user/devices with bad JSON: %w", server, err)
	}
	return got, checkUserDevices(got, userID)
}
