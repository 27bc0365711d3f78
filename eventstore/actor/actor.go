package actor

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// Kinds of actor.
// WARNING: persisted in event metadata (actorType).
const (
	Board = "board"
	Agent = "agent"
)

// Actor is an authenticated caller.
type Actor struct {
	Type string
	ID   string
	// Companies limits a board token; nil means every company. An agent key has its
	// one company here.
	Companies []string
	// TargetType and TargetID are an agent key's consumer.
	TargetType string
	TargetID   string
}

// CanAccess reports whether the actor may see company's data.
func (a Actor) CanAccess(companyID string) bool {
	return a.Companies == nil || slices.Contains(a.Companies, companyID)
}

// String is "type:id", as recorded in read models (created_by).
func (a Actor) String() string { return a.Type + ":" + a.ID }

// HashToken is the bare SHA-256 (hex) of a token: what agent keys were recorded with
// before their hashes were keyed with the instance's integrity key, and what such keys
// are still found by in the agent_keys index. It authenticates nothing by itself.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
