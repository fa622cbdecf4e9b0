package clientapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/internal/lru"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// The to-device and device list streams of /sync. Their positions live
// in the database (each write allocates the next one); each stream keeps
// its position in memory too, since every /sync asks for it.

// maxToDevicePerSync bounds the to-device messages of one response; the
// rest come with the next sync.
const maxToDevicePerSync = 100

// streamPos is a stream's position in memory, read from storage once
// with load (storedPosition, userdata.go, with its loader bound).
type streamPos struct {
	storedPosition
	load func(ctx context.Context) (int64, error)
}

func (p *streamPos) get(ctx context.Context) (int64, error) {
	return p.storedPosition.get(ctx, p.load)
}

// addE2EEStreams registers the to-device and device list streams on s.
func addE2EEStreams(a *API, s *syncServer) {
	s.addStream(streamToDevice, &toDeviceStream{a: a, pos: streamPos{load: a.Store.ToDevicePosition},
		acked: lru.New[deviceKey, int64](ackedDevices)})
	dl := &deviceListStream{a: a, s: s, pos: streamPos{load: a.Store.DeviceListPosition}}
	s.addStream(streamDeviceLists, dl)
	a.Rooms.AddListener(dl)
}

// toDeviceStream delivers a device's to-device messages, and with them
// the device's one-time key counts and unused fallback key types.
type toDeviceStream struct {
	a   *API
	pos streamPos
	// acked remembers, per device, the position up to which its messages
	// were deleted, so that the long-polls of one token do not ask again:
	// positions only grow, so none at or below it can arrive later.
	acked *lru.Cache[deviceKey, int64]
}

type deviceKey struct{ userID, deviceID string }

// ackedDevices bounds toDeviceStream.acked; a device it forgot costs one
// query at its next sync.
const ackedDevices = 20000

func (s *toDeviceStream) position(ctx context.Context) (int64, error) { return s.pos.get(ctx) }

// add acknowledges what the request's token covers (the client has them:
// they are deleted), then sends up to maxToDevicePerSync newer messages.
// When there are more, next_batch points after the last one sent, so the
// next sync brings the rest.
func (s *toDeviceStream) add(ctx context.Context, read *streamRead, resp *syncResponse) error {
	if read.DeviceID == "" {
		return nil
	}
	store := s.a.Store
	if err := s.ack(ctx, read); err != nil {
		return err
	}
	var msgs []storage.ToDeviceMessage
	if read.From < read.UpTo {
		var err error
		if msgs, err = store.ToDeviceMessages(ctx, read.UserID, read.DeviceID, read.From, read.UpTo, maxToDevicePerSync); err != nil {
			return err
		}
	}
	for _, m := range msgs {
		resp.ToDevice.Events = append(resp.ToDevice.Events, map[string]any{
			"sender": m.Sender, "type": m.Type, "content": json.RawMessage(m.Content),
		})
	}
	if len(msgs) == maxToDevicePerSync && msgs[len(msgs)-1].Pos < read.UpTo {
		stopAt(resp, streamToDevice, msgs[len(msgs)-1].Pos)
	}
	var err error
	if resp.OTKCounts, err = s.a.otkCounts(ctx, read.UserID, read.DeviceID); err != nil {
		return err
	}
	resp.UnusedFallbackKeyTypes, err = store.UnusedFallbackKeyTypes(ctx, read.UserID, read.DeviceID)
	return err
}

// ack deletes the device's messages up to the request's token, which the
// client has had, unless that was done already.
func (s *toDeviceStream) ack(ctx context.Context, read *streamRead) error {
	key := deviceKey{read.UserID, read.DeviceID}
	if done, ok := s.acked.Get(key); read.From <= 0 || ok && read.From <= done {
		return nil
	}
	store := s.a.Store
	acked, err := store.ToDeviceMessages(ctx, read.UserID, read.DeviceID, 0, read.From, 1)
	if err != nil {
		return err
	}
	if len(acked) > 0 {
		if err := store.DeleteToDeviceMessages(ctx, read.UserID, read.DeviceID, read.From); err != nil {
			return err
		}
	}
	s.acked.Add(key, read.From, 1)
	return nil
}

// stopAt makes next_batch resume stream id from pos.
func stopAt(resp *syncResponse, id streamID, pos int64) {
	tok, err := parseSyncToken(resp.NextBatch)
	if err != nil {
		return // built by newSyncResponse: cannot happen
	}
	tok.Streams[id] = pos
	resp.NextBatch = tok.String()
}

// deviceListStream tells a user whose device lists to fetch again
// (device_lists.changed) and whose to forget (left). Key changes are
// written by the key endpoints; joins and leaves, which change who
// shares a room with whom, are recorded from the roomserver's commits.
type deviceListStream struct {
	a   *API
	s   *syncServer
	pos streamPos

	mu       sync.Mutex
	queue    []storage.DeviceListChange
	draining bool
	// idle is closed when the queued changes are written; nil while the
	// queue is empty.
	idle chan struct{}
}

// position waits for queued membership changes to be written first: a
// sync that sees a join in the room events stream then sees it here too,
// and does not learn of it a sync later as a change of its own.
func (s *deviceListStream) position(ctx context.Context) (int64, error) {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return s.pos.get(ctx)
}

func (s *deviceListStream) add(ctx context.Context, read *streamRead, resp *syncResponse) error {
	if read.Initial || read.From >= read.UpTo {
		return nil // an initial sync fetches every list anyway
	}
	changed, left, err := s.a.deviceListDelta(ctx, read.UserID, read.From, read.UpTo)
	if err != nil {
		return err
	}
	resp.DeviceLists.Changed = append(resp.DeviceLists.Changed, changed...)
	resp.DeviceLists.Left = append(resp.DeviceLists.Left, left...)
	return nil
}

var _ roomserver.Listener = (*deviceListStream)(nil)

// OnNewEvents implements roomserver.Listener: joins and leaves go on the
// stream. It must return quickly, so a goroutine writes them.
func (s *deviceListStream) OnNewEvents(roomID string, events []roomserver.PersistedEvent) {
	var changes []storage.DeviceListChange
	for _, ev := range events {
		if ev.Existed || ev.Stream <= 0 || ev.Rejected != "" || ev.SoftFailed || ev.Event.Type() != "m.room.member" || ev.Event.StateKey() == nil {
			continue
		}
		kind := ""
		switch gjson.GetBytes(ev.Event.Content(), "membership").String() {
		case storage.MembershipJoin:
			kind = storage.DeviceListJoin
		case storage.MembershipLeave, storage.MembershipBan:
			kind = storage.DeviceListLeave
		default:
			continue
		}
		changes = append(changes, storage.DeviceListChange{UserID: *ev.Event.StateKey(), RoomID: roomID, Kind: kind})
	}
	if len(changes) == 0 {
		return
	}
	s.mu.Lock()
	s.queue = append(s.queue, changes...)
	start := !s.draining
	if start {
		s.draining, s.idle = true, make(chan struct{})
	}
	s.mu.Unlock()
	if start {
		go s.drain()
	}
}

// drain writes queued membership changes until the queue is empty, then
// exits; the next change starts it again.
func (s *deviceListStream) drain() {
	ctx := context.Background()
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		if len(batch) == 0 {
			s.draining = false
			close(s.idle)
			s.idle = nil
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, c := range batch {
			pos, err := s.a.Store.AddDeviceListChange(ctx, c.UserID, c.RoomID, c.Kind)
			if err != nil {
				slog.Warn("clientapi: recording a membership change on the device list stream", "room", c.RoomID, "err", err)
				continue
			}
			s.pos.advance(pos)
			s.s.notify(streamDeviceLists, pos, c.RoomID, c.UserID)
		}
	}
}

// deviceListMoved makes a key change at pos known to the stream and wakes
// the long-polls of the user and of everyone sharing a room with them.
func (a *API) deviceListMoved(ctx context.Context, userID string, pos int64) {
	if pos <= 0 || a.syncs == nil {
		return
	}
	if dl, ok := a.syncs.streams[streamDeviceLists].(*deviceListStream); ok {
		dl.pos.advance(pos)
	}
	a.syncs.notify(streamDeviceLists, pos, "", userID)
	rooms, err := a.Store.RoomsForUser(ctx, userID, storage.MembershipJoin)
	if err != nil {
		slog.Warn("clientapi: waking the rooms of a device list change", "err", err)
		return
	}
	for _, roomID := range rooms {
		a.syncs.notify(streamDeviceLists, pos, roomID, "")
	}
}

// forgetDevices drops deleted devices' keys and pending messages, and
// tells the users sharing a room that the device list changed.
func (a *API) forgetDevices(ctx context.Context, userID string, deviceIDs []string) {
	for _, d := range deviceIDs {
		pos, err := a.Store.DeleteDeviceKeys(ctx, userID, d)
		if err != nil {
			slog.Warn("clientapi: dropping a deleted device's keys", "err", err)
			continue
		}
		a.deviceListChanged(ctx, DeviceListChange{UserID: userID, DeviceID: d, Pos: pos, Deleted: true})
	}
}

// forgetAccountKeys drops the keys of a deactivated account's devices:
// those it had (devices, listed before they went) and any other with keys.
func (a *API) forgetAccountKeys(ctx context.Context, userID string, devices []string) {
	keys, err := a.Store.DeviceKeys(ctx, []string{userID})
	if err != nil {
		slog.Warn("clientapi: dropping a deactivated account's keys", "err", err)
	}
	ids := slices.Clone(devices)
	for deviceID := range keys[userID] {
		if !slices.Contains(ids, deviceID) {
			ids = append(ids, deviceID)
		}
	}
	a.forgetDevices(ctx, userID, ids)
}

// deviceListDelta reads the device list stream in (from, upTo] for user:
// changed are the users sharing a room with them whose keys changed or
// who newly share one; left are those who no longer share any.
func (a *API) deviceListDelta(ctx context.Context, user string, from, upTo int64) (changed, left []string, err error) {
	changes, err := a.Store.DeviceListChanges(ctx, from, upTo, maxChangesPerRun+1)
	if err != nil || len(changes) == 0 {
		return []string{}, []string{}, err
	}
	myRooms, err := a.Store.RoomsForUser(ctx, user, storage.MembershipJoin)
	if err != nil {
		return nil, nil, err
	}
	shared, err := a.sharedUsers(ctx, user, myRooms)
	if err != nil {
		return nil, nil, err
	}
	changedSet, leftSet := map[string]bool{}, map[string]bool{}
	if len(changes) > maxChangesPerRun {
		// Too much moved to read it all: every list is worth refetching.
		for u := range shared {
			changedSet[u] = true
		}
	} else if err := a.applyChanges(ctx, user, changes, asSet(myRooms), changedSet, leftSet); err != nil {
		return nil, nil, err
	}
	changed, left = []string{}, []string{}
	for u := range changedSet {
		if shared[u] {
			changed = append(changed, u)
		}
	}
	for u := range leftSet {
		if !shared[u] && u != user {
			left = append(left, u)
		}
	}
	slices.Sort(changed)
	slices.Sort(left)
	return changed, left, nil
}

// applyChanges sorts stream entries into candidates for changed and left.
func (a *API) applyChanges(ctx context.Context, user string, changes []storage.DeviceListChange, myRooms, changedSet, leftSet map[string]bool) error {
	for _, c := range changes {
		switch {
		case c.Kind == storage.DeviceListKeys:
			changedSet[c.UserID] = true
		case c.UserID == user:
			// The user joined or left a room: its members are new to
			// them, or may be gone.
			members, err := a.Store.RoomMembers(ctx, c.RoomID, storage.MembershipJoin)
			if err != nil {
				return err
			}
			target := changedSet
			if c.Kind == storage.DeviceListLeave {
				target = leftSet
			}
			for _, m := range members {
				target[m] = true
			}
		case myRooms[c.RoomID]:
			if c.Kind == storage.DeviceListJoin {
				changedSet[c.UserID] = true
			} else {
				leftSet[c.UserID] = true
			}
		}
	}
	return nil
}

// sharedUsers is the set of users joined to the rooms, and user.
func (a *API) sharedUsers(ctx context.Context, user string, rooms []string) (map[string]bool, error) {
	shared := map[string]bool{user: true}
	for _, roomID := range rooms {
		members, err := a.joinedUserIDs(ctx, roomID)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			shared[m] = true
		}
	}
	return shared, nil
}

func asSet(items []string) map[string]bool {
	set := make(map[string]bool, len(items))
	for _, it := range items {
		set[it] = true
	}
	return set
}
