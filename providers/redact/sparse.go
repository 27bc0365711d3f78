package redact

import "math/bits"

// sparseAutomaton is the Aho–Corasick matcher behind the Scanner, for pattern sets where
// automaton's full table (a row of 4-byte entries per state and byte class) does not fit:
// 10,000 values in their encoded forms are over 100,000 patterns and millions of states.
//
// Only the shallow states get full rows (every state up to the depth whose rows fit in
// denseBudget): a scan over ordinary text spends nearly all its steps there, and they are
// the states with many edges. A deeper state almost always has a single edge, and that
// edge costs nothing to store: the states a pattern adds below the part of it already in
// the trie are created one after another, so "the edge to the next state, on that state's
// label" is one flag bit. The other edges, where patterns part ways, are in an
// open-addressed hash table. So a deep state costs one 8-byte node (its label, its flags,
// its failure link and the byte of its first hashed edge), side by side so that a step
// through a deep state touches one cache line (its child's label is in the next node).
type sparseAutomaton struct {
	class      [256]uint16
	nclass     int
	nDense     int32 // states 0..nDense-1 are every state up to denseDepth, in depth order
	denseDepth int
	dense      []int32 // state*nclass + class → next state, failure links folded in
	nodes      []node
	edges      edgeTable
	heads      map[int32]int32 // a state where patterns end → index in outs of the first
	outs       []sparseOut
	// longest is the longest pattern's length: no match ends more than that after its start.
	longest int
}

// node is one state: the byte on the edge into it, its flags, its failure link, and the
// byte of its first edge in the hash table, so that a state with one such edge (most
// states of the first levels below the full rows) answers "no edge on c" without a lookup.
type node struct {
	fail  int32
	lab   byte
	flags uint8
	elab  byte
}

// sparseOut is one pattern that ends at a state, chained through next (-1 ends the chain).
type sparseOut struct {
	owner  int32
	length int32
	enc    encoding
	next   int32
}

const (
	flagChain uint8 = 1 << iota // state s+1 is a child of s, on the byte nodes[s+1].lab
	flagEdges                   // s has children in edges
	flagOwn                     // patterns end at s (heads has them)
	flagOut                     // a pattern ends at s or at a state on its failure chain
	flagMulti                   // s has more than one child in edges
)

// denseBudget bounds the full rows: it holds the 32,752 states of depth ≤ 3 of the
// benchmark's 10,000 text-like values (66 byte classes, 8.6 MB), while binary values (257
// classes, a KB a row) stop at depth 1 once they have more than 16,000 two-byte prefixes.
// Depth 4 would be hundreds of thousands of rows, over the budget for any value set that
// needs this automaton; maxDenseDepth stops there.
//
// The states down to shallowDepth are numbered level by level too, those below the full
// rows as well: a scan over text of the values' alphabet keeps stepping from a full row to
// one of them and back, so they are kept together (at most one per pattern: under 0.6 MB
// of the benchmark's 33 MB of states) rather than each next to its pattern's deeper states.
const (
	denseBudget   = 16 << 20
	maxDenseDepth = 3
	shallowDepth  = 4
)

// newSparseAutomaton compiles patterns; outs[i] says whose pattern i is and in which
// encoding (its length and next are filled in here). A pattern listed twice reports both.
func newSparseAutomaton(patterns [][]byte, outs []sparseOut) *sparseAutomaton {
	a := &sparseAutomaton{heads: make(map[int32]int32, len(patterns)), outs: outs}
	a.class, a.nclass = byteClasses(patterns)
	total, shortest := 1, 0
	for i, p := range patterns {
		total += len(p)
		a.longest = max(a.longest, len(p))
		if i == 0 || len(p) < shortest {
			shortest = len(p)
		}
	}
	a.nodes = make([]node, 1, total)
	a.edges.init(len(patterns))
	a.nDense = 1
	// The shallow levels first, level by level, so that they are the lowest-numbered states;
	// only levels above the shortest pattern, so no shallow state reports a match and a
	// scan's step from one to another needs no look at the state.
	for k := 1; k <= min(shallowDepth, shortest-1); k++ {
		for _, p := range patterns {
			if len(p) >= k {
				a.insert(p[:k])
			}
		}
		if k <= maxDenseDepth && k == a.denseDepth+1 && len(a.nodes)*a.nclass*4 <= denseBudget {
			a.nDense, a.denseDepth = int32(len(a.nodes)), k
		}
	}
	for i, p := range patterns {
		s := a.insert(p)
		a.outs[i].length = int32(len(p))
		a.outs[i].next = -1
		if a.nodes[s].flags&flagOwn != 0 {
			a.outs[i].next = a.heads[s]
		}
		a.heads[s] = int32(i)
		a.nodes[s].flags |= flagOwn | flagOut
	}
	a.linkFailures(patterns)
	return a
}

// insert adds p to the trie and returns the state it ends at.
func (a *sparseAutomaton) insert(p []byte) int32 {
	s := int32(0)
	for i, c := range p {
		t := a.child(s, c)
		if t < 0 {
			return a.extend(s, p[i:])
		}
		s = t
	}
	return s
}

// extend adds the states for rest below s, each the next state after its parent except
// where s already has its chain child.
func (a *sparseAutomaton) extend(s int32, rest []byte) int32 {
	for _, c := range rest {
		n := int32(len(a.nodes))
		a.nodes = append(a.nodes, node{fail: -1, lab: c})
		if n == s+1 && a.nodes[s].flags&flagChain == 0 {
			a.nodes[s].flags |= flagChain
		} else {
			a.edges.put(s, c, n)
			if a.nodes[s].flags&flagEdges == 0 {
				a.nodes[s].elab = c
			} else {
				a.nodes[s].flags |= flagMulti
			}
			a.nodes[s].flags |= flagEdges
		}
		s = n
	}
	return s
}

// child is the trie edge from s on c, or -1.
func (a *sparseAutomaton) child(s int32, c byte) int32 {
	n := &a.nodes[s]
	if n.flags&flagChain != 0 && a.nodes[s+1].lab == c {
		return s + 1
	}
	if n.flags&flagEdges != 0 && (n.elab == c || n.flags&flagMulti != 0) {
		return a.edges.get(s, c)
	}
	return -1
}

// next is the state after s on c: the trie edge, or the failure chain's down to a state
// with a full row (the root has one, so this ends).
func (a *sparseAutomaton) next(s int32, c byte) int32 {
	for s >= a.nDense {
		if t := a.child(s, c); t >= 0 {
			return t
		}
		s = a.nodes[s].fail
	}
	return a.dense[int(s)*a.nclass+int(a.class[c])]
}

// linkFailures sets each state's failure link, depth by depth, by following every pattern
// one byte further per round: the trie has no parent links or child lists to walk it
// breadth-first with, and every state is on some pattern's path. A state's failure link is
// shallower than itself, so it is complete when the state's depth comes round. Once the
// shallow states have theirs, their full rows are filled, and the deeper states' failure
// links are found with next, whose walk down the failure chain ends at the first of them.
func (a *sparseAutomaton) linkFailures(patterns [][]byte) {
	// The patterns still longer than k, in the order they were inserted: their states were
	// created in that order, so each round sweeps the states forward instead of at random.
	active := make([]int32, len(patterns))
	for i := range active {
		active[i] = int32(i)
	}
	cur := make([]int32, len(patterns)) // pattern i's state at the depth reached
	for k := 0; ; k++ {
		if k == a.denseDepth {
			a.fillDense()
		}
		progressed := false
		kept := active[:0]
		for _, i := range active {
			p := patterns[i]
			if len(p) <= k {
				continue
			}
			kept = append(kept, i)
			progressed = true
			s := cur[i]
			n := a.child(s, p[k])
			cur[i] = n
			if a.nodes[n].fail >= 0 {
				continue
			}
			f := int32(0)
			switch {
			case s == 0:
			case k < a.denseDepth:
				f = a.gotoFrom(a.nodes[s].fail, p[k])
			default:
				f = a.next(a.nodes[s].fail, p[k])
			}
			a.nodes[n].fail = f
			a.nodes[n].flags |= a.nodes[f].flags & flagOut
		}
		active = kept
		if !progressed && k >= a.denseDepth {
			return
		}
	}
}

// gotoFrom is the deepest state for (the string of s) + c that is in the trie, using only
// trie edges and failure links, as while the failure links are being set.
func (a *sparseAutomaton) gotoFrom(s int32, c byte) int32 {
	for {
		if t := a.child(s, c); t >= 0 {
			return t
		}
		if s == 0 {
			return 0
		}
		s = a.nodes[s].fail
	}
}

// fillDense builds the full rows of the shallow states in depth order, so a missing edge
// copies the entry of the failure state's row, which is already filled.
func (a *sparseAutomaton) fillDense() {
	n := a.nclass
	var byteOf [257]byte
	for b := range 256 {
		byteOf[a.class[b]] = byte(b)
	}
	a.dense = make([]int32, int(a.nDense)*n)
	for s := int32(0); s < a.nDense; s++ {
		row := a.dense[int(s)*n : int(s+1)*n]
		frow := a.dense[int(a.nodes[s].fail)*n:]
		for c := 1; c < n; c++ {
			if t := a.child(s, byteOf[c]); t >= 0 {
				row[c] = t
			} else if s != 0 {
				row[c] = frow[c]
			}
		}
	}
}

// size is the automaton's memory, for the benchmark's figures.
func (a *sparseAutomaton) size() int {
	return len(a.dense)*4 + len(a.nodes)*8 +
		len(a.edges.keys)*12 + len(a.heads)*8 + len(a.outs)*16
}

// edgeTable maps (state, byte) to a state by open addressing with linear probing: the
// edges where patterns part ways, a few per pattern, too many for a map's overhead.
type edgeTable struct {
	keys  []uint64 // (state<<8 | byte) + 1; 0 is an empty slot
	vals  []int32
	n     int
	shift uint
}

func (t *edgeTable) init(hint int) {
	size := 1 << bits.Len(uint(2*max(hint, 8)-1)) // the power of two ≥ 2*hint
	t.keys = make([]uint64, size)
	t.vals = make([]int32, size)
	t.n = 0
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
}

func (t *edgeTable) slot(k uint64) int { return int((k * 0x9E3779B97F4A7C15) >> t.shift) }

func (t *edgeTable) get(s int32, c byte) int32 {
	k := (uint64(s)<<8 | uint64(c)) + 1
	mask := len(t.keys) - 1
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return t.vals[i]
		case 0:
			return -1
		}
	}
}

// put adds an edge that is not in the table yet, growing it to stay at most half full.
func (t *edgeTable) put(s int32, c byte, to int32) {
	if 2*(t.n+1) > len(t.keys) {
		old, oldVals := t.keys, t.vals
		t.init(len(old))
		for i, k := range old {
			if k != 0 {
				t.insertKey(k, oldVals[i])
			}
		}
	}
	t.insertKey((uint64(s)<<8|uint64(c))+1, to)
}

func (t *edgeTable) insertKey(k uint64, v int32) {
	mask := len(t.keys) - 1
	i := t.slot(k)
	for t.keys[i] != 0 {
		i = (i + 1) & mask
	}
	t.keys[i], t.vals[i] = k, v
	t.n++
}
