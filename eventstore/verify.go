package eventstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// VerifyReport is the outcome of walking the hash chain.
type VerifyReport struct {
	// Checked is the number of rows read up to the first broken one (all of them when
	// the chain is intact).
	Checked int64
	// HeadPosition and HeadHash describe the last row that verified.
	HeadPosition int64
	HeadHash     []byte
	// HeadRecordedAt is the recorded_at of the row at HeadPosition.
	HeadRecordedAt time.Time
	// BrokenAt is the first position where the chain breaks; 0 when intact.
	BrokenAt int64
	// Reason says why the chain breaks at BrokenAt.
	Reason string
	// Observed holds, for every position asked for with VerifyAt that lies in the
	// verified part of the chain (at or before HeadPosition), what the chain holds there.
	Observed map[int64]ChainPoint
	// MACsChecked says whether events' MACs were checked (the store has an
	// Authenticator); without, a forged event with a correct chain hash passes.
	MACsChecked bool
}

// ChainPoint is what the chain holds at one position.
type ChainPoint struct {
	Hash       []byte
	RecordedAt time.Time
}

// OK reports whether the whole chain verified.
func (r VerifyReport) OK() bool { return r.BrokenAt == 0 }

// verifySegment is the number of positions one query of Verify covers. Segments are
// verified concurrently (the content hash of a row needs only the row itself, since it
// carries its prev_hash) and then joined in order, which links segment ends.
const verifySegment = 50_000

// Verify walks the whole sealed log in position order and recomputes every hash. It
// reports the first position that was edited (its hash no longer matches its content),
// whose prev_hash does not match the row before it (a deleted or reordered row), or,
// with an Authenticator, that the writer did not authenticate (no valid MAC after
// ledger_integrity.legacy_through). Positions need not be dense (an append that failed
// after taking its positions leaves them unused): a removed row is found by the link of
// the row after it, and a removed head by the signed checkpoints.
func (s *Store) Verify(ctx context.Context) (VerifyReport, error) { return s.VerifyAt(ctx, nil) }

// VerifyAt is Verify that also reports what the chain holds at the given positions
// (signed checkpoints to compare against), in VerifyReport.Observed.
func (s *Store) VerifyAt(ctx context.Context, positions []int64) (VerifyReport, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM ledger_events`).Scan(&head); err != nil {
		return VerifyReport{HeadHash: genesisHash}, storeError("verify", err)
	}
	return s.VerifyRange(ctx, 1, head, positions)
}

// VerifyRange is VerifyAt over the positions from..to only, so that its cost is bounded
// by the range rather than by the log. From 1, the first event must follow the genesis
// hash. From a later position, the event before it is not read: the first event's
// prev_hash is taken as given (its own hash is still checked against its content, which
// includes that prev_hash), and the caller anchors the range by comparing
// Observed[from] with a hash it trusts, such as a signed checkpoint's. The report
// speaks of the range only: Checked counts its rows, HeadPosition is the last of them
// that verified.
func (s *Store) VerifyRange(ctx context.Context, from, to int64, positions []int64) (VerifyReport, error) {
	from = max(from, 1)
	var macs *macCheck
	if s.cfg.Authenticator != nil {
		legacy, err := s.LegacyThrough(ctx)
		switch {
		case errors.Is(err, errBeforeMACs): // a restored backup from before MACs: none to check
		case err != nil:
			return VerifyReport{HeadHash: genesisHash}, err
		default:
			macs = &macCheck{auth: s.cfg.Authenticator, legacyThrough: legacy}
		}
	}
	want := make(map[int64]bool, len(positions))
	for _, p := range positions {
		want[p] = true
	}
	nseg := 0
	if to >= from {
		nseg = int((to - from + verifySegment) / verifySegment)
	}
	results := make([]segmentResult, nseg)
	workers := min(max(runtime.GOMAXPROCS(0), 2), 4, max(nseg, 1))
	jobs := make(chan int)
	errs := make(chan error, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		go func() {
			for k := range jobs {
				lo := from + int64(k)*verifySegment
				res, err := s.verifySegment(ctx, lo, min(lo+verifySegment-1, to), want, macs)
				if err != nil {
					errs <- err
					cancel()
					for range jobs { // drain so the feeder ends
					}
					return
				}
				results[k] = res
			}
			errs <- nil
		}()
	}
	for k := range nseg {
		select {
		case jobs <- k:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	var firstErr error
	for range workers {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return VerifyReport{HeadHash: genesisHash}, storeError("verify", firstErr)
	}
	rep := joinSegments(results, from)
	rep.MACsChecked = macs != nil
	return rep, nil
}

// macCheck is what checking events' MACs needs.
type macCheck struct {
	auth          Authenticator
	legacyThrough int64
}

// authentic reports whether the event at pos with hash and mac (nil when NULL) was
// written by the writer: a valid MAC, or none at all at or below legacy_through.
func (m *macCheck) authentic(pos int64, hash, mac []byte) bool {
	if m == nil || (mac == nil && pos <= m.legacyThrough) {
		return true
	}
	return m.auth.VerifyEventMAC(hash, mac)
}

// LegacyThrough is ledger_integrity.legacy_through: the last position written before
// events carried MACs; only events at or below it may lack one.
// A database from before MACs (a restored old backup) has no ledger_integrity:
// errBeforeMACs.
func (s *Store) LegacyThrough(ctx context.Context) (int64, error) {
	var p int64
	err := s.pool.QueryRow(ctx, `SELECT legacy_through FROM ledger_integrity`).Scan(&p)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return 0, errBeforeMACs
	}
	return p, storeError("read legacy_through", err)
}

var errBeforeMACs = errors.New("eventstore: the database predates event MACs (no ledger_integrity)")

// segmentResult is one segment's verification; the links into it (its first row's
// position and prev_hash against the previous segment's last row) are checked on join.
type segmentResult struct {
	rows                     int64
	firstPosition            int64
	firstPrev                []byte
	lastPosition             int64
	lastHash                 []byte
	lastRecordedAt           time.Time
	brokenAt                 int64 // first row inside the segment that fails, 0 if none
	brokenIndex              int64 // its 0-based index in the segment
	reason                   string
	beforeBrokenPosition     int64 // the row before brokenAt (within the segment)
	beforeBrokenHash         []byte
	beforeBrokenRecordedAt   time.Time
	firstRowContentBroken    bool // the first row's own hash fails (reported after link checks)
	firstRowContentBrokenWhy string
	observed                 map[int64]ChainPoint
}

// verifySegment checks positions lo..hi: each row's hash against its content and its
// prev_hash, and the links between consecutive rows of the segment. It reads raw values
// (binary int8, timestamptz and bytea; text for the rest) so that a row costs no
// allocation beyond the driver's buffer.
func (s *Store) verifySegment(ctx context.Context, lo, hi int64, want map[int64]bool, macs *macCheck) (segmentResult, error) {
	res := segmentResult{}
	rows, err := s.querySegment(ctx, lo, hi, macs != nil)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	rh := rawRowHasher{h: sha256.New()}
	for rows.Next() {
		v := rows.RawValues()
		pos, at, sum := rh.hash(v)
		prev, stored := v[10], v[11]
		ownReason := ""
		switch {
		case !bytes.Equal(sum, stored):
			ownReason = reasonEdited
		case !macs.authentic(pos, stored, v[12]):
			ownReason = reasonForged
		}
		res.add(pos, at, prev, stored, ownReason, want)
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	return res, nil
}

// querySegment reads the rows of positions lo..hi with the columns rawRowHasher expects,
// refusing rows whose fixed-width columns did not arrive in binary format. Without
// withMACs the mac column reads as NULL.
func (s *Store) querySegment(ctx context.Context, lo, hi int64, withMACs bool) (pgx.Rows, error) {
	mac := "mac"
	if !withMACs { // the column may not exist yet (a restored old backup)
		mac = "NULL::bytea"
	}
	rows, err := s.pool.Query(ctx, `
		SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
		       company_id, payload::text, metadata::text, recorded_at, prev_hash, hash, `+mac+`
		FROM ledger_events WHERE position BETWEEN $1 AND $2 ORDER BY position`, lo, hi)
	if err != nil {
		return nil, err
	}
	for i, fd := range rows.FieldDescriptions() {
		binaryWanted := i == 0 || i == 3 || i == 5 || i == 9 || i == 10 || i == 11 || i == 12
		if binaryWanted && fd.Format != pgx.BinaryFormatCode {
			rows.Close()
			return nil, fmt.Errorf("eventstore: verify: column %s arrived in text format", fd.Name)
		}
	}
	return rows, nil
}

// rawRowHasher recomputes the content hash of rows read by querySegment, reusing its
// buffers from row to row.
type rawRowHasher struct {
	h     hash.Hash
	num   [3][]byte
	sum   [sha256.Size]byte
	tsBuf []byte
}

// hash returns the row's position and recorded_at and the hash of its content; the hash
// is valid until the next call.
func (r *rawRowHasher) hash(v [][]byte) (pos int64, at time.Time, sum []byte) {
	pos = int64(binary.BigEndian.Uint64(v[0]))
	at = pgEpoch.Add(time.Duration(int64(binary.BigEndian.Uint64(v[9]))) * time.Microsecond)
	r.num[0] = strconv.AppendInt(r.num[0][:0], pos, 10)
	r.num[1] = strconv.AppendInt(r.num[1][:0], int64(binary.BigEndian.Uint64(v[3])), 10)
	r.num[2] = strconv.AppendInt(r.num[2][:0], int64(int32(binary.BigEndian.Uint32(v[5]))), 10)
	r.tsBuf = at.UTC().AppendFormat(r.tsBuf[:0], recordedAtLayout)
	r.h.Reset()
	r.h.Write(v[10])
	for _, f := range [...][]byte{r.num[0], v[1], v[2], r.num[1], v[4], r.num[2], v[6], v[7], v[8], r.tsBuf} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		r.h.Write(n[:])
		r.h.Write(f)
	}
	return pos, at, r.h.Sum(r.sum[:0])
}

// add takes the segment's next row: its position, recorded_at, prev_hash and stored
// hash, and ownReason when its own content or MAC fails. The first row's links are
// checked on join; a later row's against the row before it.
func (res *segmentResult) add(pos int64, at time.Time, prev, stored []byte, ownReason string, want map[int64]bool) {
	if res.rows == 0 {
		res.firstPosition, res.firstPrev = pos, bytes.Clone(prev)
		if ownReason != "" {
			res.firstRowContentBroken, res.firstRowContentBrokenWhy = true, ownReason
		}
	} else if res.brokenAt == 0 {
		reason := ""
		switch {
		case !bytes.Equal(prev, res.lastHash):
			reason = reasonRelinked
		default:
			reason = ownReason
		}
		if reason != "" {
			res.brokenAt, res.brokenIndex, res.reason = pos, res.rows, reason
			res.beforeBrokenPosition, res.beforeBrokenHash, res.beforeBrokenRecordedAt = res.lastPosition, bytes.Clone(res.lastHash), res.lastRecordedAt
		}
	}
	if want[pos] && res.brokenAt == 0 {
		if res.observed == nil {
			res.observed = map[int64]ChainPoint{}
		}
		res.observed[pos] = ChainPoint{Hash: bytes.Clone(stored), RecordedAt: at}
	}
	res.rows++
	res.lastPosition, res.lastRecordedAt = pos, at
	res.lastHash = append(res.lastHash[:0], stored...)
}

const (
	reasonEdited   = "edited: the hash does not match the event's content"
	reasonRelinked = "removed or reordered: prev_hash does not match the hash of the previous event"
	reasonForged   = "forged (no valid MAC): the chain hash matches but the ledger's writer did not write this event"
)

// pgEpoch is the zero of PostgreSQL's binary timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// joinSegments links the segments of a range that starts at from in order and reports
// the first break, as a walk of the range row by row would. From a position after 1 the
// first row's prev_hash is the range's anchor, not compared with anything.
func joinSegments(segs []segmentResult, from int64) VerifyReport {
	rep := VerifyReport{HeadPosition: from - 1, HeadHash: genesisHash, Observed: map[int64]ChainPoint{}}
	anchored := from > 1
	broken := func(at int64, reason string) VerifyReport {
		rep.BrokenAt, rep.Reason = at, reason
		rep.Checked++ // the broken row was read
		return rep
	}
	for _, s := range segs {
		if s.rows == 0 {
			continue // every position of the segment is missing: the next row's link says so
		}
		switch {
		case anchored && s.firstPosition != from:
			return broken(s.firstPosition, fmt.Sprintf("missing: the range starts at position %d but its first event is at %d", from, s.firstPosition))
		case !anchored && !bytes.Equal(s.firstPrev, rep.HeadHash):
			return broken(s.firstPosition, reasonRelinked)
		case s.firstRowContentBroken:
			return broken(s.firstPosition, s.firstRowContentBrokenWhy)
		}
		anchored = false
		for p, c := range s.observed {
			rep.Observed[p] = c
		}
		if s.brokenAt != 0 {
			rep.Checked += s.brokenIndex
			rep.HeadPosition, rep.HeadHash, rep.HeadRecordedAt = s.beforeBrokenPosition, s.beforeBrokenHash, s.beforeBrokenRecordedAt
			return broken(s.brokenAt, s.reason)
		}
		rep.Checked += s.rows
		rep.HeadPosition, rep.HeadHash, rep.HeadRecordedAt = s.lastPosition, s.lastHash, s.lastRecordedAt
	}
	return rep
}
