package roomserver

// srGraph is the auth-event graph one resolution works on. Every event gets
// a small integer index on first sight; the auth_events edges are stored as
// index lists in one shared slice, so the walks below are integer work and
// each event is loaded from the EventLoader exactly once per resolution.
type srGraph struct {
	loader EventLoader
	index  map[string]int32
	events []Event
	authLo []int32 // auth edges of node i are edges[authLo[i]:authHi[i]]
	authHi []int32
	edges  []int32
	visit  []uint8 // walk state per node: srUnseen, srOpen, srDone
	// post lists every walked node after all of its auth events (a DFS
	// postorder): reading it forwards goes from the room's start towards
	// the state sets, reading it backwards goes from citers to cited.
	post []int32
}

func newSRGraph(loader EventLoader, sizeHint int) *srGraph {
	return &srGraph{
		loader: loader,
		index:  make(map[string]int32, sizeHint),
		events: make([]Event, 0, sizeHint),
		authLo: make([]int32, 0, sizeHint),
		authHi: make([]int32, 0, sizeHint),
		edges:  make([]int32, 0, sizeHint*3),
		visit:  make([]uint8, 0, sizeHint),
		post:   make([]int32, 0, sizeHint),
	}
}

// node returns the index of event id, loading it on first sight.
func (g *srGraph) node(id string) (int32, error) {
	if n, ok := g.index[id]; ok {
		return n, nil
	}
	ev, ok := g.loader.Event(id)
	if !ok || ev == nil {
		return -1, srMissing(id)
	}
	n := int32(len(g.events))
	g.index[id] = n
	g.events = append(g.events, ev)
	g.authLo = append(g.authLo, 0)
	g.authHi = append(g.authHi, 0)
	g.visit = append(g.visit, srUnseen)
	return n, nil
}

// authOf returns the auth events of node n as indices.
func (g *srGraph) authOf(n int32) []int32 {
	return g.edges[g.authLo[n]:g.authHi[n]]
}

// expand loads the auth events of n and records them as its edges.
func (g *srGraph) expand(n int32) error {
	ids := g.events[n].AuthEventIDs()
	lo := int32(len(g.edges))
	for _, id := range ids {
		a, err := g.node(id)
		if err != nil {
			return err
		}
		g.edges = append(g.edges, a)
	}
	g.authLo[n], g.authHi[n] = lo, int32(len(g.edges))
	return nil
}

// Walk states of a node.
const (
	srUnseen uint8 = iota
	srOpen
	srDone
)

// walkAuthChains loads the auth chains of roots (the "auth chain"
// definition: everything reachable through auth_events) and appends every
// node reached, roots included, to g.post in postorder. It is iterative so
// chains of any length walk without deep recursion. An auth_events cycle
// (impossible with hash event IDs, v3+) is cut where it closes.
func (g *srGraph) walkAuthChains(roots []int32) error {
	type frame struct{ n, next int32 }
	var stack []frame
	for _, r := range roots {
		if g.visit[r] != srUnseen {
			continue
		}
		if err := g.open(r); err != nil {
			return err
		}
		stack = append(stack[:0], frame{r, g.authLo[r]})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == g.authHi[top.n] {
				g.visit[top.n] = srDone
				g.post = append(g.post, top.n)
				stack = stack[:len(stack)-1]
				continue
			}
			a := g.edges[top.next]
			top.next++
			if g.visit[a] != srUnseen {
				continue
			}
			if err := g.open(a); err != nil {
				return err
			}
			stack = append(stack, frame{a, g.authLo[a]})
		}
	}
	return nil
}

// open marks n as being walked and loads its auth events.
func (g *srGraph) open(n int32) error {
	g.visit[n] = srOpen
	return g.expand(n)
}

// authDifference marks the nodes in the "auth difference": the union of
// the full auth chains of the state sets minus their intersection. A state
// set's full auth chain is taken to include the set's own events, so an
// event every set holds (shared) is in every chain; this only matters for
// such events themselves. sets lists each set's other events. One pass
// over the graph from citers to cited ORs a bit per state set into each
// node, so the cost is linear in the graph whatever the number of sets.
func (g *srGraph) authDifference(shared []int32, sets [][]int32) []bool {
	n := len(g.events)
	words := (len(sets) + 63) / 64
	masks := make([]uint64, n*words)
	for _, e := range shared {
		for i := range sets {
			masks[int(e)*words+i/64] |= 1 << (i % 64)
		}
	}
	for i, set := range sets {
		for _, e := range set {
			masks[int(e)*words+i/64] |= 1 << (i % 64)
		}
	}
	for p := len(g.post) - 1; p >= 0; p-- {
		from := masks[int(g.post[p])*words : int(g.post[p]+1)*words]
		for _, a := range g.authOf(g.post[p]) {
			to := masks[int(a)*words : int(a+1)*words]
			for w := range to {
				to[w] |= from[w]
			}
		}
	}
	diff := make([]bool, n)
	for _, e := range g.post {
		diff[e] = !srAllSet(masks[int(e)*words:int(e+1)*words], len(sets))
	}
	return diff
}

// srAllSet reports whether the first k bits of mask are all set.
func srAllSet(mask []uint64, k int) bool {
	for w, m := range mask {
		bits := k - 64*w
		want := ^uint64(0)
		if bits < 64 {
			want = 1<<bits - 1
		}
		if m&want != want {
			return false
		}
	}
	return true
}

// descendantsOf marks the nodes reachable from the seeds through at least
// one auth_events edge ("forwards reachable" from the seeds' point of view
// of the auth chain), plus the seeds themselves.
func (g *srGraph) descendantsOf(seed []bool) []bool {
	out := make([]bool, len(g.events))
	copy(out, seed)
	for p := len(g.post) - 1; p >= 0; p-- {
		if n := g.post[p]; out[n] {
			for _, a := range g.authOf(n) {
				out[a] = true
			}
		}
	}
	return out
}

// ancestorsOf marks the nodes whose auth chain contains a seed, plus the
// seeds themselves.
func (g *srGraph) ancestorsOf(seed []bool) []bool {
	out := make([]bool, len(g.events))
	copy(out, seed)
	for _, n := range g.post {
		if out[n] {
			continue
		}
		for _, a := range g.authOf(n) {
			if out[a] {
				out[n] = true
				break
			}
		}
	}
	return out
}

// conflictedSubgraph marks the v2.1 "conflicted state subgraph": every
// event on an auth_events path between two events of the conflicted state
// set, endpoints included. A node is on such a path exactly when it is
// reachable from a conflicted event and a conflicted event is in its own
// auth chain.
func (g *srGraph) conflictedSubgraph(conflicted []bool) []bool {
	below := g.descendantsOf(conflicted)
	above := g.ancestorsOf(conflicted)
	for i := range below {
		below[i] = below[i] && above[i]
	}
	return below
}
