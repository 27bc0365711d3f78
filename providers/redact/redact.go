package redact

import (
	"io"
	"slices"
)

// MinLength is the shortest value, in bytes, that is masked. A shorter value would match
// ordinary text too often (a four-digit PIN is in every timestamp); such keys are left out
// and listed by Skipped, so a caller can say which secrets its output is not cleaned of.
const MinLength = 8

// Secret is one value to mask and the key the mask names in its place.
type Secret struct {
	Key   string
	Value []byte
}

// Options tunes New. The zero value is the default.
type Options struct {
	// MinLength raises the shortest value masked above the package's MinLength; zero or
	// anything below the constant means the constant, which is a floor, not a default.
	MinLength int
}

// Redactor masks a fixed set of values. It is immutable after New and safe for concurrent
// use; each Writer it makes has its own state.
type Redactor struct {
	a       *automaton
	masks   [][]byte // by owner index: "[REDACTED:key]"
	masked  []string
	skipped []string
}

// New compiles the values of secrets and their encodings into one matcher. A value shorter
// than the minimum length is not masked and its key is listed by Skipped. When two secrets
// have an encoding in common the first secret in the list names the mask.
func New(secrets []Secret, opts Options) *Redactor {
	minLen := max(opts.MinLength, MinLength)
	r := &Redactor{}
	var patterns [][]byte
	var owners []int
	for _, s := range secrets {
		if len(s.Value) < minLen {
			r.skipped = append(r.skipped, s.Key)
			continue
		}
		owner := len(r.masks)
		r.masks = append(r.masks, []byte("[REDACTED:"+s.Key+"]"))
		r.masked = append(r.masked, s.Key)
		for _, f := range encodings(s.Value) {
			patterns = append(patterns, f.text)
			owners = append(owners, owner)
		}
	}
	r.a = newAutomaton(patterns, owners)
	return r
}

// Skipped lists the keys whose values are too short to be masked, in the order given to New.
func (r *Redactor) Skipped() []string { return slices.Clone(r.skipped) }

// Masked lists the keys whose values are masked, in the order given to New.
func (r *Redactor) Masked() []string { return slices.Clone(r.masked) }

// Bytes returns b with every value and encoding of a value replaced by its mask.
func (r *Redactor) Bytes(b []byte) []byte {
	s := scanner{r: r}
	s.feed(b)
	s.flush()
	return s.out
}

// String returns s with every value and encoding of a value replaced by its mask.
func (r *Redactor) String(s string) string { return string(r.Bytes([]byte(s))) }

// Writer returns a writer that masks what is written to it and writes the result to dst.
// It holds back only the tail of each write that may still be the start of a value or an
// encoding (at most the longest encoded form less one byte, plus a match that a longer,
// overlapping one might still extend); Close writes that tail out. Close does not close dst.
func (r *Redactor) Writer(dst io.Writer) io.WriteCloser {
	return &writer{dst: dst, s: scanner{r: r}}
}

// scanner is the matching state over a stream; Bytes and the writer share it.
type scanner struct {
	r       *Redactor
	state   int32  // the automaton's state, as its row's offset
	pending []byte // the bytes not yet output, the held-back tail of earlier feeds first
	out     []byte // output produced by feed and flush, for the caller to take

	// The open cluster: overlapping matches in pending[cs:ce], masked together under the
	// key of the longest of them once no later match can overlap it.
	inCluster bool
	cs, ce    int
	bestLen   int32
	bestOwner int32
}

// feed scans p and appends to s.out what is safe to output: everything up to the first
// byte that may still be part of a match.
func (s *scanner) feed(p []byte) {
	a := s.r.a
	base := len(s.pending)
	s.pending = append(s.pending, p...)
	emitted := 0
	st := s.state
	buf := s.pending
	step, class := a.step, &a.class
	for i := base; i < len(buf); i++ {
		t := step[int(st)+int(class[buf[i]])]
		if t >= 0 {
			st = t
			continue
		}
		st = -t
		id := a.id(st)
		l := a.outLen[id]
		end := i + 1
		start := end - int(l)
		if s.inCluster && start < s.ce {
			s.cs, s.ce = min(s.cs, start), end
			if l > s.bestLen {
				s.bestLen, s.bestOwner = l, a.outOwner[id]
			}
			continue
		}
		if s.inCluster {
			emitted = s.closeCluster(emitted)
		}
		s.inCluster, s.cs, s.ce = true, start, end
		s.bestLen, s.bestOwner = l, a.outOwner[id]
	}
	s.state = st
	// No later match can start before safe: the state's depth is the longest tail of the
	// text that is still the start of some pattern.
	safe := len(buf) - int(a.depth[a.id(st)])
	if s.inCluster && safe >= s.ce {
		emitted = s.closeCluster(emitted)
	}
	limit := safe
	if s.inCluster {
		limit = s.cs
	}
	if limit > emitted {
		s.out = append(s.out, buf[emitted:limit]...)
		emitted = limit
	}
	n := copy(buf, buf[emitted:])
	s.pending = buf[:n]
	if s.inCluster {
		s.cs -= emitted
		s.ce -= emitted
	}
}

// closeCluster outputs the plain bytes before the open cluster and its mask, and returns
// the index in pending up to which output is produced.
func (s *scanner) closeCluster(emitted int) int {
	s.out = append(s.out, s.pending[emitted:s.cs]...)
	s.out = append(s.out, s.r.masks[s.bestOwner]...)
	s.inCluster = false
	return s.ce
}

// flush outputs everything held back: the stream has ended, so no match can grow.
func (s *scanner) flush() {
	emitted := 0
	if s.inCluster {
		emitted = s.closeCluster(0)
	}
	s.out = append(s.out, s.pending[emitted:]...)
	s.pending = s.pending[:0]
	s.state = 0
}

// takeOut returns the output so far and empties it, keeping its buffer for the next feed.
func (s *scanner) takeOut() []byte {
	out := s.out
	s.out = s.out[:0]
	return out
}
