package redact

import (
	"bytes"
	"cmp"
	"io"
	"math"
	"slices"
)

// The encodings a Finding names. A form that is two of them at once (a value of letters and
// digits is its own URL escape) is named by the first in this order.
const (
	EncodingRaw       = "raw"
	EncodingBase64    = "base64"    // standard, padded or not, or a core inside longer base64
	EncodingBase64URL = "base64url" // URL-safe, likewise
	EncodingURL       = "url"       // QueryEscape or PathEscape form
	EncodingJSON      = "json"      // inside a JSON string
	EncodingHex       = "hex"       // lower or upper case
)

// ScanValue is one value to look for and the caller's handle for it.
type ScanValue struct {
	Ref   int // the caller's handle, given back in findings
	Value []byte
}

// Finding is one occurrence of a value in a scanned text. It says where the value is and
// in which encoding, never the value.
type Finding struct {
	Ref      int
	Encoding string // one of the Encoding* constants
	Offset   int64  // byte offset of the occurrence in the text
	Length   int    // its length in the text
	Line     int    // 1-based line of Offset
	Column   int    // 1-based byte column of Offset in that line
}

// Scanner finds which of many values occur in a text, and in which encoding: the leak scan
// over logs and files, for thousands of values where a Redactor is for one process's few.
// It is immutable after NewScanner and safe for concurrent use.
type Scanner struct {
	a       *sparseAutomaton
	refs    []int // by owner index
	skipped []int
}

// scanChunk is how much of the text Scan reads at a time.
const scanChunk = 64 << 10

// NewScanner builds a scanner for values; a value shorter than MinLength is not looked for
// (Skipped reports its Ref).
func NewScanner(values []ScanValue) *Scanner {
	s := &Scanner{}
	var patterns [][]byte
	var outs []sparseOut
	for _, v := range values {
		if len(v.Value) < MinLength {
			s.skipped = append(s.skipped, v.Ref)
			continue
		}
		owner := int32(len(s.refs))
		s.refs = append(s.refs, v.Ref)
		for _, f := range encodings(v.Value) {
			patterns = append(patterns, f.text)
			outs = append(outs, sparseOut{owner: owner, enc: f.enc})
		}
	}
	s.a = newSparseAutomaton(patterns, outs)
	return s
}

// Skipped lists the Refs of the values too short to be looked for, in the order given.
func (s *Scanner) Skipped() []int { return slices.Clone(s.skipped) }

// Contains reports whether b holds any of the values in any encoding.
func (s *Scanner) Contains(b []byte) bool {
	a := s.a
	st := int32(0)
	for _, c := range b {
		st = a.next(st, c)
		if a.nodes[st].flags&flagOut != 0 {
			return true
		}
	}
	return false
}

// Scan reads r to its end and returns the occurrences, in text order, at most maxFindings
// of them (truncated reports that there were more). Occurrences of one Ref that overlap are
// one finding, the longest of them (the earliest of equally long ones): a base64 core inside
// the value's full base64 form is not reported again. Two Refs with the same value are both
// reported. Findings at one offset are ordered by Ref. A maxFindings below 1 returns none
// and reports in truncated whether there were any. On a read error, the findings up to it
// are returned with the error.
//
// The text is read in chunks and only the automaton's state, the newlines of the last
// chunk and of the longest pattern's length before it, and the matches that a later one
// may still overlap are kept between them, so the memory does not grow with the text, only
// with the findings (at most 2*maxFindings+1 are held at once). Once maxFindings earlier
// findings are certain, the rest of r is read and not scanned.
func (s *Scanner) Scan(r io.Reader, maxFindings int) (findings []Finding, truncated bool, err error) {
	run := scanRun{s: s, max: max(maxFindings, 0), lastDropped: -1}
	buf := make([]byte, scanChunk)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			run.chunk(buf[:n])
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
		if run.complete() {
			_, err = io.Copy(io.Discard, r)
			break
		}
	}
	run.closeUntil(math.MaxInt64)
	run.cut()
	return run.found, run.truncated, err
}

// scanRun is one Scan's state.
type scanRun struct {
	s     *Scanner
	max   int
	state int32
	pos   int64 // offset of the next byte to read

	// Newlines: the offsets of those a match may still start after, and the count and the
	// last of those dropped, to give a match's line and column.
	nl          []int64
	dropped     int
	lastDropped int64

	open      []cluster // per Ref, the matches a later one may still overlap
	found     []Finding
	truncated bool
}

// cluster is a run of overlapping matches of one value, [cs, ce), and the longest of them.
type cluster struct {
	owner  int32
	cs, ce int64
	best   Finding
}

// chunk scans b, the text from r.pos on.
func (r *scanRun) chunk(b []byte) {
	a := r.s.a
	start := r.pos
	r.dropLines(start - int64(a.longest))
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		r.nl = append(r.nl, start+int64(i+j))
		i += j + 1
	}
	st := r.state
	dense, class, nodes, nclass, nDense := a.dense, &a.class, a.nodes, a.nclass, a.nDense
	for i, c := range b {
		if st < nDense {
			if st = dense[int(st)*nclass+int(class[c])]; st < nDense {
				continue // no shallow state reports a match
			}
		} else {
			st = a.next(st, c)
		}
		if nodes[st].flags&flagOut != 0 {
			r.report(st, start+int64(i)+1)
		}
	}
	r.state = st
	r.pos = start + int64(len(b))
	// A later match ends at pos+1 or after, so it starts at pos+1-longest or after.
	r.closeUntil(r.pos + 1 - int64(a.longest))
}

// report records every pattern that ends at end, where the automaton reached state st.
func (r *scanRun) report(st int32, end int64) {
	a := r.s.a
	for t := st; t > 0 && a.nodes[t].flags&flagOut != 0; t = a.nodes[t].fail {
		if a.nodes[t].flags&flagOwn == 0 {
			continue
		}
		for o := a.heads[t]; o >= 0; o = a.outs[o].next {
			out := a.outs[o]
			r.add(out, end-int64(out.length))
		}
	}
}

// add merges the match of out at off with the open clusters of its value that it
// overlaps: it ends at or after every earlier match, so it overlaps a cluster exactly
// when it starts before the cluster's end.
func (r *scanRun) add(out sparseOut, off int64) {
	line, col := r.lineColumn(off)
	c := cluster{owner: out.owner, cs: off, ce: off + int64(out.length), best: Finding{
		Ref: r.s.refs[out.owner], Encoding: encodingNames[out.enc],
		Offset: off, Length: int(out.length), Line: line, Column: col,
	}}
	kept := r.open[:0]
	for _, o := range r.open {
		if o.owner != c.owner || o.ce <= c.cs {
			kept = append(kept, o)
			continue
		}
		c.cs, c.ce = min(c.cs, o.cs), max(c.ce, o.ce)
		if o.best.Length > c.best.Length || o.best.Length == c.best.Length && o.best.Offset < c.best.Offset {
			c.best = o.best
		}
	}
	r.open = append(kept, c)
}

// closeUntil turns the open clusters that end at or before limit into findings.
func (r *scanRun) closeUntil(limit int64) {
	kept := r.open[:0]
	for _, o := range r.open {
		if o.ce > limit {
			kept = append(kept, o)
			continue
		}
		r.found = append(r.found, o.best)
		if len(r.found)-r.max > r.max { // not 2*max, which may overflow
			r.cut()
		}
	}
	r.open = kept
}

// cut sorts the findings and keeps the first max of them.
func (r *scanRun) cut() {
	slices.SortFunc(r.found, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(x.Offset, y.Offset), cmp.Compare(x.Ref, y.Ref))
	})
	if len(r.found) > r.max {
		r.found = r.found[:r.max]
		r.truncated = true
	}
}

// complete reports whether no later finding can be among the first max: findings have
// been dropped, so max of them are kept, and every one still to come starts after them.
func (r *scanRun) complete() bool {
	if !r.truncated {
		return false
	}
	r.cut()
	last := int64(-1)
	if r.max > 0 {
		last = r.found[r.max-1].Offset
	}
	if r.pos+1-int64(r.s.a.longest) <= last {
		return false
	}
	for _, o := range r.open {
		if o.cs <= last {
			return false
		}
	}
	return true
}

// lineColumn gives the line and column of off, which is at most one pattern's length
// before the chunk being scanned.
func (r *scanRun) lineColumn(off int64) (line, column int) {
	k, _ := slices.BinarySearch(r.nl, off) // the newlines before off
	prev := r.lastDropped
	if k > 0 {
		prev = r.nl[k-1]
	}
	return r.dropped + k + 1, int(off - prev)
}

// dropLines forgets the newlines before from: no match still to come starts before it.
func (r *scanRun) dropLines(from int64) {
	k, _ := slices.BinarySearch(r.nl, from)
	if k == 0 {
		return
	}
	r.lastDropped = r.nl[k-1]
	r.dropped += k
	r.nl = append(r.nl[:0], r.nl[k:]...)
}
