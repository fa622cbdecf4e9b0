package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/storage"
)

// Keeping the current-state, membership and joined-server tables in step
// with rooms.current_snapshot, inside the persist transaction. Only the
// slots that differ between the old and the new current state are
// written, so a message costs nothing here and a join costs a few rows,
// while a state reset (a new state that drops or rewinds entries) is
// handled by the same diff.

const memberType = "m.room.member"

func (p *persister) setCurrentState(ctx context.Context, ref storage.StateRef) error {
	nid, err := p.saveState(ctx, ref)
	if err != nil {
		return fmt.Errorf("storage: new current state: %w", err)
	}
	if nid == p.current {
		return nil
	}
	changes, err := p.diffSnapshots(ctx, p.current, nid)
	if err != nil {
		return err
	}
	if err := p.writeCurrentState(ctx, changes); err != nil {
		return fmt.Errorf("storage: update current state: %w", err)
	}
	if err := p.writeMemberships(ctx, changes); err != nil {
		return fmt.Errorf("storage: update memberships: %w", err)
	}
	if _, err := p.tx.ExecContext(ctx, p.db.q(`UPDATE rooms SET current_snapshot = $2 WHERE room_nid = $1`), p.room, nid); err != nil {
		return err
	}
	p.current = nid
	return nil
}

// diffSnapshots lists the slots that differ between two snapshots. When
// both share a keyframe only their deltas are compared.
func (p *persister) diffSnapshots(ctx context.Context, oldNID, newNID int64) ([]stateChange, error) {
	om, err := p.st.snapshot(ctx, oldNID)
	if err != nil {
		return nil, err
	}
	nm, err := p.st.snapshot(ctx, newNID)
	if err != nil {
		return nil, err
	}
	if om.keyframe != nm.keyframe {
		of, err := p.st.fullState(ctx, oldNID)
		if err != nil {
			return nil, err
		}
		nf, err := p.st.fullState(ctx, newNID)
		if err != nil {
			return nil, err
		}
		return diffStates(of, nf), nil
	}
	kf, err := p.st.keyframe(ctx, om.keyframe)
	if err != nil {
		return nil, err
	}
	at := func(delta []entry, k stateKey) int64 {
		if ev, ok := findEntry(delta, k); ok {
			return ev
		}
		ev, _ := findEntry(kf.entries, k)
		return ev
	}
	var keys []stateKey
	for _, e := range om.delta {
		keys = append(keys, e.stateKey)
	}
	for _, e := range nm.delta {
		keys = append(keys, e.stateKey)
	}
	slices.SortFunc(keys, stateKey.compare)
	keys = slices.Compact(keys)
	var out []stateChange
	for _, k := range keys {
		if o, n := at(om.delta, k), at(nm.delta, k); o != n {
			out = append(out, stateChange{k, o, n})
		}
	}
	return out, nil
}

func (p *persister) writeCurrentState(ctx context.Context, changes []stateChange) error {
	var upserts []any
	for _, c := range changes {
		if c.new == 0 {
			_, err := p.tx.ExecContext(ctx, p.db.q(`DELETE FROM current_state WHERE room_nid = $1 AND type_nid = $2 AND state_key_nid = $3`), p.room, c.typ, c.key)
			if err != nil {
				return err
			}
		} else {
			upserts = append(upserts, p.room, c.typ, c.key, c.new)
		}
	}
	return p.db.insertRows(ctx, p.tx, `INSERT INTO current_state (room_nid, type_nid, state_key_nid, event_nid)`, 4, upserts,
		`ON CONFLICT (room_nid, type_nid, state_key_nid) DO UPDATE SET event_nid = excluded.event_nid`)
}

// writeMemberships applies the m.room.member slots among changes to the
// membership and joined-server tables.
func (p *persister) writeMemberships(ctx context.Context, changes []stateChange) error {
	types, err := p.db.lookupNIDs(ctx, p.tx, p.rs.types, typesTable, []string{memberType}, p.pendingTypes)
	if err != nil {
		return err
	}
	memberNID, ok := types[memberType]
	if !ok {
		return nil // no member event was ever stored
	}
	var members []stateChange
	var users, newEvents []int64
	for _, c := range changes {
		if c.typ == memberNID {
			members = append(members, c)
			users = append(users, c.key)
			if c.new != 0 {
				newEvents = append(newEvents, c.new)
			}
		}
	}
	if len(members) == 0 {
		return nil
	}
	// User IDs: mostly state keys this call named already.
	known := make(map[int64]string, len(p.keys))
	for name, nid := range p.keys {
		known[nid] = name
	}
	var unknown []int64
	for _, u := range users {
		if _, ok := known[u]; !ok {
			unknown = append(unknown, u)
		}
	}
	userIDs, err := p.db.lookupNames(ctx, p.tx, p.rs.stateKeys, stateKeysTable, unknown, p.pendingKeys)
	if err != nil {
		return err
	}
	maps.Copy(userIDs, known)
	// Their cached room lists must not be served from here until the
	// transaction has ended (PersistEvents ends the write).
	changed := make([]string, len(users))
	for i, u := range users {
		changed[i] = userIDs[u]
	}
	p.db.users.rooms.startWrite(changed...)
	p.memberUsers = append(p.memberUsers, changed...)
	if !p.serversWritten { // the room's joined servers may change too
		p.db.users.joinedServers.startWrite(p.roomID)
		p.serversWritten = true
	}
	old, err := p.oldMemberships(ctx, users)
	if err != nil {
		return err
	}
	values, err := p.memberValues(ctx, newEvents)
	if err != nil {
		return err
	}
	servers := map[string]int64{} // change in joined members per server
	var upserts []any
	for _, c := range members {
		server := serverOf(userIDs[c.key])
		if old[c.key] == "join" && server != "" {
			servers[server]--
		}
		if c.new == 0 {
			_, err := p.tx.ExecContext(ctx, p.db.q(`DELETE FROM memberships WHERE room_nid = $1 AND user_nid = $2`), p.room, c.key)
			if err != nil {
				return err
			}
			continue
		}
		v := values[c.new]
		if v.membership == "join" && server != "" {
			servers[server]++
		}
		stream := v.stream
		if stream <= 0 { // an outlier or backfilled event: it changed now
			if stream, err = p.changePosition(ctx); err != nil {
				return err
			}
		}
		upserts = append(upserts, p.room, c.key, v.membership, c.new, stream)
	}
	err = p.db.insertRows(ctx, p.tx, `INSERT INTO memberships (room_nid, user_nid, membership, event_nid, stream_pos)`, 5, upserts,
		`ON CONFLICT (room_nid, user_nid) DO UPDATE SET membership = excluded.membership, event_nid = excluded.event_nid, stream_pos = excluded.stream_pos`)
	if err != nil {
		return err
	}
	return p.writeJoinedServers(ctx, servers)
}

// serverOf returns the server name of a user ID ("@local:server").
func serverOf(userID string) string {
	_, server, _ := strings.Cut(userID, ":")
	return server
}

func (p *persister) oldMemberships(ctx context.Context, users []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(users))
	err := forChunks(users, func(chunk []int64) error {
		cond, args := p.db.inInt64s("user_nid", 2, chunk)
		rows, err := p.tx.QueryContext(ctx, p.db.q(`SELECT user_nid, membership FROM memberships
			WHERE room_nid = $1 AND `+cond), append([]any{p.room}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var user int64
			var membership string
			if err := rows.Scan(&user, &membership); err != nil {
				return err
			}
			out[user] = membership
		}
		return rows.Err()
	})
	return out, err
}

type memberValue struct {
	membership string
	stream     int64
}

// memberValues reads content.membership (with gjson, without decoding
// the event) and the stream position of member events, from the batch
// where it has them and from the database otherwise.
func (p *persister) memberValues(ctx context.Context, nids []int64) (map[int64]memberValue, error) {
	out := make(map[int64]memberValue, len(nids))
	byNID := make(map[int64]*txEvent, len(p.events))
	for _, te := range p.events {
		if te.json != nil {
			byNID[te.nid] = te
		}
	}
	var missing []int64
	for _, nid := range nids {
		if te, ok := byNID[nid]; ok {
			out[nid] = memberValue{gjson.GetBytes(te.json, "content.membership").String(), te.stream}
		} else {
			missing = append(missing, nid)
		}
	}
	err := forChunks(missing, func(chunk []int64) error {
		cond, args := p.db.inInt64s("event_nid", 1, chunk)
		rows, err := p.tx.QueryContext(ctx, p.db.q(`SELECT event_nid, json, COALESCE(stream_pos, 0) FROM events
			WHERE `+cond), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var nid, stream int64
			var json []byte
			if err := rows.Scan(&nid, &json, &stream); err != nil {
				return err
			}
			out[nid] = memberValue{gjson.GetBytes(json, "content.membership").String(), stream}
		}
		return rows.Err()
	})
	return out, err
}

// changePosition is the stream position to record for a change made by
// this transaction that no new event of it carries: the last position it
// took, or else the latest committed one.
func (p *persister) changePosition(ctx context.Context) (int64, error) {
	if p.haveStream {
		return p.taken[len(p.taken)-1], nil
	}
	return p.db.visibleStream(ctx, p.tx)
}

func (p *persister) writeJoinedServers(ctx context.Context, servers map[string]int64) error {
	names := make([]string, 0, len(servers))
	for name := range servers {
		names = append(names, name)
	}
	slices.Sort(names)
	dropped := false
	for _, name := range names {
		n := servers[name]
		switch {
		case n > 0:
			_, err := p.tx.ExecContext(ctx, p.db.q(`INSERT INTO room_joined_servers (room_nid, server_name, joined_count) VALUES ($1, $2, $3)
				ON CONFLICT (room_nid, server_name) DO UPDATE SET joined_count = room_joined_servers.joined_count + excluded.joined_count`),
				p.room, name, n)
			if err != nil {
				return err
			}
		case n < 0:
			res, err := p.tx.ExecContext(ctx, p.db.q(`UPDATE room_joined_servers SET joined_count = joined_count + $3
				WHERE room_nid = $1 AND server_name = $2`), p.room, name, n)
			if err != nil {
				return err
			}
			if err := ifNoRows(res, sql.ErrNoRows); err != nil {
				return fmt.Errorf("storage: joined-server count of %s is missing", name)
			}
			dropped = true
		}
	}
	if dropped {
		_, err := p.tx.ExecContext(ctx, p.db.q(`DELETE FROM room_joined_servers WHERE room_nid = $1 AND joined_count = 0`), p.room)
		return err
	}
	return nil
}
