package roomserver

import "slices"

// sortPowerEvents is step 1 of the v2 algorithm: select the power events of
// the full conflicted set, enlarge them with the events of their auth
// chains that are also in the full conflicted set, and sort the result by
// the reverse topological power ordering. It returns the sorted list and a
// mark for every picked event.
func (r *srResolver) sortPowerEvents(full []bool) ([]int32, []bool) {
	g := r.g
	// Everything reachable from a power event of the full conflicted set.
	below := make([]bool, len(g.events))
	for _, n := range g.post {
		below[n] = full[n] && srIsPowerEvent(g.events[n])
	}
	below = g.descendantsOf(below)
	picked := make([]bool, len(g.events))
	for i := range picked {
		picked[i] = below[i] && full[i]
	}
	// The topological order must respect auth chain ancestry between picked
	// events even where the path leaves the picked set, so the sort also
	// walks through the unpicked events lying between two picked ones.
	above := g.ancestorsOf(picked)
	between := make([]bool, len(g.events))
	for i := range between {
		between[i] = below[i] && above[i]
	}
	return r.kahnPowerOrder(picked, between), picked
}

// srKahn is the working state of the topological sort over the nodes
// "between" picked events: local indices, in-degrees and citer lists.
type srKahn struct {
	nodes   []int32 // local index -> node
	local   []int32 // node -> local index, or -1
	indeg   []int32
	citerLo []int32 // citers of local i are citers[citerLo[i]:citerLo[i+1]]
	citers  []int32
}

// kahnPowerOrder runs Kahn's algorithm over the auth DAG restricted to the
// "between" nodes, emitting picked events earliest first and choosing at
// each step the smallest ready event by the power ordering: greater sender
// power, then smaller origin_server_ts, then smaller event ID. Unpicked
// nodes are released as soon as they are ready and never emitted.
func (r *srResolver) kahnPowerOrder(picked, between []bool) []int32 {
	k := r.newSRKahn(between)
	keys := make([]srOrderKey, len(k.nodes))
	for i, n := range k.nodes {
		if picked[n] {
			keys[i] = r.orderKey(n, r.senderPower(n))
		}
	}
	ready := srHeap{less: func(a, b int32) bool { return compareSROrder(keys[a], keys[b]) < 0 }}
	var free []int32
	enqueue := func(i int32) {
		if picked[k.nodes[i]] {
			ready.push(i)
		} else {
			free = append(free, i)
		}
	}
	for i := range k.nodes {
		if k.indeg[i] == 0 {
			enqueue(int32(i))
		}
	}
	out := make([]int32, 0, len(k.nodes))
	for {
		for len(free) > 0 {
			i := free[len(free)-1]
			free = free[:len(free)-1]
			k.release(i, enqueue)
		}
		if ready.len() == 0 {
			break
		}
		i := ready.pop()
		out = append(out, k.nodes[i])
		k.release(i, enqueue)
	}
	return r.appendCycleLeftovers(out, picked, keys, k)
}

// newSRKahn builds in-degrees (auth edges to other included nodes) and the
// reverse edges of the included nodes.
func (r *srResolver) newSRKahn(include []bool) *srKahn {
	g := r.g
	k := &srKahn{local: make([]int32, len(g.events))}
	for i := range k.local {
		k.local[i] = -1
	}
	for _, n := range g.post {
		if include[n] {
			k.local[n] = int32(len(k.nodes))
			k.nodes = append(k.nodes, n)
		}
	}
	k.indeg = make([]int32, len(k.nodes))
	k.citerLo = make([]int32, len(k.nodes)+1)
	for i, n := range k.nodes {
		for _, a := range g.authOf(n) {
			if la := k.local[a]; la >= 0 {
				k.indeg[i]++
				k.citerLo[la+1]++
			}
		}
	}
	for i := 1; i < len(k.citerLo); i++ {
		k.citerLo[i] += k.citerLo[i-1]
	}
	k.citers = make([]int32, k.citerLo[len(k.nodes)])
	fill := slices.Clone(k.citerLo[:len(k.nodes)])
	for i, n := range k.nodes {
		for _, a := range g.authOf(n) {
			if la := k.local[a]; la >= 0 {
				k.citers[fill[la]] = int32(i)
				fill[la]++
			}
		}
	}
	return k
}

// release removes local node i from the graph, enqueueing citers that have
// no auth events left.
func (k *srKahn) release(i int32, enqueue func(int32)) {
	for _, c := range k.citers[k.citerLo[i]:k.citerLo[i+1]] {
		k.indeg[c]--
		if k.indeg[c] == 0 {
			enqueue(c)
		}
	}
}

// appendCycleLeftovers handles picked events Kahn's algorithm never
// reached, which only an auth_events cycle can cause (explicit event IDs,
// v1–v2): they follow in power ordering so the result stays deterministic.
func (r *srResolver) appendCycleLeftovers(out []int32, picked []bool, keys []srOrderKey, k *srKahn) []int32 {
	var left []int32
	for i, n := range k.nodes {
		if picked[n] && k.indeg[i] > 0 {
			left = append(left, int32(i))
		}
	}
	if len(left) == 0 {
		return out
	}
	slices.SortFunc(left, func(a, b int32) int { return compareSROrder(keys[a], keys[b]) })
	for _, i := range left {
		out = append(out, k.nodes[i])
	}
	return out
}

// srHeap is a binary min-heap of local indices.
type srHeap struct {
	items []int32
	less  func(a, b int32) bool
}

func (h *srHeap) len() int { return len(h.items) }

func (h *srHeap) push(x int32) {
	h.items = append(h.items, x)
	for i := len(h.items) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(h.items[i], h.items[parent]) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *srHeap) pop() int32 {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < last && h.less(h.items[l], h.items[small]) {
			small = l
		}
		if r < last && h.less(h.items[r], h.items[small]) {
			small = r
		}
		if small == i {
			return top
		}
		h.items[i], h.items[small] = h.items[small], h.items[i]
		i = small
	}
}
