package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/secretsledger/secretsledger/queries/audit"
)

// An export of a company with agent keys and an event subscriber holds no credential
// hash (tokenHash, passwordHash) and still verifies: the redacted events are checked
// against the instance's signed attestation. Any edit of a redacted event, a stolen
// attestation, or a redacted event passed off as complete is found.
func TestExportLeavesCredentialHashesOutAndStillVerifies(t *testing.T) {
	t.Parallel()
	s := script(t)
	ctx := context.Background()
	if _, err := s.h.Subscribers.IssueSubscriber(ctx, board, company, "follower"); err != nil {
		t.Fatal(err)
	}
	s.sealed(t)
	var buf bytes.Buffer
	if _, err := s.log.Export(ctx, ops, audit.ExportFilter{CompanyID: company}, &buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for _, field := range []string{"tokenHash", "passwordHash"} {
		if bytes.Contains(good, []byte(field)) {
			t.Fatalf("the export holds %s:\n%s", field, good)
		}
	}
	if !bytes.Contains(good, []byte(`"type":"agent_key.issued"`)) || !bytes.Contains(good, []byte(`"type":"event_subscriber.issued"`)) {
		t.Fatal("the export lacks the events that hold credential hashes: the search proves nothing")
	}
	pub := s.signKey.Public().(ed25519.PublicKey)
	rep := verify(t, good, pub)
	if !rep.OK() || rep.Redacted != 3 || rep.KeyFromFile {
		t.Fatalf("redacted export with the instance's key: %+v", rep)
	}
	if rep := verify(t, good, nil); !rep.OK() || !rep.KeyFromFile {
		t.Fatalf("redacted export with the key in the file: %+v", rep)
	}
	// A v1 export (written before redaction) is read as before.
	v1 := bytes.Replace(good, []byte(audit.ExportFormat), []byte(audit.ExportFormatV1), 1)
	if rep := verify(t, v1, pub); !rep.OK() {
		t.Fatalf("a v1 header: %+v", rep)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	if rep := verify(t, good, otherPub); rep.OK() || int64(len(rep.Findings)) != rep.Redacted {
		t.Fatalf("another key verified the attestations: %+v", rep)
	}

	var redacted []int // line indexes of the redacted events
	ls := lines(t, good)
	for i, l := range ls {
		if l["redacted"] != nil {
			redacted = append(redacted, i)
		}
	}
	if len(redacted) != 3 {
		t.Fatalf("%d redacted lines", len(redacted))
	}
	first, second := redacted[0], redacted[1]
	edits := map[string]func(ls []map[string]any){
		"a redacted payload edited": func(ls []map[string]any) {
			ls[first]["payload"] = strings.Replace(ls[first]["payload"].(string), `"agent"`, `"human"`, 1)
		},
		"a redacted event's metadata edited": func(ls []map[string]any) {
			ls[first]["metadata"] = strings.Replace(ls[first]["metadata"].(string), `"ops"`, `"eve"`, 1)
		},
		"the redaction removed":       func(ls []map[string]any) { delete(ls[first], "redacted"); delete(ls[first], "attestation") },
		"another event's attestation": func(ls []map[string]any) { ls[first]["attestation"] = ls[second]["attestation"] },
		"an unredacted event passed off as redacted": func(ls []map[string]any) {
			ls[first+1]["redacted"], ls[first+1]["attestation"] = true, ls[first]["attestation"]
		},
	}
	for what, edit := range edits {
		ls := lines(t, good)
		edit(ls)
		if rep := verify(t, join(t, ls), pub); rep.OK() {
			t.Errorf("%s: verified", what)
		}
	}
}
