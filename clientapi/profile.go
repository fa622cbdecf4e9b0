package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/internal/mxhttp"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Profiles hold displayname and avatar_url. Changes are stored, then sent
// as new m.room.member events into the user's rooms (profile_propagate.go);
// remote users' profiles will be fetched over federation.
const (
	fieldDisplayName = "displayname"
	fieldAvatarURL   = "avatar_url"
	// maxDisplayNameChars and maxAvatarURLBytes bound the two fields,
	// keeping member events that carry them far below the event size limit.
	maxDisplayNameChars = 256
	maxAvatarURLBytes   = 1000
	// maxProfileKeyBytes is the spec's limit on a profile key.
	maxProfileKeyBytes = 255
)

// profileKeyPattern is the spec's grammar for profile field names.
var profileKeyPattern = regexp.MustCompile(`^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$`)

// editableProfileFields are the fields users may set here (see the
// m.profile_fields capability).
var editableProfileFields = []string{fieldDisplayName, fieldAvatarURL}

func (a *API) getProfile(r *http.Request) (any, error) {
	p, err := a.localProfile(r)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for key, value := range profileFields(p) {
		if value != "" {
			out[key] = value
		}
	}
	return out, nil
}

func (a *API) getProfileField(r *http.Request) (any, error) {
	key, err := profileKey(r)
	if err != nil {
		return nil, err
	}
	p, err := a.localProfile(r)
	if err != nil {
		return nil, err
	}
	if value := profileFields(p)[key]; value != "" {
		return map[string]string{key: value}, nil
	}
	return nil, mxcore.NotFound("The user has no " + key)
}

func profileFields(p storage.Profile) map[string]string {
	return map[string]string{fieldDisplayName: p.DisplayName, fieldAvatarURL: p.AvatarURL}
}

// localProfile loads the profile of the user in the path. Remote profiles
// need federation, and deactivated accounts show none: both are 404.
func (a *API) localProfile(r *http.Request) (storage.Profile, error) {
	userID, err := a.localUserInPath(r)
	if err != nil {
		return storage.Profile{}, err
	}
	user, err := a.Store.GetUser(r.Context(), userID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && user.Deactivated) {
		return storage.Profile{}, mxcore.NotFound("Profile not found")
	}
	if err != nil {
		return storage.Profile{}, err
	}
	return a.Store.GetProfile(r.Context(), userID)
}

// localUserInPath parses {userId}; users of other servers are not found.
func (a *API) localUserInPath(r *http.Request) (string, error) {
	raw := chi.URLParam(r, "userId")
	id, err := mxcore.ParseUserID(raw)
	if err != nil {
		return "", mxcore.InvalidParam("Invalid user ID")
	}
	if id.Server != a.ServerName {
		return "", mxcore.NotFound("Profile not found")
	}
	return raw, nil
}

// profileKey checks the {keyName} of the path against the spec's grammar.
func profileKey(r *http.Request) (string, error) {
	key := chi.URLParam(r, "keyName")
	if len(key) > maxProfileKeyBytes {
		return "", mxcore.NewError(http.StatusBadRequest, "M_KEY_TOO_LARGE", "Profile keys are at most 255 bytes")
	}
	if !profileKeyPattern.MatchString(key) {
		return "", mxcore.InvalidParam("Invalid profile key")
	}
	return key, nil
}

func (a *API) setProfileField(r *http.Request) (any, error) {
	key, err := a.editableField(r)
	if err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := mxhttp.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, mxcore.MissingParam("Missing " + key)
	}
	var value string
	if err := json.Unmarshal(raw, &value); err != nil || string(raw) == "null" {
		return nil, mxcore.BadJSON(key + " must be a string")
	}
	if err := checkProfileValue(key, value); err != nil {
		return nil, err
	}
	return a.storeProfileField(r, key, value)
}

func (a *API) deleteProfileField(r *http.Request) (any, error) {
	key, err := a.editableField(r)
	if err != nil {
		return nil, err
	}
	return a.storeProfileField(r, key, "")
}

// editableField checks that the caller may change {keyName} of {userId}:
// only their own profile, only the fields this server keeps, and for
// guests only the display name.
func (a *API) editableField(r *http.Request) (string, error) {
	key, err := profileKey(r)
	if err != nil {
		return "", err
	}
	sess, _ := SessionFrom(r.Context())
	if chi.URLParam(r, "userId") != sess.UserID {
		return "", mxcore.Forbidden("You cannot change another user's profile")
	}
	if key != fieldDisplayName && key != fieldAvatarURL {
		return "", mxcore.Forbidden("This server only lets users set displayname and avatar_url")
	}
	if key == fieldAvatarURL {
		guest, err := a.isGuest(r.Context(), sess.UserID)
		if err != nil {
			return "", err
		}
		if guest {
			return "", guestForbidden()
		}
	}
	return key, nil
}

func checkProfileValue(key, value string) error {
	switch key {
	case fieldDisplayName:
		if utf8.RuneCountInString(value) > maxDisplayNameChars {
			return mxcore.InvalidParam("displayname is longer than 256 characters")
		}
	case fieldAvatarURL:
		if len(value) > maxAvatarURLBytes {
			return mxcore.InvalidParam("avatar_url is longer than 1000 bytes")
		}
		if value != "" && !validMXC(value) {
			return mxcore.InvalidParam("avatar_url must be an mxc:// URI")
		}
	}
	return nil
}

// validMXC checks the mxc://<server-name>/<media-id> shape.
func validMXC(uri string) bool {
	rest, ok := strings.CutPrefix(uri, "mxc://")
	if !ok {
		return false
	}
	server, mediaID, ok := strings.Cut(rest, "/")
	return ok && mxcore.ValidServerName(server) && mediaID != "" && !strings.Contains(mediaID, "/")
}

func (a *API) storeProfileField(r *http.Request, key, value string) (any, error) {
	sess, _ := SessionFrom(r.Context())
	var err error
	if key == fieldDisplayName {
		err = a.Store.SetDisplayName(r.Context(), sess.UserID, value)
	} else {
		err = a.Store.SetAvatarURL(r.Context(), sess.UserID, value)
	}
	if err != nil {
		return nil, err
	}
	a.propagateProfile(sess.UserID)
	return struct{}{}, nil
}
