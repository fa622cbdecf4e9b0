package federation

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/warbler-im/warbler/mxcore"
)

// Shape checks of what other servers send about their users' keys. The
// keys' signatures are the clients' business (they verify them against
// the device and cross-signing keys); the server checks that an object
// names the user and device it is filed under, so one user's keys can
// never be served as another's.

const (
	maxDeviceIDLength    = 255
	maxDisplayNameLength = 1024
	maxPrevIDs           = 100
	maxMessageIDLength   = 32 // codepoints, as the spec says
	maxEDUToDevice       = 10000
	// maxRemoteKeyJSON bounds one device or cross-signing key object as
	// stored: a device's keys with a few signatures are about 1 KiB.
	maxRemoteKeyJSON = 64 << 10
)

// checkStoredText: what is kept as text must be valid UTF-8 without NUL,
// which PostgreSQL refuses (JSON decoding turns "\u0000" into a NUL);
// a write that fails half way would leave a list out of date.
func checkStoredText(s string) error {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return errors.New("text is not valid UTF-8 or holds NUL")
	}
	return nil
}

// checkKeyJSON bounds a key object and checks it can be stored as text.
func checkKeyJSON(raw json.RawMessage) error {
	if len(raw) > maxRemoteKeyJSON {
		return errors.New("key object too large")
	}
	return checkStoredText(string(raw))
}

// checkRemoteDeviceKeys: device keys must be an object naming userID and deviceID.
func checkRemoteDeviceKeys(raw json.RawMessage, userID, deviceID string) error {
	if err := checkKeyJSON(raw); err != nil {
		return err
	}
	var k struct {
		UserID   string            `json:"user_id"`
		DeviceID string            `json:"device_id"`
		Keys     map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return fmt.Errorf("device keys: %w", err)
	}
	if k.UserID != userID || k.DeviceID != deviceID {
		return errors.New("device keys name another user or device")
	}
	if len(k.Keys) == 0 {
		return errors.New("device keys hold no keys")
	}
	return nil
}

// checkCrossSigningKey: a cross-signing key names userID and has usage.
func checkCrossSigningKey(raw json.RawMessage, userID, usage string) error {
	if err := checkKeyJSON(raw); err != nil {
		return err
	}
	var k struct {
		UserID string            `json:"user_id"`
		Usage  []string          `json:"usage"`
		Keys   map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return fmt.Errorf("cross-signing key: %w", err)
	}
	if k.UserID != userID || !slices.Contains(k.Usage, usage) || len(k.Keys) == 0 {
		return fmt.Errorf("not a %s key of %s", usage, userID)
	}
	return nil
}

// checkUserDevices checks a /user/devices answer for userID.
func checkUserDevices(got UserDevices, userID string) error {
	if got.UserID != userID {
		return errors.New("the device list is of another user")
	}
	if got.StreamID < 0 {
		return errors.New("stream_id is negative")
	}
	if len(got.Devices) > maxRemoteDevices {
		return errors.New("too many devices")
	}
	for _, d := range got.Devices {
		if err := checkDeviceID(d.DeviceID); err != nil {
			return err
		}
		if err := checkDisplayName(d.DisplayName); err != nil {
			return err
		}
		if err := checkRemoteDeviceKeys(d.Keys, userID, d.DeviceID); err != nil {
			return err
		}
	}
	if len(got.MasterKey) > 0 && !isJSONNull(got.MasterKey) {
		if err := checkCrossSigningKey(got.MasterKey, userID, "master"); err != nil {
			return err
		}
	}
	if len(got.SelfSigningKey) > 0 && !isJSONNull(got.SelfSigningKey) {
		return checkCrossSigningKey(got.SelfSigningKey, userID, "self_signing")
	}
	return nil
}

func checkDeviceID(id string) error {
	if id == "" || len(id) > maxDeviceIDLength || checkStoredText(id) != nil {
		return errors.New("bad device ID")
	}
	return nil
}

func checkDisplayName(name string) error {
	if len(name) > maxDisplayNameLength || checkStoredText(name) != nil {
		return errors.New("device_display_name is too long or holds NUL")
	}
	return nil
}

func isJSONNull(raw json.RawMessage) bool { return string(raw) == "null" }

// ownUser: userID is a user of origin.
func ownUser(userID, origin string) error {
	u, err := mxcore.ParseUserID(userID)
	if err != nil {
		return fmt.Errorf("%q is not a user ID", userID)
	}
	if u.Server != origin {
		return errNotEntitled
	}
	return nil
}

// deviceListUpdate is the content of m.device_list_update.
type deviceListUpdate struct {
	UserID      string          `json:"user_id"`
	DeviceID    string          `json:"device_id"`
	DisplayName string          `json:"device_display_name,omitempty"`
	StreamID    int64           `json:"stream_id"`
	PrevID      []int64         `json:"prev_id,omitempty"`
	Deleted     bool            `json:"deleted,omitempty"`
	Keys        json.RawMessage `json:"keys,omitempty"`
}

// parseDeviceListUpdate decodes and checks an m.device_list_update from origin.
func parseDeviceListUpdate(content json.RawMessage, origin string) (deviceListUpdate, error) {
	var u deviceListUpdate
	if err := json.Unmarshal(content, &u); err != nil {
		return u, err
	}
	if err := ownUser(u.UserID, origin); err != nil {
		return u, err
	}
	if err := checkDeviceID(u.DeviceID); err != nil {
		return u, err
	}
	if u.StreamID <= 0 {
		return u, errors.New("stream_id must be a positive integer")
	}
	if len(u.PrevID) > maxPrevIDs {
		return u, errors.New("too many prev_id entries")
	}
	if err := checkDisplayName(u.DisplayName); err != nil {
		return u, err
	}
	if !u.Deleted && len(u.Keys) > 0 && !isJSONNull(u.Keys) {
		if err := checkRemoteDeviceKeys(u.Keys, u.UserID, u.DeviceID); err != nil {
			return u, err
		}
	} else {
		u.Keys = nil
	}
	return u, nil
}

// signingKeyUpdate is the content of m.signing_key_update.
type signingKeyUpdate struct {
	UserID         string          `json:"user_id"`
	MasterKey      json.RawMessage `json:"master_key,omitempty"`
	SelfSigningKey json.RawMessage `json:"self_signing_key,omitempty"`
}

// parseSigningKeyUpdate decodes and checks an m.signing_key_update;
// keys are the ones it carries, by type.
func parseSigningKeyUpdate(content json.RawMessage, origin string) (string, map[string][]byte, error) {
	var u signingKeyUpdate
	if err := json.Unmarshal(content, &u); err != nil {
		return "", nil, err
	}
	if err := ownUser(u.UserID, origin); err != nil {
		return "", nil, err
	}
	keys := map[string][]byte{}
	for typ, raw := range map[string]json.RawMessage{"master": u.MasterKey, "self_signing": u.SelfSigningKey} {
		if len(raw) == 0 || isJSONNull(raw) {
			continue
		}
		if err := checkCrossSigningKey(raw, u.UserID, typ); err != nil {
			return "", nil, err
		}
		keys[typ] = raw
	}
	if len(keys) == 0 {
		return "", nil, errors.New("m.signing_key_update carries no key")
	}
	return u.UserID, keys, nil
}

// parseDirectToDevice decodes and checks an m.direct_to_device from origin.
func parseDirectToDevice(content json.RawMessage, origin string) (directToDevice, error) {
	var m directToDevice
	if err := json.Unmarshal(content, &m); err != nil {
		return m, err
	}
	if err := ownUser(m.Sender, origin); err != nil {
		return m, err
	}
	switch {
	case m.Type == "" || len(m.Type) > 255 || checkStoredText(m.Type) != nil:
		return m, errors.New("type is missing, too long or not text")
	case m.MessageID == "" || utf8.RuneCountInString(m.MessageID) > maxMessageIDLength || checkStoredText(m.MessageID) != nil:
		return m, errors.New("message_id is missing, longer than 32 characters or not text")
	case m.Messages == nil:
		return m, errors.New("messages is missing")
	}
	n := 0
	for userID, devices := range m.Messages {
		if _, err := mxcore.ParseUserID(userID); err != nil {
			return m, fmt.Errorf("messages: %q is not a user ID", userID)
		}
		for _, body := range devices {
			var obj map[string]json.RawMessage
			if json.Unmarshal(body, &obj) != nil || obj == nil || !utf8.Valid(body) {
				return m, errors.New("messages: each message must be a JSON object in UTF-8")
			}
			n++
		}
	}
	if n > maxEDUToDevice {
		return m, errors.New("too many messages in one m.direct_to_device")
	}
	return m, nil
}

// listAction is what to do with a device list update.
type listAction int

const (
	listIgnore listAction = iota // seen already, or about a user nobody here shares a room with
	listApply                    // follows what is cached: apply it
	listResync                   // something was missed: fetch the whole list
)

// decideDeviceListUpdate is the gap logic of m.device_list_update. The
// cache holds a tracked user's list as of streamID last. An update that
// is not newer was seen (or covered by a resync). One is applied when
// each of its prev_ids is one the cache covers (at most last); a prev_id
// beyond last is an update that never arrived, and an update without
// prev_id cannot be placed, so both call for a resync, as does a stale
// list. An untracked user's update starts tracking with a resync.
func decideDeviceListUpdate(tracked, stale bool, last int64, u deviceListUpdate) listAction {
	switch {
	case !tracked || stale:
		return listResync
	case u.StreamID <= last:
		return listIgnore
	case len(u.PrevID) == 0:
		return listResync
	}
	for _, p := range u.PrevID {
		if p > last {
			return listResync
		}
	}
	return listApply
}
