package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
)

// ExportReport is what VerifyExport found in an export file, offline.
type ExportReport struct {
	Events                      int64
	FirstPosition, LastPosition int64
	// Linked counts pairs of exported events at consecutive positions whose link
	// (prev_hash = the hash before) was checked; Gaps counts places where positions
	// are not consecutive (other companies' events, or events outside the filter),
	// across which nothing can be checked offline.
	Linked, Gaps int64
	// Checkpoint is the export's signed checkpoint, nil when it has none.
	Checkpoint *checkpoint.Checkpoint
	// KeyFromFile says the signature was checked against the public key written in
	// the export itself (no key was given), which proves nothing against someone who
	// could rewrite the file.
	KeyFromFile bool
	// Anchored says the last exported event is the checkpointed one; AnchoredFrom is
	// then the first position of the unbroken run of events that ends there.
	Anchored     bool
	AnchoredFrom int64
	// Complete is the export's own claim that it was not cut at its size limit.
	Complete bool
	// Redacted counts events exported without their credential fields: their hash
	// cannot be recomputed, their content is checked against the instance's signed
	// attestation instead.
	Redacted int64
	Findings []Finding
}

// OK reports whether nothing was found wrong.
func (r ExportReport) OK() bool { return len(r.Findings) == 0 }

// Finding is one problem, at an exported position (0: the file as a whole).
type Finding struct {
	Position int64
	Problem  string
}

// VerifyExport checks an export file: every event's hash against its fields and
// prev_hash, the link between events at consecutive positions, and the checkpoint's
// signature (against pub; nil uses the key in the file) and that it covers the last
// exported event (and matches it, when it is at the same position). It reports every
// finding; an error is only an unreadable file.
func VerifyExport(r io.Reader, pub ed25519.PublicKey) (ExportReport, error) {
	v := exportVerifier{pub: pub}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		v.line(n, sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		return v.rep, fmt.Errorf("audit: read export: %w", err)
	}
	v.finish()
	return v.rep, nil
}

// exportVerifier is VerifyExport's state while it reads an export line by line.
type exportVerifier struct {
	rep ExportReport
	// pub is the key the caller gave; nil uses the keys written in the file.
	pub ed25519.PublicKey
	// prevPos and prevHash are the last event read; runStart is the first position of
	// the unbroken run of events that ends there.
	prevPos, runStart     int64
	prevHash              []byte
	sawHeader, sawEnd     bool
	keyText, redactionKey string
}

func (v *exportVerifier) find(pos int64, format string, args ...any) {
	v.rep.Findings = append(v.rep.Findings, Finding{Position: pos, Problem: fmt.Sprintf(format, args...)})
}

// line checks line n of the file.
func (v *exportVerifier) line(n int, line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	var kind struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(line, &kind); err != nil {
		v.find(0, "line %d is not JSON", n)
		return
	}
	if v.sawEnd {
		v.find(0, "line %d follows the end line", n)
	}
	switch kind.Kind {
	case "header":
		v.header(n, line)
	case "event":
		v.event(n, line)
	case "checkpoint":
		v.checkpoint(n, line)
	case "no_checkpoint":
	case "end":
		v.end(n, line)
	default:
		v.find(0, "line %d: unknown kind %q", n, kind.Kind)
	}
}

func (v *exportVerifier) header(n int, line []byte) {
	var h exportHeader
	if err := json.Unmarshal(line, &h); err != nil || (h.Format != ExportFormat && h.Format != ExportFormatV1) {
		v.find(0, "line %d: not a %s header", n, ExportFormat)
	}
	v.redactionKey = h.RedactionKey
	if v.sawHeader || n != 1 {
		v.find(0, "line %d: the header must be the first line, once", n)
	}
	v.sawHeader = true
}

// event checks an event's link to the event before it and its hash (or, redacted, its
// attestation).
func (v *exportVerifier) event(n int, line []byte) {
	rep := &v.rep
	var e ExportedEvent
	if err := json.Unmarshal(line, &e); err != nil {
		v.find(0, "line %d: malformed event", n)
		return
	}
	rep.Events++
	if rep.FirstPosition == 0 {
		rep.FirstPosition = e.Position
	}
	prev, err1 := hex.DecodeString(e.PrevHash)
	hash, err2 := hex.DecodeString(e.Hash)
	at, err3 := time.Parse("2006-01-02T15:04:05.000000Z", e.RecordedAt)
	if err1 != nil || err2 != nil || err3 != nil {
		v.find(e.Position, "malformed hash, prev_hash or recordedAt")
		return
	}
	switch {
	case e.Position <= v.prevPos:
		v.find(e.Position, "position %d does not follow %d: events are out of order or repeated", e.Position, v.prevPos)
	case v.prevPos > 0 && e.Position == v.prevPos+1:
		rep.Linked++
		if !bytes.Equal(prev, v.prevHash) {
			v.find(e.Position, "prev_hash does not match the hash of the event at %d (an event was changed and re-hashed, removed or reordered)", v.prevPos)
		}
	case v.prevPos > 0:
		rep.Gaps++
		v.runStart = e.Position
	default:
		v.runStart = e.Position
	}
	if e.Redacted || e.Attestation != "" {
		rep.Redacted++
		key, fromFile := redactionPub(v.pub, v.redactionKey)
		rep.KeyFromFile = rep.KeyFromFile || fromFile
		if !attested(e, prev, hash, at, key) {
			v.find(e.Position, "the event's credential fields were left out and its content does not match the instance's signed attestation (the event was changed, or the attestation is missing or signed by another key)")
		}
	} else if got := eventstore.ChainHash(prev, chainFieldsOf(e, e.Payload, at)); !bytes.Equal(got, hash) {
		v.find(e.Position, "hash does not match the event's content (the event was changed)")
	}
	v.prevPos, v.prevHash = e.Position, hash
	rep.LastPosition = e.Position
}

func (v *exportVerifier) checkpoint(n int, line []byte) {
	var c exportCheckpoint
	if err := json.Unmarshal(line, &c); err != nil {
		v.find(0, "line %d: malformed checkpoint line", n)
		return
	}
	cp, err := checkpoint.ParseLine(c.Checkpoint)
	if err != nil {
		v.find(0, "line %d: malformed checkpoint", n)
		return
	}
	v.rep.Checkpoint, v.keyText = &cp, c.PublicKey
}

func (v *exportVerifier) end(n int, line []byte) {
	var e exportEnd
	if err := json.Unmarshal(line, &e); err != nil {
		v.find(0, "line %d: malformed end line", n)
		return
	}
	v.sawEnd, v.rep.Complete = true, e.Complete
	if e.Events != v.rep.Events || e.LastPosition != v.rep.LastPosition {
		v.find(0, "the end line counts %d events up to position %d; the file has %d up to %d (lines were removed or added)",
			e.Events, e.LastPosition, v.rep.Events, v.rep.LastPosition)
	}
}

// finish checks what the file as a whole must hold once it is read: a header, an end
// line, and a checkpoint that is validly signed and covers the last exported event.
func (v *exportVerifier) finish() {
	if !v.sawHeader {
		v.find(0, "no %s header: not an audit export", ExportFormat)
	}
	if !v.sawEnd {
		v.find(0, "no end line: the export is cut short")
	}
	cp := v.rep.Checkpoint
	if cp == nil {
		return
	}
	pub := v.pub
	if pub == nil {
		k, err := checkpoint.ParsePublicKey(v.keyText)
		if err != nil {
			v.find(cp.Position, "the checkpoint has no readable public key and none was given")
		}
		pub, v.rep.KeyFromFile = k, true
	}
	switch {
	case pub != nil && !cp.Valid(pub):
		v.find(cp.Position, "the checkpoint's signature is not valid for the public key")
	case cp.Position < v.rep.LastPosition:
		v.find(cp.Position, "the checkpoint at %d does not cover the last exported position %d", cp.Position, v.rep.LastPosition)
	case cp.Position == v.rep.LastPosition:
		if !bytes.Equal(cp.Hash, v.prevHash) {
			v.find(cp.Position, "the last exported event's hash differs from the signed checkpoint's")
		} else {
			v.rep.Anchored, v.rep.AnchoredFrom = true, v.runStart
		}
	}
}

// redactionPub is the key attestations are checked with: pub when given, else the one
// the export's header names (which proves nothing against whoever could rewrite the
// file: fromFile).
func redactionPub(pub ed25519.PublicKey, header string) (key ed25519.PublicKey, fromFile bool) {
	if pub != nil {
		return pub, false
	}
	k, err := checkpoint.ParsePublicKey(header)
	if err != nil {
		return nil, true
	}
	return k, true
}
