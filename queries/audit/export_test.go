package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// lines splits an export into its JSON lines, decoded.
func lines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func join(t *testing.T, ls []map[string]any) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, l := range ls {
		enc, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(enc)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func verify(t *testing.T, b []byte, pub ed25519.PublicKey) audit.ExportReport {
	t.Helper()
	rep, err := audit.VerifyExport(bytes.NewReader(b), pub)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestExportVerifiesOfflineAndTamperingIsFound(t *testing.T) {
	t.Parallel()
	s := script(t)
	ctx := context.Background()
	checkExportWithoutCheckpoint(t, s)

	// Sign the head as the server's signer would, and export again: now anchored.
	pub := signHead(t, s)
	var buf bytes.Buffer
	sum, err := s.log.Export(ctx, ops, audit.ExportFilter{CompanyID: company}, &buf)
	if err != nil || sum.Checkpoint == nil {
		t.Fatalf("export with a checkpoint: %+v %v", sum, err)
	}
	good := buf.Bytes()
	rep := verify(t, good, pub)
	if !rep.OK() || !rep.Anchored || rep.AnchoredFrom != 1 || rep.KeyFromFile {
		t.Fatalf("anchored export: %+v", rep)
	}
	if rep = verify(t, good, nil); !rep.OK() || !rep.KeyFromFile {
		t.Fatalf("export checked with the key in the file: %+v", rep)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	if rep = verify(t, good, otherPub); rep.OK() || !strings.Contains(rep.Findings[len(rep.Findings)-1].Problem, "signature") {
		t.Fatalf("another key must not verify the checkpoint: %+v", rep)
	}
	checkTamperingIsFound(t, good, pub)

	// An export of one secret is not contiguous: gaps are counted, each event still checked.
	var secretBuf bytes.Buffer
	if _, err := s.log.Export(ctx, ops, audit.ExportFilter{CompanyID: company, SecretID: s.secret}, &secretBuf); err != nil {
		t.Fatal(err)
	}
	if rep = verify(t, secretBuf.Bytes(), pub); !rep.OK() || rep.Gaps == 0 || rep.Events >= sum.Events {
		t.Fatalf("secret export: %+v", rep)
	}
}

// checkExportWithoutCheckpoint exports the whole company before any checkpoint is
// signed: the export says so, names actors, holds no value and verifies.
func checkExportWithoutCheckpoint(t *testing.T, s *history) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := s.log.Export(context.Background(), ops, audit.ExportFilter{CompanyID: company}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != s.afterPurge || sum.LastPosition != s.afterPurge || sum.Checkpoint != nil {
		t.Fatalf("export summary: %+v", sum)
	}
	if !strings.Contains(buf.String(), `"kind":"no_checkpoint"`) || !strings.Contains(buf.String(), `"actor":"board:ops"`) {
		t.Fatalf("export without a checkpoint must say so and name actors:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "pw-1") || strings.Contains(buf.String(), "pw-2") {
		t.Fatal("the export holds a secret value")
	}
	rep := verify(t, buf.Bytes(), nil)
	if !rep.OK() || rep.Events != sum.Events || rep.Linked != sum.Events-1 || rep.Gaps != 0 || rep.Checkpoint != nil || rep.Anchored {
		t.Fatalf("clean export without a checkpoint: %+v", rep)
	}
}

// signHead stores a checkpoint of the log's head signed with the history's key, and
// returns the key's public half.
func signHead(t *testing.T, s *history) ed25519.PublicKey {
	t.Helper()
	ctx := context.Background()
	key := s.signKey
	pub := key.Public().(ed25519.PublicKey)
	var hash []byte
	var at time.Time
	if err := s.owner.QueryRow(ctx, `SELECT hash, recorded_at FROM ledger_events WHERE position = $1`, s.afterPurge).Scan(&hash, &at); err != nil {
		t.Fatal(err)
	}
	cp := checkpoint.Sign(key, checkpoint.Checkpoint{Position: s.afterPurge, Hash: hash, RecordedAt: at, InstanceID: "test"})
	if _, err := s.owner.Exec(ctx, `INSERT INTO ledger_checkpoints (position, hash, recorded_at, instance_id, public_key, signature)
		VALUES ($1, $2, $3, $4, $5, $6)`, cp.Position, cp.Hash, cp.RecordedAt, cp.InstanceID, checkpoint.PublicKeyText(pub), cp.Signature); err != nil {
		t.Fatal(err)
	}
	return pub
}

// checkTamperingIsFound alters the anchored export good in the ways an attacker could
// and checks that verification finds each.
func checkTamperingIsFound(t *testing.T, good []byte, pub ed25519.PublicKey) {
	t.Helper()
	// A payload edited in place: its hash no longer matches.
	ls := lines(t, good)
	ls[3]["payload"] = strings.Replace(ls[3]["payload"].(string), `"`, `"x`, 1)
	rep := verify(t, join(t, ls), pub)
	if rep.OK() || rep.Findings[0].Position != 3 || !strings.Contains(rep.Findings[0].Problem, "content") {
		t.Fatalf("edited payload: %+v", rep)
	}
	// The same edit with the event re-hashed: the next event's link breaks.
	ls[3]["hash"] = rehash(t, ls[3])
	if rep = verify(t, join(t, ls), pub); rep.OK() || rep.Findings[0].Position != 4 || !strings.Contains(rep.Findings[0].Problem, "prev_hash") {
		t.Fatalf("edited and re-hashed event: %+v", rep)
	}
	// Every later event re-hashed too: the signed checkpoint no longer matches the last
	// (and the redacted events' attestations no longer match them).
	for i := 4; ls[i]["kind"] == "event"; i++ {
		ls[i]["prevHash"] = ls[i-1]["hash"]
		ls[i]["hash"] = rehash(t, ls[i])
	}
	if rep = verify(t, join(t, ls), pub); rep.OK() || !strings.Contains(rep.Findings[len(rep.Findings)-1].Problem, "signed checkpoint") {
		t.Fatalf("re-hashed chain: %+v", rep)
	}
	// An event removed from the middle: the end line's count and a link disagree.
	ls = lines(t, good)
	ls = append(ls[:5], ls[6:]...)
	if rep = verify(t, join(t, ls), pub); rep.OK() {
		t.Fatalf("removed event: %+v", rep)
	}
	// The tail cut off (events, checkpoint and end line).
	ls = lines(t, good)
	if rep = verify(t, join(t, ls[:len(ls)-4]), pub); rep.OK() {
		t.Fatalf("cut export: %+v", rep)
	}
}

func rehash(t *testing.T, l map[string]any) string {
	t.Helper()
	prev, _ := hex.DecodeString(l["prevHash"].(string))
	at, err := time.Parse("2006-01-02T15:04:05.000000Z", l["recordedAt"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(eventstore.ChainHash(prev, eventstore.ChainFields{Position: int64(l["position"].(float64)),
		EventID: l["eventId"].(string), StreamID: l["streamId"].(string), StreamVersion: int64(l["streamVersion"].(float64)),
		EventType: l["type"].(string), SchemaVersion: int(l["schemaVersion"].(float64)), CompanyID: l["companyId"].(string),
		Payload: []byte(l["payload"].(string)), Metadata: []byte(l["metadata"].(string)), RecordedAt: at}))
}
