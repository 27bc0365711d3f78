package httpapi

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries"
)

// CompanyQueries lists the companies a credential may see.
type CompanyQueries interface {
	List(ctx context.Context, a actor.Actor, p queries.PageRequest) (queries.Page[queries.Company], error)
}

// LedgerStatus reads the state of the log: head, newest checkpoint, chain verification
// and relay lag.
type LedgerStatus interface {
	State(ctx context.Context) (queries.LedgerState, error)
}

// Ledger serves GET /api/companies and GET /api/ledger; each is left out when its
// dependency is nil.
type Ledger struct {
	Companies CompanyQueries
	Status    LedgerStatus
}

func (h *Ledger) routes(r *mux.Router, g *gate) {
	if h.Companies != nil {
		r.HandleFunc("/companies", g.board(h.companies)).Methods(http.MethodGet)
	}
	if h.Status != nil {
		r.HandleFunc("/ledger", g.board(h.ledger)).Methods(http.MethodGet)
	}
}

func (h *Ledger) companies(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	return listPage(w, r, "", func(p queries.PageRequest) (queries.Page[queries.Company], error) {
		return h.Companies.List(r.Context(), a, p)
	}, func(c queries.Company) companyOut {
		return companyOut{ID: c.ID, Secrets: c.Secrets, Bindings: c.Bindings, AgentKeys: c.AgentKeys, Vaults: c.Vaults}
	})
}

// ledger answers instance-wide board tokens only: the head, the chain and the relay
// are the instance's, and how fast they move tells one company about the others' work.
func (h *Ledger) ledger(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	if !instanceWide(a) {
		return ledgererr.New(ledgererr.Forbidden, "the ledger's state is shown to instance-wide board tokens only; this token is limited to companies")
	}
	st, err := h.Status.State(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ledgerJSON(st))
	return nil
}

type companyOut struct {
	ID        string `json:"id"`
	Secrets   int64  `json:"secrets"`
	Bindings  int64  `json:"bindings"`
	AgentKeys int64  `json:"agentKeys"`
	Vaults    int64  `json:"vaults"`
}

type ledgerOut struct {
	Head         headOut         `json:"head"`
	Checkpoint   *checkpointOut  `json:"checkpoint"`
	Verification verificationOut `json:"verification"`
	Relay        *relayOut       `json:"relay"`
}

// headOut is the newest event; hash and recordedAt are null while the log is empty.
type headOut struct {
	Position   int64      `json:"position"`
	Hash       *string    `json:"hash"`
	RecordedAt *time.Time `json:"recordedAt"`
}

type checkpointOut struct {
	Position       int64     `json:"position"`
	Hash           string    `json:"hash"`
	RecordedAt     time.Time `json:"recordedAt"`
	InstanceID     string    `json:"instanceId"`
	PublicKey      string    `json:"publicKey"`
	SignedAt       time.Time `json:"signedAt"`
	SignatureValid bool      `json:"signatureValid"`
}

type verificationOut struct {
	OK        bool      `json:"ok"`
	From      int64     `json:"from"`
	To        int64     `json:"to"`
	Checked   int64     `json:"checked"`
	BrokenAt  int64     `json:"brokenAt"`
	Reason    *string   `json:"reason"`
	CheckedAt time.Time `json:"checkedAt"`
}

type relayOut struct {
	Cursor     int64     `json:"cursor"`
	Head       int64     `json:"head"`
	LagEvents  int64     `json:"lagEvents"`
	LagSeconds float64   `json:"lagSeconds"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

func ledgerJSON(st queries.LedgerState) ledgerOut {
	out := ledgerOut{Head: headOut{Position: st.Head.Position}}
	if st.Head.Position > 0 {
		h, at := hex.EncodeToString(st.Head.Hash), st.Head.RecordedAt.UTC()
		out.Head.Hash, out.Head.RecordedAt = &h, &at
	}
	if c := st.Checkpoint; c != nil {
		out.Checkpoint = &checkpointOut{Position: c.Position, Hash: hex.EncodeToString(c.Hash), RecordedAt: c.RecordedAt.UTC(),
			InstanceID: c.InstanceID, PublicKey: c.PublicKey, SignedAt: c.SignedAt.UTC(), SignatureValid: c.SignatureValid}
	}
	v := st.Verification
	out.Verification = verificationOut{OK: v.OK, From: v.From, To: v.To, Checked: v.Checked, BrokenAt: v.BrokenAt, CheckedAt: v.CheckedAt.UTC()}
	if v.Reason != "" {
		out.Verification.Reason = &v.Reason
	}
	if rl := st.Relay; rl != nil {
		out.Relay = &relayOut{Cursor: rl.Cursor, Head: rl.Head, LagEvents: rl.LagEvents, LagSeconds: rl.LagSeconds, UpdatedAt: rl.UpdatedAt.UTC()}
	}
	return out
}
