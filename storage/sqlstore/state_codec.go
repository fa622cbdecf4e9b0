package sqlstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
)

// This file holds the pure part of state storage: how state entries are
// ordered, packed into bytes, cut into blocks and hashed. Everything here
// is part of the on-disk format: changing the encoding or the cut rule
// would make new blocks differ from old ones for the same content, so
// keep it stable (a change of cut rule only costs sharing; a change of
// encoding needs a migration).

// stateKey is a state slot in numeric form: (type_nid, state_key_nid).
type stateKey struct{ typ, key int64 }

func (a stateKey) compare(b stateKey) int {
	switch {
	case a.typ != b.typ:
		return cmpInt64(a.typ, b.typ)
	default:
		return cmpInt64(a.key, b.key)
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// entry is one state entry in numeric form. In a delta, event 0 means the
// slot is removed relative to the keyframe.
type entry struct {
	stateKey
	event int64
}

func compareEntries(a, b entry) int { return a.compare(b.stateKey) }

// findEntry returns the event in a sorted entry list for k, and whether
// the list has the slot at all.
func findEntry(es []entry, k stateKey) (int64, bool) {
	i, ok := slices.BinarySearchFunc(es, k, func(e entry, k stateKey) int { return e.compare(k) })
	if !ok {
		return 0, false
	}
	return es[i].event, true
}

// Blocks are content-defined: a block ends after an entry whose key
// hashes to a multiple of blockCutModulus, once the block holds at least
// minBlockEntries entries. Where blocks end depends only on the keys near
// the edit, so adding or removing an entry changes its own block (and at
// most merges it with, or splits it from, a neighbour), never the blocks
// elsewhere; the event is left out of the hash so that replacing a slot's
// event, the most common change, never moves a boundary at all.
//
// Blocks average 16 + 16 = 32 entries. The minimum is there because a
// change lands in a block with probability proportional to the block's
// size: with cuts at hash mod 32 alone (sizes spread geometrically) the
// block an edit rewrites holds 64 entries on average, with the minimum
// about 40. testStateDiskBound measured 72 against 52 stored entries per
// random state change in a 5,000-member room. maxBlockEntries caps the
// rare long run without a cut.
const (
	blockCutModulus = 16
	minBlockEntries = 16
	maxBlockEntries = 256
)

// cutAfter reports whether a block ends after the entry with key k.
func cutAfter(k stateKey) bool {
	// A fixed 64-bit mix (the splitmix64 finaliser) of both NIDs: NIDs
	// are small consecutive numbers, which the mix spreads evenly.
	h := uint64(k.typ)*0x9e3779b97f4a7c15 ^ uint64(k.key)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h%blockCutModulus == 0
}

// chunkEntries cuts a sorted full state into blocks. The blocks share the
// backing array of es.
func chunkEntries(es []entry) [][]entry {
	var blocks [][]entry
	start := 0
	for i, e := range es {
		n := i + 1 - start
		if n >= minBlockEntries && cutAfter(e.stateKey) || n == maxBlockEntries {
			blocks = append(blocks, es[start:i+1])
			start = i + 1
		}
	}
	if start < len(es) {
		blocks = append(blocks, es[start:])
	}
	return blocks
}

// encodeEntries packs sorted entries as varints: the type NID as a
// difference from the previous entry's, the state key NID as a difference
// from the previous one when the type is the same (else whole), then the
// event NID. A run of members costs about five bytes an entry.
func encodeEntries(es []entry) []byte {
	buf := make([]byte, 0, len(es)*6)
	var prev stateKey
	for _, e := range es {
		buf = binary.AppendUvarint(buf, uint64(e.typ-prev.typ))
		if e.typ == prev.typ {
			buf = binary.AppendUvarint(buf, uint64(e.key-prev.key))
		} else {
			buf = binary.AppendUvarint(buf, uint64(e.key))
		}
		buf = binary.AppendUvarint(buf, uint64(e.event))
		prev = e.stateKey
	}
	return buf
}

var errCorruptState = errors.New("storage: corrupt state encoding")

// decodeEntries reverses encodeEntries. n is the expected count, used to
// size the result.
func decodeEntries(b []byte, n int) ([]entry, error) {
	es := make([]entry, 0, n)
	var prev stateKey
	for len(b) > 0 {
		var v [3]uint64
		for i := range v {
			x, size := binary.Uvarint(b)
			if size <= 0 {
				return nil, errCorruptState
			}
			v[i], b = x, b[size:]
		}
		e := entry{stateKey{typ: prev.typ + int64(v[0])}, int64(v[2])}
		if v[0] == 0 {
			e.key = prev.key + int64(v[1])
		} else {
			e.key = int64(v[1])
		}
		if len(es) > 0 && e.compare(prev) <= 0 {
			return nil, errCorruptState
		}
		es = append(es, e)
		prev = e.stateKey
	}
	return es, nil
}

// encodeNIDs packs a keyframe's block NIDs, each as a signed difference
// from the previous one: blocks written together have consecutive NIDs.
func encodeNIDs(nids []int64) []byte {
	buf := make([]byte, 0, len(nids)*2)
	var prev int64
	for _, n := range nids {
		buf = binary.AppendVarint(buf, n-prev)
		prev = n
	}
	return buf
}

func decodeNIDs(b []byte, n int) ([]int64, error) {
	nids := make([]int64, 0, n)
	var prev int64
	for len(b) > 0 {
		d, size := binary.Varint(b)
		if size <= 0 {
			return nil, errCorruptState
		}
		prev += d
		nids = append(nids, prev)
		b = b[size:]
	}
	return nids, nil
}

// contentHash names stored state by its content, so equal blocks,
// keyframes and snapshots are stored once. kind keeps the three apart.
func contentHash(kind byte, parts ...[]byte) []byte {
	h := sha256.New()
	h.Write([]byte{kind})
	for _, p := range parts {
		h.Write(binary.AppendUvarint(nil, uint64(len(p))))
		h.Write(p)
	}
	return h.Sum(nil)
}

const (
	hashBlock    = 'b'
	hashKeyframe = 'k'
	hashSnapshot = 's'
)

// mergeDelta applies a delta (sorted, event 0 = removed) to a sorted full
// state and returns the resulting full state.
func mergeDelta(full, delta []entry) []entry {
	out := make([]entry, 0, len(full)+len(delta))
	i, j := 0, 0
	for i < len(full) || j < len(delta) {
		switch {
		case j == len(delta) || i < len(full) && full[i].compare(delta[j].stateKey) < 0:
			out = append(out, full[i])
			i++
		case i == len(full) || delta[j].compare(full[i].stateKey) < 0:
			if delta[j].event != 0 {
				out = append(out, delta[j])
			}
			j++
		default: // same slot: the delta wins
			if delta[j].event != 0 {
				out = append(out, delta[j])
			}
			i++
			j++
		}
	}
	return out
}

// stateChange is one slot whose event differs between two states; 0 means
// absent.
type stateChange struct {
	stateKey
	old, new int64
}

// diffStates lists the slots that differ between two sorted full states.
func diffStates(old, new []entry) []stateChange {
	var out []stateChange
	i, j := 0, 0
	for i < len(old) || j < len(new) {
		switch {
		case j == len(new) || i < len(old) && old[i].compare(new[j].stateKey) < 0:
			out = append(out, stateChange{old[i].stateKey, old[i].event, 0})
			i++
		case i == len(old) || new[j].compare(old[i].stateKey) < 0:
			out = append(out, stateChange{new[j].stateKey, 0, new[j].event})
			j++
		default:
			if old[i].event != new[j].event {
				out = append(out, stateChange{old[i].stateKey, old[i].event, new[j].event})
			}
			i++
			j++
		}
	}
	return out
}
