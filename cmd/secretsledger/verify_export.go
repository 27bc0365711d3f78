package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/eventstore/checkpoint"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// runVerifyExport checks an audit export file offline: no database, no server.
func runVerifyExport(env *environment, file, pubkey string) error {
	var pub ed25519.PublicKey
	if pubkey != "" {
		var err error
		if pub, err = checkpoint.ParsePublicKey(pubkey); err != nil {
			return usage.Error{Err: fmt.Errorf("--pubkey: %w", err)}
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return usage.Error{Err: err}
	}
	defer f.Close()
	rep, err := audit.VerifyExport(f, pub)
	if err != nil {
		return err
	}
	out := env.stdout
	for _, fd := range rep.Findings {
		if fd.Position > 0 {
			fmt.Fprintf(out, "BROKEN at position %d: %s\n", fd.Position, fd.Problem)
		} else {
			fmt.Fprintf(out, "BROKEN: %s\n", fd.Problem)
		}
	}
	fmt.Fprintf(out, "%d events (positions %d to %d): every hash recomputed; %d links between consecutive positions checked, %d gaps\n",
		rep.Events, rep.FirstPosition, rep.LastPosition, rep.Linked, rep.Gaps)
	if rep.Redacted > 0 {
		fmt.Fprintf(out, "%d events were exported without their credential hashes: their content was checked against the instance's signed attestation instead of a recomputed hash\n", rep.Redacted)
	}
	switch cp := rep.Checkpoint; {
	case cp == nil:
		fmt.Fprintln(out, "NOT ANCHORED: the export holds no signed checkpoint; its events are consistent with themselves, nothing more")
	case rep.Anchored:
		fmt.Fprintf(out, "anchored: positions %d to %d form an unbroken chain ending at the checkpoint signed by instance %s at position %d\n",
			rep.AnchoredFrom, rep.LastPosition, cp.InstanceID, cp.Position)
	case rep.OK():
		fmt.Fprintf(out, "checkpoint at position %d (instance %s) is signed and covers the export, but is after its last event: "+
			"that the exported events are in the signed chain needs the events up to it (run `secretsledger verify` on the database)\n",
			cp.Position, cp.InstanceID)
	}
	if rep.KeyFromFile && (rep.Checkpoint != nil || rep.Redacted > 0) {
		fmt.Fprintln(out, "WARNING: the signatures were checked with the public key written in the export; pass --pubkey (from `secretsledger checkpoint pubkey`, kept apart) to trust them")
	}
	if rep.Gaps > 0 {
		fmt.Fprintln(out, "note: across a gap (other companies' events, or events outside the filter) nothing can be checked offline")
	}
	if !rep.Complete && rep.OK() {
		fmt.Fprintln(out, "note: the export stopped at its size limit; export the rest with a later --from")
	}
	if !rep.OK() {
		return errors.New("the export does not verify")
	}
	return nil
}
