package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// An event whose payload holds credential hashes (events.CredentialFields) is exported
// without them. Its hash covers the whole payload, so it cannot be recomputed offline;
// instead the exporting server, having recomputed it from the stored event, signs an
// attestation with the checkpoint key: "the event at this position with this hash is,
// without these fields, exactly this content". The content is bound by the chain hash
// computed over the redacted payload (the digest), so any edit of the exported event
// breaks the signature, and the hash the next event links to is the real one.

// redactionPrefix keeps a redaction's signature from being read as anything else the
// key signs (checkpoints).
const redactionPrefix = "secretsledger-redaction-v1\n"

// chainFieldsOf are e's hashed fields with payload in place of e.Payload.
func chainFieldsOf(e ExportedEvent, payload string, at time.Time) eventstore.ChainFields {
	return eventstore.ChainFields{Position: e.Position, EventID: e.EventID, StreamID: e.StreamID, StreamVersion: e.StreamVersion,
		EventType: e.Type, SchemaVersion: e.SchemaVersion, CompanyID: e.CompanyID, Payload: []byte(payload),
		Metadata: []byte(e.Metadata), RecordedAt: at}
}

// redactionMessage is what an attestation signs: the position, the event's real hash
// and the digest of its redacted form.
func redactionMessage(position int64, hash, digest []byte) []byte {
	var b bytes.Buffer
	b.WriteString(redactionPrefix)
	b.WriteString(strconv.FormatInt(position, 10))
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(hash))
	b.WriteByte('\n')
	b.WriteString(hex.EncodeToString(digest))
	return b.Bytes()
}

// redact removes the credential fields from e (whose Payload is the stored text) and,
// when the stored event hashes to hash and there is a key, signs the attestation.
func (l Log) redact(e *ExportedEvent, prev, hash []byte, at time.Time) {
	stripped, removed := events.WithoutCredentials(json.RawMessage(e.Payload))
	if removed == nil {
		return
	}
	whole := eventstore.ChainHash(prev, chainFieldsOf(*e, e.Payload, at))
	e.Payload, e.Redacted = string(stripped), true
	if l.RedactionKey == nil || !bytes.Equal(whole, hash) {
		return // not attested: verify --export reports it
	}
	digest := eventstore.ChainHash(prev, chainFieldsOf(*e, e.Payload, at))
	e.Attestation = base64.StdEncoding.EncodeToString(ed25519.Sign(l.RedactionKey, redactionMessage(e.Position, hash, digest)))
}

// attested reports whether e, a redacted event, carries a valid attestation under pub.
func attested(e ExportedEvent, prev, hash []byte, at time.Time, pub ed25519.PublicKey) bool {
	sig, err := base64.StdEncoding.DecodeString(e.Attestation)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return false
	}
	digest := eventstore.ChainHash(prev, chainFieldsOf(e, e.Payload, at))
	return ed25519.Verify(pub, redactionMessage(e.Position, hash, digest), sig)
}
