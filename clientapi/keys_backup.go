package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Server-side key backup (key_backup.yaml): the client stores its
// encrypted megolm sessions; the server keeps the best copy of each.

const (
	errWrongRoomKeysVersion = "M_WRONG_ROOM_KEYS_VERSION"
	// maxBackupSessions bounds the sessions of one upload.
	maxBackupSessions = 5000
)

func (a *API) mountKeyBackup(r chi.Router) {
	r.Post("/room_keys/version", a.handle(a.createBackup))
	r.Get("/room_keys/version", a.handle(a.getBackup))
	r.Get("/room_keys/version/{version}", a.handle(a.getBackup))
	r.Put("/room_keys/version/{version}", a.handle(a.updateBackup))
	r.Delete("/room_keys/version/{version}", a.handle(a.deleteBackup))
	for _, path := range []string{"/room_keys/keys", "/room_keys/keys/{roomId}", "/room_keys/keys/{roomId}/{sessionId}"} {
		r.Put(path, a.handle(a.putBackupKeys))
		r.Get(path, a.handle(a.getBackupKeys))
		r.Delete(path, a.handle(a.deleteBackupKeys))
	}
}

type backupVersionBody struct {
	Algorithm string          `json:"algorithm"`
	AuthData  json.RawMessage `json:"auth_data"`
	Version   *string         `json:"version"`
}

func (b backupVersionBody) check() error {
	if b.Algorithm == "" {
		return mxcore.MissingParam("algorithm is required")
	}
	var obj map[string]json.RawMessage
	if isAbsent(b.AuthData) || json.Unmarshal(b.AuthData, &obj) != nil {
		return mxcore.BadJSON("auth_data must be an object")
	}
	return nil
}

func backupNotFound() error { return mxcore.NotFound("Unknown backup version") }

// createBackup is POST /room_keys/version.
func (a *API) createBackup(r *http.Request) (any, error) {
	var body backupVersionBody
	if err := decodeRoomBody(r, &body); err != nil {
		return nil, err
	}
	if err := body.check(); err != nil {
		return nil, err
	}
	authData, err := compactJSON(body.AuthData)
	if err != nil {
		return nil, err
	}
	v, err := a.Store.CreateBackupVersion(r.Context(), roomCaller(r).UserID, body.Algorithm, authData)
	if err != nil {
		return nil, err
	}
	return map[string]string{"version": v}, nil
}

// getBackup is GET /room_keys/version[/{version}].
func (a *API) getBackup(r *http.Request) (any, error) {
	v, err := a.Store.GetBackupVersion(r.Context(), roomCaller(r).UserID, roomPathParam(r, "version"))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, backupNotFound()
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"algorithm": v.Algorithm, "auth_data": json.RawMessage(v.AuthData),
		"count": v.Count, "etag": v.ETag, "version": v.Version,
	}, nil
}

// updateBackup is PUT /room_keys/version/{version}: only auth_data changes.
func (a *API) updateBackup(r *http.Request) (any, error) {
	var body backupVersionBody
	if err := decodeRoomBody(r, &body); err != nil {
		return nil, err
	}
	if err := body.check(); err != nil {
		return nil, err
	}
	version := roomPathParam(r, "version")
	if body.Version != nil && *body.Version != version {
		return nil, mxcore.InvalidParam("version in the body does not match the path")
	}
	ctx, user := r.Context(), roomCaller(r).UserID
	v, err := a.Store.GetBackupVersion(ctx, user, version)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, backupNotFound()
	}
	if err != nil {
		return nil, err
	}
	if v.Algorithm != body.Algorithm {
		return nil, mxcore.InvalidParam("algorithm does not match the backup's algorithm")
	}
	authData, err := compactJSON(body.AuthData)
	if err != nil {
		return nil, err
	}
	if err := a.Store.UpdateBackupVersion(ctx, user, version, authData); errors.Is(err, storage.ErrNotFound) {
		return nil, backupNotFound()
	} else if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// deleteBackup is DELETE /room_keys/version/{version}.
func (a *API) deleteBackup(r *http.Request) (any, error) {
	err := a.Store.DeleteBackupVersion(r.Context(), roomCaller(r).UserID, roomPathParam(r, "version"))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, backupNotFound()
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// keyBackupData is one session's backup (key_backup_data.yaml).
type keyBackupData struct {
	FirstMessageIndex *int64          `json:"first_message_index"`
	ForwardedCount    *int64          `json:"forwarded_count"`
	IsVerified        *bool           `json:"is_verified"`
	SessionData       json.RawMessage `json:"session_data"`
}

func (d keyBackupData) toKey(roomID, sessionID string) (storage.BackupKey, error) {
	var obj map[string]json.RawMessage
	switch {
	case d.FirstMessageIndex == nil || d.ForwardedCount == nil || d.IsVerified == nil:
		return storage.BackupKey{}, mxcore.BadJSON("first_message_index, forwarded_count and is_verified are required")
	case *d.FirstMessageIndex < 0 || *d.ForwardedCount < 0:
		return storage.BackupKey{}, mxcore.BadJSON("first_message_index and forwarded_count must not be negative")
	case isAbsent(d.SessionData) || json.Unmarshal(d.SessionData, &obj) != nil:
		return storage.BackupKey{}, mxcore.BadJSON("session_data must be an object")
	}
	data, err := compactJSON(d.SessionData)
	if err != nil {
		return storage.BackupKey{}, err
	}
	return storage.BackupKey{RoomID: roomID, SessionID: sessionID, FirstMessageIndex: *d.FirstMessageIndex,
		ForwardedCount: *d.ForwardedCount, IsVerified: *d.IsVerified, SessionData: data}, nil
}

func backupKeyData(k storage.BackupKey) map[string]any {
	return map[string]any{
		"first_message_index": k.FirstMessageIndex, "forwarded_count": k.ForwardedCount,
		"is_verified": k.IsVerified, "session_data": json.RawMessage(k.SessionData),
	}
}

type roomKeyBackup struct {
	Sessions map[string]keyBackupData `json:"sessions"`
}

// backupPath is where a /room_keys/keys request points: the version and
// optionally a room and a session.
type backupPath struct{ version, roomID, sessionID string }

func parseBackupPath(r *http.Request) (backupPath, error) {
	p := backupPath{version: r.URL.Query().Get("version"), roomID: roomPathParam(r, "roomId"), sessionID: roomPathParam(r, "sessionId")}
	if p.version == "" {
		return p, mxcore.MissingParam("version is required")
	}
	return p, nil
}

// putBackupKeys is PUT /room_keys/keys[/{roomId}[/{sessionId}]].
func (a *API) putBackupKeys(r *http.Request) (any, error) {
	p, err := parseBackupPath(r)
	if err != nil {
		return nil, err
	}
	keys, err := decodeBackupUpload(r, p)
	if err != nil {
		return nil, err
	}
	ctx, user := r.Context(), roomCaller(r).UserID
	etag, count, err := a.Store.PutBackupKeys(ctx, user, p.version, keys)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, backupNotFound()
	case errors.Is(err, storage.ErrWrongBackupVersion):
		e := mxcore.NewError(http.StatusForbidden, errWrongRoomKeysVersion, "Wrong backup version")
		if cur, err := a.Store.GetBackupVersion(ctx, user, ""); err == nil {
			e.Extra = map[string]any{"current_version": cur.Version}
		}
		return nil, e
	case err != nil:
		return nil, err
	}
	return map[string]any{"etag": etag, "count": count}, nil
}

// decodeBackupUpload reads the body in the shape the path asks for.
func decodeBackupUpload(r *http.Request, p backupPath) ([]storage.BackupKey, error) {
	var rooms map[string]roomKeyBackup
	switch {
	case p.sessionID != "":
		var d keyBackupData
		if err := decodeRoomBody(r, &d); err != nil {
			return nil, err
		}
		rooms = map[string]roomKeyBackup{p.roomID: {Sessions: map[string]keyBackupData{p.sessionID: d}}}
	case p.roomID != "":
		var room roomKeyBackup
		if err := decodeRoomBody(r, &room); err != nil {
			return nil, err
		}
		rooms = map[string]roomKeyBackup{p.roomID: room}
	default:
		var body struct {
			Rooms map[string]roomKeyBackup `json:"rooms"`
		}
		if err := decodeRoomBody(r, &body); err != nil {
			return nil, err
		}
		rooms = body.Rooms
	}
	var keys []storage.BackupKey
	for roomID, room := range rooms {
		for sessionID, d := range room.Sessions {
			if len(keys) >= maxBackupSessions {
				return nil, mxcore.InvalidParam("Too many sessions in one upload")
			}
			k, err := d.toKey(roomID, sessionID)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// getBackupKeys is GET /room_keys/keys[/{roomId}[/{sessionId}]].
func (a *API) getBackupKeys(r *http.Request) (any, error) {
	p, err := parseBackupPath(r)
	if err != nil {
		return nil, err
	}
	keys, err := a.Store.BackupKeys(r.Context(), roomCaller(r).UserID, p.version, p.roomID, p.sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, backupNotFound()
	}
	if err != nil {
		return nil, err
	}
	switch {
	case p.sessionID != "":
		if len(keys) == 0 {
			return nil, mxcore.NotFound("No backed-up key for this session")
		}
		return backupKeyData(keys[0]), nil
	case p.roomID != "":
		return map[string]any{"sessions": sessionsOf(keys)}, nil
	}
	rooms := map[string]any{}
	byRoom := map[string][]storage.BackupKey{}
	for _, k := range keys {
		byRoom[k.RoomID] = append(byRoom[k.RoomID], k)
	}
	for roomID, ks := range byRoom {
		rooms[roomID] = map[string]any{"sessions": sessionsOf(ks)}
	}
	return map[string]any{"rooms": rooms}, nil
}

func sessionsOf(keys []storage.BackupKey) map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		out[k.SessionID] = backupKeyData(k)
	}
	return out
}

// deleteBackupKeys is DELETE /room_keys/keys[/{roomId}[/{sessionId}]].
func (a *API) deleteBackupKeys(r *http.Request) (any, error) {
	p, err := parseBackupPath(r)
	if err != nil {
		return nil, err
	}
	etag, count, err := a.Store.DeleteBackupKeys(r.Context(), roomCaller(r).UserID, p.version, p.roomID, p.sessionID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, backupNotFound()
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"etag": etag, "count": count}, nil
}
