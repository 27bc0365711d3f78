package commands

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// AgentTokenPrefix marks agent keys, so that secret scanners can recognise a leaked one.
// WARNING: persisted in issued keys.
const AgentTokenPrefix = "sla_"

// An agent token is "sla_<key id>.<random>": it names its key, whose stream (whose first
// event nobody can replace) then decides, and its keyed hash covers the id. A keyed hash
// copied from one key's event into a forged event of another key thus matches no token.
// Tokens issued before carry no id and are found through the agent_keys index.
const tokenKeySeparator = "."

// keyIDOf is the key id a token names, if it names one.
func keyIDOf(token string) (string, bool) {
	id, _, ok := strings.Cut(strings.TrimPrefix(token, AgentTokenPrefix), tokenKeySeparator)
	return id, ok && id != ""
}

// CredentialKey keys the hashes that agent keys are recorded and compared as, with the
// instance's integrity key, which lives outside the database (integrity.Key implements
// it): whoever can append to the log then cannot record a hash that a token of their
// choosing matches.
type CredentialKey interface {
	// CredentialHash is the keyed hash of a token.
	CredentialHash(credential string) []byte
	// KeyStoredHash keys a bare SHA-256 recorded before hashes were keyed:
	// KeyStoredHash(sha256(t)) == CredentialHash(t).
	KeyStoredHash(unkeyed []byte) []byte
}

// AgentKeys handles agent keys: IssueKey, RevokeKey, RevokeConsumerKeys and
// AuthenticateAgent. The runtime's CredentialKey keys the tokens' hashes (memory folds
// the keys' streams with it).
type AgentKeys struct {
	rt *Runtime
	// directory finds a consumer's live keys, and keys issued before tokens named
	// their key (read models).
	directory Directory
}

// keyHashes turns what an agent_key.issued event records into the keyed hash (hex) its
// token is compared with.
type keyHashes struct {
	key CredentialKey
	// legacyThrough is the last position written before events were authenticated.
	legacyThrough int64
}

// issued is the keyed hash an issued event stands for, or "" when it stands for no token.
// Schema 2 records it. Schema 1 recorded a bare SHA-256, which anyone who can append to
// the log could compute for a token of their own: it is keyed here only for an event at
// or before legacyThrough (the ledger has written schema 2 since), and a later one
// authenticates nothing.
func (k keyHashes) issued(e eventstore.Event, p *events.AgentKeyIssuedV2) string {
	if p.TokenKeyedHash != "" || p.UnkeyedTokenHash == "" {
		return p.TokenKeyedHash
	}
	if k.key == nil || e.Position <= 0 || e.Position > k.legacyThrough {
		return ""
	}
	unkeyed, err := hex.DecodeString(p.UnkeyedTokenHash)
	if err != nil || len(unkeyed) != sha256.Size {
		return ""
	}
	return hex.EncodeToString(k.key.KeyStoredHash(unkeyed))
}

// agentKeyState is an agent key as its stream knows it.
type agentKeyState struct {
	hashes               keyHashes
	keyID, companyID     string
	targetType, targetID string
	// tokenHash is the keyed hash (hex) the key's token must match; "" matches none.
	tokenHash     string
	revoked       bool
	streamVersion int64
}

func (s *agentKeyState) apply(e eventstore.Event) error {
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	s.streamVersion = e.StreamVersion
	return agentKeyFold.Apply(s, e, p)
}

// agentKeyFold is what an agent key does with each event of its stream.
var agentKeyFold = events.Dispatch[*agentKeyState]{
	Name:    "commands: agentKeyState",
	Streams: []string{events.AgentKeyStreamPrefix},
	Handle: map[string]events.Handler[*agentKeyState]{
		events.AgentKeyIssued: events.On(func(s *agentKeyState, e eventstore.Event, p *events.AgentKeyIssuedV2) {
			// A key is issued by its stream's first event, for the key the stream names; any
			// other issued event was not written by the ledger and changes nothing.
			if e.StreamVersion != 1 || e.StreamID != events.AgentKeyStream(p.KeyID) {
				return
			}
			s.keyID, s.companyID, s.targetType, s.targetID = p.KeyID, e.CompanyID, p.TargetType, p.TargetID
			s.tokenHash = s.hashes.issued(e, p)
		}),
		events.AgentKeyRevoked: events.On(func(s *agentKeyState, _ eventstore.Event, _ *events.AgentKeyRevokedV1) {
			s.revoked = true
		}),
	},
}

func (s agentKeyState) version() int64        { return s.streamVersion }
func (s agentKeyState) copied() agentKeyState { return s }

var errAgentKeyRefused = ledgererr.New(ledgererr.Unauthorized, "the agent key is unknown or revoked")

// AuthenticateAgent returns the actor of a live agent key, from memory: the key's stream
// is the one the token names, or, for a token issued before tokens named their key, the
// one found by the token's hash in memory or, once, in the read model. The read model is
// only an index (the runtime role writes it): what decides is the key's stream, whose
// issued event must record the token's keyed hash. Memory may not know yet that
// another process revoked the key; the resolution it asks for is then refused by its
// own append, which is conditional on the key's stream (see ResolveValues), so no value
// leaves under a revoked key.
func (h *AgentKeys) AuthenticateAgent(ctx context.Context, token string) (actor.Actor, error) {
	if !strings.HasPrefix(token, AgentTokenPrefix) {
		return actor.Actor{}, errAgentKeyRefused
	}
	if h.rt.hashes.key == nil {
		return actor.Actor{}, errNoCredentialKey
	}
	hash := hex.EncodeToString(h.rt.hashes.key.CredentialHash(token))
	id, named := keyIDOf(token)
	stream, ok := events.AgentKeyStream(id), named
	if !ok {
		stream, ok = h.rt.mem.keyStream(hash)
	}
	if !ok {
		// Keys issued before hashes were keyed are indexed by their bare hash.
		id, found, err := h.directory.AgentKeyByHash(ctx, hash, actor.HashToken(token))
		if err != nil {
			return actor.Actor{}, ledgererr.Wrap(err, ledgererr.Unavailable, "cannot check the agent key now")
		}
		if !found {
			return actor.Actor{}, errAgentKeyRefused
		}
		stream = events.AgentKeyStream(id)
	}
	st, err := h.rt.agentKey(ctx, stream)
	if err != nil {
		return actor.Actor{}, ledgererr.Wrap(err, ledgererr.Unavailable, "cannot check the agent key now")
	}
	if st.revoked || st.tokenHash == "" || subtle.ConstantTimeCompare([]byte(st.tokenHash), []byte(hash)) != 1 {
		return actor.Actor{}, errAgentKeyRefused
	}
	if !named {
		h.rt.mem.indexKey(hash, stream)
	}
	return actor.Actor{Type: actor.Agent, ID: st.keyID, Companies: []string{st.companyID},
		TargetType: st.targetType, TargetID: st.targetID}, nil
}

// errNoCredentialKey is a runtime built without its CredentialKey.
var errNoCredentialKey = ledgererr.New(ledgererr.Unavailable, "agent keys cannot be checked or issued: no integrity key")

// agentKey is an agent key's state, from memory or the log.
func (rt *Runtime) agentKey(ctx context.Context, stream string) (agentKeyState, error) {
	return rt.mem.keys.get(ctx, stream, rt.foldAfter)
}

// IssueAgentKey issues a key for one consumer.
type IssueAgentKey struct {
	Consumer
	Label string
}

// AgentKeyResult is an issued key; Token is shown once and never stored.
type AgentKeyResult struct {
	KeyID    string
	Token    string
	Position int64
}

// errCredentialNotKept answers a retry of an issue whose first answer the HTTP layer
// did not keep (it keeps a 2xx answer sealed, and answers retries from it before the
// command runs; the first request failed after its append, or its process stopped):
// the credential minted now was never recorded, and the first one cannot be shown
// again.
var errCredentialNotKept = ledgererr.New(ledgererr.Conflict,
	"the Idempotency-Key was used by a request that issued a credential already and whose answer is not kept "+
		"(it failed or did not finish), so the credential cannot be shown again: issue another with a new Idempotency-Key")

// IssueKey runs IssueAgentKey. With an idempotency key, a retry of the same request
// writes nothing and is refused (see errCredentialNotKept) rather than issue a second
// key.
func (h *AgentKeys) IssueKey(ctx context.Context, req Request, c IssueAgentKey) (AgentKeyResult, error) {
	if err := checkConsumer(c.Consumer, req.Actor); err != nil {
		return AgentKeyResult{}, err
	}
	if h.rt.hashes.key == nil {
		return AgentKeyResult{}, errNoCredentialKey
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := ulid.Make().String()
	token := AgentTokenPrefix + id + tokenKeySeparator + base64.RawURLEncoding.EncodeToString(b)
	evt, err := events.New(events.AgentKeyIssued, c.CompanyID, events.AgentKeyIssuedV2{KeyID: id, TargetType: c.TargetType,
		TargetID: c.TargetID, Label: strings.TrimSpace(c.Label), TokenKeyedHash: hex.EncodeToString(h.rt.hashes.key.CredentialHash(token))},
		req.metadata())
	if err != nil {
		return AgentKeyResult{}, err
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: events.AgentKeyStream(id), Expected: eventstore.NoStream,
		Events: []eventstore.EventData{evt}, Idempotency: req.Idempotency})
	if err != nil {
		return AgentKeyResult{}, err
	}
	if res.Replayed {
		return AgentKeyResult{}, errCredentialNotKept
	}
	return AgentKeyResult{KeyID: id, Token: token, Position: res.LastPosition}, nil
}

// RevokeKey revokes an agent key at once; revoking it again succeeds.
func (h *AgentKeys) RevokeKey(ctx context.Context, req Request, keyID string) (AgentKeyResult, error) {
	return decideAgain(ctx, h.rt, func(ctx context.Context) (AgentKeyResult, error) { return h.revokeKeyOnce(ctx, req, keyID) })
}

func (h *AgentKeys) revokeKeyOnce(ctx context.Context, req Request, keyID string) (AgentKeyResult, error) {
	if keyID == "" || strings.ContainsAny(keyID, "/ ") {
		return AgentKeyResult{}, ledgererr.New(ledgererr.NotFound, "agent key not found")
	}
	st, err := h.rt.agentKey(ctx, events.AgentKeyStream(keyID))
	if err != nil {
		return AgentKeyResult{}, err
	}
	if st.companyID == "" || !req.Actor.CanAccess(st.companyID) || req.Actor.Type != actor.Board {
		return AgentKeyResult{}, ledgererr.New(ledgererr.NotFound, "agent key not found")
	}
	if st.revoked {
		return AgentKeyResult{KeyID: keyID}, nil
	}
	evt, err := events.New(events.AgentKeyRevoked, st.companyID, events.AgentKeyRevokedV1{KeyID: keyID}, req.metadata())
	if err != nil {
		return AgentKeyResult{}, err
	}
	res, err := h.rt.append(ctx, eventstore.Append{Stream: events.AgentKeyStream(keyID), Expected: st.streamVersion,
		Events: []eventstore.EventData{evt}})
	return AgentKeyResult{KeyID: keyID, Position: res.LastPosition}, err
}

// RevokedKeys is what revoking a consumer's keys did: the keys it revoked (those
// already revoked are not counted) and the log position of the last revocation.
type RevokedKeys struct {
	KeyIDs   []string
	Position int64
}

// RevokeConsumerKeys revokes every live agent key of one consumer, each with its own
// agent_key.revoked event. Like RevokeKey it is safe to repeat: a second call finds
// nothing left to revoke. A key issued while it runs may survive it; a consumer freeze
// stops that key's resolutions too.
func (h *AgentKeys) RevokeConsumerKeys(ctx context.Context, req Request, c Consumer) (RevokedKeys, error) {
	if err := checkConsumer(c, req.Actor); err != nil {
		return RevokedKeys{}, err
	}
	if req.Actor.Type != actor.Board {
		return RevokedKeys{}, ledgererr.New(ledgererr.Forbidden, "revoking keys is for board tokens")
	}
	ids, err := h.directory.LiveAgentKeys(ctx, c)
	if err != nil {
		return RevokedKeys{}, err
	}
	out := RevokedKeys{KeyIDs: []string{}}
	for _, id := range ids {
		res, err := h.RevokeKey(ctx, req, id)
		if err != nil {
			return out, err
		}
		if res.Position > 0 { // 0: revoked meanwhile by someone else
			out.KeyIDs = append(out.KeyIDs, id)
			out.Position = res.Position
		}
	}
	return out, nil
}
