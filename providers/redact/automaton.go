package redact

// automaton is an Aho–Corasick matcher compiled to a full transition table over byte
// classes, so scanning is one table lookup per byte whatever the number of patterns.
//
// It is written here rather than taken from a library because the streaming writer needs
// what the libraries do not expose: the depth of the current state, the length of the
// longest tail of the text seen so far that is still the start of some pattern. That depth
// is exactly how many bytes a write must hold back, no more.
type automaton struct {
	class    [256]uint16 // byte → class; class 0 is every byte no pattern contains (257 classes at most)
	nclass   int
	next     []int32 // while building: state*nclass + class → state
	step     []int32 // the scanning table, see finish
	depth    []int32 // length of the string the state stands for
	outLen   []int32 // length of the longest pattern that ends at this state, 0 if none
	outOwner []int32 // index of that pattern's owner (a key), valid when outLen > 0
	longest  int     // the longest pattern's length
}

// newAutomaton compiles patterns; owners[i] is pattern i's owner index. A pattern listed
// twice keeps the first owner.
func newAutomaton(patterns [][]byte, owners []int) *automaton {
	a := &automaton{}
	a.class, a.nclass = byteClasses(patterns)
	for _, p := range patterns {
		a.longest = max(a.longest, len(p))
	}
	// At most one state per pattern byte, plus the root: sized once, not grown by doubling.
	states := 1
	for _, p := range patterns {
		states += len(p)
	}
	a.next = make([]int32, 0, states*a.nclass)
	// The trie, with -1 for a missing edge; completed into a DFA below.
	a.addState(0)
	for i, p := range patterns {
		s := int32(0)
		for _, c := range p {
			slot := int(s)*a.nclass + int(a.class[c])
			if a.next[slot] == 0 {
				t := a.addState(a.depth[s] + 1) // grows a.next: index after
				a.next[slot] = t
			}
			s = a.next[slot]
		}
		if a.outLen[s] == 0 {
			a.outLen[s] = int32(len(p))
			a.outOwner[s] = int32(owners[i])
		}
	}
	a.complete()
	a.finish()
	return a
}

// finish turns next into step, the table the scan reads: states are named by their row's
// offset (state*nclass), so a step is one addition and one load, and an entry is negated
// when its state reports a pattern, so the scan needs no second load for the common byte
// that completes nothing. The root never reports (no pattern is empty), so 0 is unambiguous.
func (a *automaton) finish() {
	a.step = a.next
	a.next = nil
	n := int32(a.nclass)
	for i, t := range a.step {
		off := t * n
		if a.outLen[t] > 0 {
			off = -off
		}
		a.step[i] = off
	}
}

// byteClasses numbers the distinct bytes of patterns from 1 in order of first use; class 0
// is every byte no pattern contains, which always leads back to the root. n counts class 0.
func byteClasses(patterns [][]byte) (class [256]uint16, n int) {
	for _, p := range patterns {
		for _, c := range p {
			if class[c] == 0 {
				n++
				class[c] = uint16(n)
			}
		}
	}
	return class, n + 1
}

// id is the state whose row starts at off.
func (a *automaton) id(off int32) int32 { return off / int32(a.nclass) }

// addState appends a state whose edges all lead back to the root (0 means "none yet" while
// the trie is built: no edge of the trie leads to the root).
func (a *automaton) addState(depth int32) int32 {
	id := int32(len(a.depth))
	a.next = append(a.next, make([]int32, a.nclass)...)
	a.depth = append(a.depth, depth)
	a.outLen = append(a.outLen, 0)
	a.outOwner = append(a.outOwner, 0)
	return id
}

// complete turns the trie into the DFA in breadth-first order: a missing edge of a state
// takes its failure state's edge, and a state with no pattern of its own reports the
// longest pattern its failure state reports (a pattern that ends here as a suffix).
func (a *automaton) complete() {
	n := a.nclass
	fail := make([]int32, len(a.depth))
	queue := make([]int32, 0, len(a.depth))
	for c := 0; c < n; c++ {
		if t := a.next[c]; t > 0 {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := fail[s]
		if a.outLen[s] == 0 && a.outLen[f] > 0 {
			a.outLen[s], a.outOwner[s] = a.outLen[f], a.outOwner[f]
		}
		for c := 0; c < n; c++ {
			slot := int(s)*n + c
			t := a.next[slot]
			if t > 0 {
				fail[t] = a.next[int(f)*n+c]
				queue = append(queue, t)
				continue
			}
			a.next[slot] = a.next[int(f)*n+c]
		}
	}
}
