package httpapi

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// AuditQueries answers the audit questions from the log.
type AuditQueries interface {
	SecretExposure(ctx context.Context, a actor.Actor, id string, w audit.Window) (audit.SecretExposure, error)
	ConsumerReach(ctx context.Context, a actor.Actor, company, targetType, targetID string, w audit.Window) (audit.ConsumerReach, error)
	State(ctx context.Context, a actor.Actor, company string, as audit.AsOf) (audit.State, error)
	Export(ctx context.Context, a actor.Actor, f audit.ExportFilter, w io.Writer) (audit.ExportSummary, error)
}

// Audit serves the audit questions: a secret's exposure, a consumer's reach, a
// company's state at a point of the log, and the export of its timeline.
type Audit struct {
	// Queries, when nil, leaves the audit routes out.
	Queries AuditQueries
	// Sealed, when set, waits for the sealer first (see SealedFirst): the audit reads
	// the sealed log.
	Sealed SealedFirst
	*gate
}

func (h *Audit) routes(r *mux.Router, g *gate) {
	if h.Queries == nil {
		return
	}
	h.gate = g
	r.HandleFunc("/secrets/{id}/exposure", g.board(h.Sealed.first(h.secretExposure))).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/consumers/{targetType}/{targetId}/exposure", g.board(h.Sealed.first(h.consumerExposure))).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/audit/state", g.board(h.Sealed.first(h.auditState))).Methods(http.MethodGet)
	r.HandleFunc("/companies/{companyId}/audit/export", g.board(h.Sealed.first(h.auditExport))).Methods(http.MethodGet)
}

func windowOf(r *http.Request) (audit.Window, error) {
	from, err := timeParam(r, "from")
	if err != nil {
		return audit.Window{}, err
	}
	to, err := timeParam(r, "to")
	return audit.Window{From: from, To: to}, err
}

func (h *Audit) secretExposure(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	exp, err := h.Queries.SecretExposure(r.Context(), a, mux.Vars(r)["id"], win)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, exposureJSON(exp))
	return nil
}

func (h *Audit) consumerExposure(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	c, err := consumerOf(r)
	if err != nil {
		return err
	}
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	reach, err := h.Queries.ConsumerReach(r.Context(), a, c.CompanyID, c.TargetType, c.TargetID, win)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, reachJSON(reach))
	return nil
}

func (h *Audit) auditState(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var as audit.AsOf
	if as.At, err = timeParam(r, "at"); err != nil {
		return err
	}
	if v := r.URL.Query().Get("position"); v != "" {
		if as.Position, err = strconv.ParseInt(v, 10, 64); err != nil || as.Position < 1 {
			return ledgererr.New(ledgererr.BadRequest, "position must be a log position (a positive number)")
		}
	}
	st, err := h.Queries.State(r.Context(), a, company, as)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, stateJSON(st))
	return nil
}

// auditExport streams the timeline as JSON lines. Errors found before the first line
// are ordinary error answers; one after it cuts the stream short, which verify --export
// reports (the end line is missing).
func (h *Audit) auditExport(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	win, err := windowOf(r)
	if err != nil {
		return err
	}
	if err := win.Validate(); err != nil {
		return err
	}
	if !a.CanAccess(company) {
		return ledgererr.New(ledgererr.NotFound, "company not found")
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	_, err = h.Queries.Export(r.Context(), a, audit.ExportFilter{CompanyID: company, Window: win, SecretID: r.URL.Query().Get("secretId")}, w)
	if err != nil {
		h.log.Error("audit export cut short", "err", err)
	}
	return nil
}

type windowOut struct {
	From *time.Time `json:"from"`
	To   *time.Time `json:"to"`
}

func windowJSON(w audit.Window) windowOut {
	var o windowOut
	if !w.From.IsZero() {
		o.From = &w.From
	}
	if !w.To.IsZero() {
		o.To = &w.To
	}
	return o
}

type versionSpanOut struct {
	Version  int        `json:"version"`
	From     time.Time  `json:"from"`
	To       *time.Time `json:"to"`
	Position int64      `json:"position,omitempty"`
}

type statusChangeOut struct {
	Status   string    `json:"status"`
	At       time.Time `json:"at"`
	Position int64     `json:"position"`
	Actor    string    `json:"actor"`
}

type bindingSpanOut struct {
	BindingID       string           `json:"bindingId"`
	SecretID        string           `json:"secretId"`
	TargetType      string           `json:"targetType"`
	TargetID        string           `json:"targetId"`
	ConfigPath      string           `json:"configPath"`
	VersionSelector string           `json:"versionSelector"`
	CreatedAt       time.Time        `json:"createdAt"`
	CreatedPosition int64            `json:"createdPosition"`
	CreatedBy       string           `json:"createdBy"`
	RemovedAt       *time.Time       `json:"removedAt"`
	RemovedPosition *int64           `json:"removedPosition"`
	RemovedBy       *string          `json:"removedBy"`
	Versions        []versionSpanOut `json:"versions"`
}

type readsOut struct {
	Count           int64      `json:"count"`
	First           *time.Time `json:"first"`
	Last            *time.Time `json:"last"`
	Versions        []int      `json:"versions"`
	RunIDs          []string   `json:"runIds"`
	RunIDsTruncated bool       `json:"runIdsTruncated"`
}

type failuresOut struct {
	Outcome     string    `json:"outcome"`
	Count       int64     `json:"count"`
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	ConfigPaths []string  `json:"configPaths"`
}

type agentKeyAuditOut struct {
	KeyID          string     `json:"keyId"`
	TargetType     string     `json:"targetType"`
	TargetID       string     `json:"targetId"`
	Label          string     `json:"label"`
	IssuedAt       time.Time  `json:"issuedAt"`
	IssuedBy       string     `json:"issuedBy"`
	RevokedAt      *time.Time `json:"revokedAt"`
	RevokedBy      *string    `json:"revokedBy"`
	ActiveInWindow bool       `json:"activeInWindow"`
}

type consumerExposureOut struct {
	TargetType string             `json:"targetType"`
	TargetID   string             `json:"targetId"`
	Bindings   []bindingSpanOut   `json:"bindings"`
	Reads      readsOut           `json:"reads"`
	Failures   []failuresOut      `json:"failures"`
	AgentKeys  []agentKeyAuditOut `json:"agentKeys"`
}

type exposureOut struct {
	SecretID  string                `json:"secretId"`
	CompanyID string                `json:"companyId"`
	Name      string                `json:"name"`
	Key       string                `json:"key"`
	Window    windowOut             `json:"window"`
	Position  int64                 `json:"position"`
	Status    []statusChangeOut     `json:"status"`
	Versions  []versionSpanOut      `json:"versions"`
	Consumers []consumerExposureOut `json:"consumers"`
	// ReportedExposures are the leak scans' findings of the secret in the window.
	ReportedExposures []reportedExposureOut `json:"reportedExposures"`
}

type reportedExposureOut struct {
	At          time.Time `json:"at"`
	Position    int64     `json:"position"`
	Actor       string    `json:"actor"`
	ScanID      string    `json:"scanId"`
	Source      string    `json:"source"`
	Version     int       `json:"version"`
	Encoding    string    `json:"encoding"`
	Occurrences int       `json:"occurrences"`
	Line        int       `json:"line"`
	Column      int       `json:"column"`
	Offset      int64     `json:"offset"`
}

func reportedJSON(rs []audit.ReportedExposure) []reportedExposureOut {
	return mapSlice(rs, func(r audit.ReportedExposure) reportedExposureOut {
		return reportedExposureOut{At: r.At, Position: r.Position, Actor: r.Actor, ScanID: r.ScanID, Source: r.Source,
			Version: r.Version, Encoding: r.Encoding, Occurrences: r.Occurrences, Line: r.Line, Column: r.Column, Offset: r.Offset}
	})
}

func spansJSON(vs []audit.VersionSpan) []versionSpanOut {
	return mapSlice(vs, func(v audit.VersionSpan) versionSpanOut {
		return versionSpanOut{Version: v.Version, From: v.From, To: v.To, Position: v.Position}
	})
}

func bindingsJSON(bs []audit.BindingSpan) []bindingSpanOut {
	return mapSlice(bs, func(b audit.BindingSpan) bindingSpanOut {
		o := bindingSpanOut{BindingID: b.BindingID, SecretID: b.SecretID, TargetType: b.TargetType, TargetID: b.TargetID,
			ConfigPath: b.ConfigPath, VersionSelector: b.VersionSelector, CreatedAt: b.CreatedAt, CreatedPosition: b.CreatedPosition,
			CreatedBy: b.CreatedBy, RemovedAt: b.RemovedAt, Versions: spansJSON(b.Versions)}
		if b.RemovedAt != nil {
			o.RemovedPosition, o.RemovedBy = &b.RemovedPosition, &b.RemovedBy
		}
		return o
	})
}

func readsJSON(r audit.Reads) readsOut {
	o := readsOut{Count: r.Count, First: r.First, Last: r.Last, Versions: r.Versions, RunIDs: r.RunIDs, RunIDsTruncated: r.RunIDsTruncated}
	if o.Versions == nil {
		o.Versions = []int{}
	}
	if o.RunIDs == nil {
		o.RunIDs = []string{}
	}
	return o
}

func failuresJSON(fs []audit.Failures) []failuresOut {
	return mapSlice(fs, func(f audit.Failures) failuresOut {
		o := failuresOut{Outcome: f.Outcome, Count: f.Count, First: f.First, Last: f.Last, ConfigPaths: f.ConfigPaths}
		if o.ConfigPaths == nil {
			o.ConfigPaths = []string{}
		}
		return o
	})
}

func auditKeysJSON(ks []audit.AgentKey) []agentKeyAuditOut {
	return mapSlice(ks, func(k audit.AgentKey) agentKeyAuditOut {
		o := agentKeyAuditOut{KeyID: k.KeyID, TargetType: k.TargetType, TargetID: k.TargetID, Label: k.Label, IssuedAt: k.IssuedAt,
			IssuedBy: k.IssuedBy, RevokedAt: k.RevokedAt, ActiveInWindow: k.ActiveInWindow}
		if k.RevokedAt != nil {
			o.RevokedBy = &k.RevokedBy
		}
		return o
	})
}

func statusJSON(cs []audit.StatusChange) []statusChangeOut {
	return mapSlice(cs, func(c audit.StatusChange) statusChangeOut {
		return statusChangeOut{Status: c.Status, At: c.At, Position: c.Position, Actor: c.Actor}
	})
}

func exposureJSON(e audit.SecretExposure) exposureOut {
	return exposureOut{SecretID: e.SecretID, CompanyID: e.CompanyID, Name: e.Name, Key: e.Key, Window: windowJSON(e.Window),
		Position: e.Position, Status: statusJSON(e.Status), Versions: spansJSON(e.Versions),
		Consumers: mapSlice(e.Consumers, func(c audit.ConsumerExposure) consumerExposureOut {
			return consumerExposureOut{TargetType: c.TargetType, TargetID: c.TargetID, Bindings: bindingsJSON(c.Bindings),
				Reads: readsJSON(c.Reads), Failures: failuresJSON(c.Failures), AgentKeys: auditKeysJSON(c.AgentKeys)}
		}),
		ReportedExposures: reportedJSON(e.Reported)}
}

type envKeyOut struct {
	Key      string `json:"key"`
	Type     string `json:"type"`
	SecretID string `json:"secretId,omitempty"`
	Version  string `json:"version,omitempty"`
}

func envKeysJSON(ks []audit.EnvKey) []envKeyOut {
	return mapSlice(ks, func(k audit.EnvKey) envKeyOut {
		return envKeyOut{Key: k.Key, Type: k.Type, SecretID: k.SecretID, Version: k.Version}
	})
}

type envChangeOut struct {
	At       time.Time   `json:"at"`
	Position int64       `json:"position"`
	Actor    string      `json:"actor"`
	Keys     []envKeyOut `json:"keys"`
}

type secretReachOut struct {
	SecretID string            `json:"secretId"`
	Name     string            `json:"name"`
	Key      string            `json:"key"`
	Status   []statusChangeOut `json:"status"`
	Bindings []bindingSpanOut  `json:"bindings"`
	Reads    readsOut          `json:"reads"`
	Failures []failuresOut     `json:"failures"`
}

type reachOut struct {
	CompanyID  string             `json:"companyId"`
	TargetType string             `json:"targetType"`
	TargetID   string             `json:"targetId"`
	Window     windowOut          `json:"window"`
	Position   int64              `json:"position"`
	Secrets    []secretReachOut   `json:"secrets"`
	Inline     readsOut           `json:"inline"`
	Unbound    []failuresOut      `json:"unbound"`
	Env        []envChangeOut     `json:"env"`
	AgentKeys  []agentKeyAuditOut `json:"agentKeys"`
}

func reachJSON(r audit.ConsumerReach) reachOut {
	return reachOut{CompanyID: r.CompanyID, TargetType: r.TargetType, TargetID: r.TargetID, Window: windowJSON(r.Window),
		Position: r.Position, Inline: readsJSON(r.Inline), Unbound: failuresJSON(r.Unbound), AgentKeys: auditKeysJSON(r.AgentKeys),
		Secrets: mapSlice(r.Secrets, func(s audit.SecretReach) secretReachOut {
			return secretReachOut{SecretID: s.SecretID, Name: s.Name, Key: s.Key, Status: statusJSON(s.Status),
				Bindings: bindingsJSON(s.Bindings), Reads: readsJSON(s.Reads), Failures: failuresJSON(s.Failures)}
		}),
		Env: mapSlice(r.Env, func(e audit.EnvChange) envChangeOut {
			return envChangeOut{At: e.At, Position: e.Position, Actor: e.Actor, Keys: envKeysJSON(e.Keys)}
		})}
}

type secretStateOut struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Key            string    `json:"key"`
	Provider       string    `json:"provider"`
	Status         string    `json:"status"`
	CurrentVersion int       `json:"currentVersion"`
	CreatedAt      time.Time `json:"createdAt"`
	ChangedAt      time.Time `json:"statusChangedAt"`
}

type envStateOut struct {
	TargetType string      `json:"targetType"`
	TargetID   string      `json:"targetId"`
	SetAt      time.Time   `json:"setAt"`
	Keys       []envKeyOut `json:"keys"`
}

type vaultStateOut struct {
	ID          string    `json:"id"`
	Provider    string    `json:"provider"`
	DisplayName string    `json:"displayName"`
	Status      string    `json:"status"`
	Default     bool      `json:"isDefault"`
	CreatedAt   time.Time `json:"createdAt"`
}

type stateOut struct {
	CompanyID string             `json:"companyId"`
	At        *time.Time         `json:"at"`
	Requested *int64             `json:"requestedPosition"`
	Position  int64              `json:"position"`
	Secrets   []secretStateOut   `json:"secrets"`
	Bindings  []bindingSpanOut   `json:"bindings"`
	Envs      []envStateOut      `json:"envs"`
	AgentKeys []agentKeyAuditOut `json:"agentKeys"`
	Vaults    []vaultStateOut    `json:"vaults"`
	// ExternalPolicy is the company's external-reference policy at the cut, null when
	// none was set by then.
	ExternalPolicy *auditPolicyOut `json:"externalPolicy"`
}

type auditPolicyOut struct {
	policyLists
	SetAt time.Time `json:"setAt"`
	SetBy string    `json:"setBy"`
}

func stateJSON(s audit.State) stateOut {
	o := stateOut{CompanyID: s.CompanyID, Position: s.Position, Bindings: bindingsJSON(s.Bindings), AgentKeys: auditKeysJSON(s.AgentKeys),
		Secrets: mapSlice(s.Secrets, func(x audit.SecretState) secretStateOut {
			return secretStateOut{ID: x.ID, Name: x.Name, Key: x.Key, Provider: x.Provider, Status: x.Status,
				CurrentVersion: x.CurrentVersion, CreatedAt: x.CreatedAt, ChangedAt: x.ChangedAt}
		}),
		Envs: mapSlice(s.Envs, func(e audit.EnvState) envStateOut {
			return envStateOut{TargetType: e.TargetType, TargetID: e.TargetID, SetAt: e.SetAt, Keys: envKeysJSON(e.Keys)}
		}),
		Vaults: mapSlice(s.Vaults, func(v audit.VaultState) vaultStateOut {
			return vaultStateOut{ID: v.ID, Provider: v.Provider, DisplayName: v.DisplayName, Status: v.Status, Default: v.Default,
				CreatedAt: v.CreatedAt}
		})}
	if p := s.ExternalPolicy; p != nil {
		o.ExternalPolicy = &auditPolicyOut{policyLists: listsJSON(p.Prefixes, p.References, p.Regions, p.Namespaces),
			SetAt: p.SetAt, SetBy: p.SetBy}
	}
	if !s.AsOf.At.IsZero() {
		o.At = &s.AsOf.At
	}
	if s.AsOf.Position > 0 {
		o.Requested = &s.AsOf.Position
	}
	return o
}
