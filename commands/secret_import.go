package commands

import (
	"context"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// SourceRemoteImport marks the secret.created event of an external reference linked by
// a remote import. WARNING: persisted in events.
const SourceRemoteImport = "remote_import"

// Bounds of a remote import.
const (
	MaxImportQuery        = 200
	MaxImportNextToken    = 4096
	MaxImportPageSize     = 100
	DefaultImportPageSize = 50
	MaxImportBatch        = 100
)

// Conflict types, candidate statuses, row statuses and row reasons of a remote import
// (the API's vocabulary).
const (
	ConflictExactReference = "exact_reference"
	ConflictName           = "name"
	ConflictKey            = "key"
	ConflictGuardrail      = "provider_guardrail"

	CandidateReady     = "ready"
	CandidateDuplicate = "duplicate"
	CandidateConflict  = "conflict"

	RowImported = "imported"
	RowSkipped  = "skipped"
	RowError    = "error"

	ReasonExactDuplicate = "exact_reference_duplicate"
	ReasonBatchDuplicate = "batch_duplicate"
	ReasonGuardrail      = "provider_guardrail"
	ReasonNameConflict   = "name_conflict"
	ReasonKeyConflict    = "key_conflict"
	ReasonInvalid        = "invalid"
	ReasonFailed         = "failed"
)

// Importer handles the remote import of external references: PreviewImport and
// Import. An import places its batch once, at its start (importTarget).
type Importer struct {
	rt      *Runtime
	secrets *Secrets // links each row as a create does
	storage storage
	ext     externalRefs
	// directory lists the live secrets a row could conflict with (read models).
	directory Directory
}

// RemoteInventory is implemented by provider instances that can list the secrets of
// their account (AWS: one ListSecrets call per page). It reads metadata only.
type RemoteInventory interface {
	List(ctx context.Context, query, nextToken string, pageSize int) (providers.RemotePage, error)
}

// ExternalRefs is implemented by providers that link external references: their
// guardrail (a reference inside the ledger's managed namespace is refused) and the
// name a reference denotes (an ARN and a name of the same secret denote the same).
type ExternalRefs interface {
	CheckExternalRef(externalRef string) error
	ExternalRefName(externalRef string) string
}

// ImportPreview asks for one page of a vault's remote inventory.
type ImportPreview struct {
	CompanyID string
	// VaultID is an AWS vault of the company; "" is the deployment's AWS instance.
	VaultID   string
	Query     string
	NextToken string
	PageSize  int // 0: DefaultImportPageSize
}

// ImportConflict is why a remote secret cannot be imported as it is.
type ImportConflict struct {
	Type             string
	ExistingSecretID string // "" when the conflict is not with a ledger secret
	Message          string
}

// ImportCandidate is one remote secret of a preview with the name and key it would get.
type ImportCandidate struct {
	ExternalRef        string
	RemoteName         string
	Name, Key          string
	ProviderVersionRef string // "": resolves the remote secret's current version
	Metadata           providers.RemoteSecret
	Status             string
	Importable         bool
	Conflicts          []ImportConflict
}

// ImportPreviewResult is a page of candidates; NextToken is "" on the last page.
type ImportPreviewResult struct {
	Candidates []ImportCandidate
	NextToken  string
}

// importTarget is the vault a remote import reads and links into, and the guard its
// references pass.
type importTarget struct {
	at     Placement
	inv    RemoteInventory
	under  PrefixedInventory // nil: the provider lists its whole inventory
	refs   ExternalRefs
	guard  *externalRefGuard
	policy policyState // the company's external-reference policy
}

// unwrapProvider returns the provider under a decorator (metrics), or p.
func unwrapProvider(p providers.Provider) providers.Provider {
	if w, ok := p.(interface{ Unwrap() providers.Provider }); ok {
		return w.Unwrap()
	}
	return p
}

// target finds the vault of a remote import: an aws_secrets_manager or vault vault of
// the company (not found for another company's, refused when disabled), or, without
// one, the deployment's remote instance (aws_secrets_manager when it has one, else
// vault).
func (h *Importer) importTarget(ctx context.Context, a actor.Actor, companyID, vaultID string) (importTarget, error) {
	if a.Type != actor.Board {
		return importTarget{}, ledgererr.New(ledgererr.Forbidden, "remote import is for board credentials")
	}
	if !a.CanAccess(companyID) {
		return importTarget{}, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	at, err := h.remotePlacement(ctx, a, companyID, strings.TrimSpace(vaultID))
	if err != nil {
		return importTarget{}, err
	}
	inner := unwrapProvider(at.Provider)
	inv, okInv := inner.(RemoteInventory)
	under, _ := inner.(PrefixedInventory)
	refs, okRefs := inner.(ExternalRefs)
	if !okInv || !okRefs {
		return importTarget{}, ledgererr.New(ledgererr.Invalid, "the %s provider cannot list remote secrets", at.ProviderID)
	}
	policy, err := h.rt.loadPolicy(ctx, companyID)
	if err != nil {
		return importTarget{}, err
	}
	return importTarget{at: at, inv: inv, under: under, refs: refs, guard: h.ext.guard(), policy: policy}, nil
}

// PreviewImport reads one page of a vault's remote inventory (one provider list call,
// never a value) and says for each secret whether it can be imported.
func (h *Importer) PreviewImport(ctx context.Context, a actor.Actor, p ImportPreview) (ImportPreviewResult, error) {
	if p.PageSize == 0 {
		p.PageSize = DefaultImportPageSize
	}
	switch {
	case p.PageSize < 1 || p.PageSize > MaxImportPageSize:
		return ImportPreviewResult{}, ledgererr.New(ledgererr.Invalid, "pageSize must be 1 to %d", MaxImportPageSize)
	case len(p.Query) > MaxImportQuery:
		return ImportPreviewResult{}, ledgererr.New(ledgererr.Invalid, "query is longer than %d characters", MaxImportQuery)
	case len(p.NextToken) > MaxImportNextToken:
		return ImportPreviewResult{}, ledgererr.New(ledgererr.Invalid, "nextToken is longer than %d characters", MaxImportNextToken)
	}
	t, err := h.importTarget(ctx, a, p.CompanyID, p.VaultID)
	if err != nil {
		return ImportPreviewResult{}, err
	}
	if t.policy.approvesNothing(h.ext.instance(t.at.ProviderID)) {
		return ImportPreviewResult{}, errNothingApproved()
	}
	page, err := h.listPage(ctx, t, p)
	if err != nil {
		return ImportPreviewResult{}, err
	}
	if err := t.guard.loadNamespaces(ctx); err != nil {
		return ImportPreviewResult{}, err
	}
	page.Secrets = filterPreview(t, h.ext.instance(t.at.ProviderID), page.Secrets)
	out := ImportPreviewResult{NextToken: page.NextToken, Candidates: make([]ImportCandidate, 0, len(page.Secrets))}
	var names, keys []string
	for _, rs := range page.Secrets {
		if rs.Managed || t.guard.inManagedNamespace(t.refs.ExternalRefName(rs.Ref)) ||
			providers.ProviderCodeOf(t.refs.CheckExternalRef(rs.Ref)) == providers.CodeGuardrail {
			continue // the ledger's own secrets are never offered, whoever manages them
		}
		c := ImportCandidate{ExternalRef: rs.Ref, RemoteName: rs.Name, Metadata: rs}
		// Named as the commit names a row without a name: after the name the reference
		// denotes (vault: [namespace/]mount/path, so two mounts' paths stay apart).
		c.Name, c.Key = importName(t.refs.ExternalRefName(rs.Ref))
		names, keys = append(names, c.Name), append(keys, c.Key)
		out.Candidates = append(out.Candidates, c)
	}
	live, err := h.directory.ImportCandidates(ctx, p.CompanyID, t.at.VaultID, names, keys)
	if err != nil {
		return ImportPreviewResult{}, err
	}
	seen := newImportSeen()
	for i := range out.Candidates {
		c := &out.Candidates[i]
		c.Conflicts = importConflicts(t.refs, c.ExternalRef, c.Name, c.Key, live)
		c.Conflicts = append(c.Conflicts, seen.conflicts(c.Name, c.Key)...)
		c.Status, c.Importable = candidateStatus(c.Conflicts)
		seen.add(t.refs.ExternalRefName(c.ExternalRef), c.Name, c.Key)
	}
	return out, nil
}

// importName derives a ledger name and key from a remote secret's name: the name
// without a leading "/" (cut to MaxNameLength characters), its key normalised.
func importName(remote string) (name, key string) {
	name = strings.TrimSpace(strings.TrimPrefix(remote, "/"))
	if r := []rune(name); len(r) > MaxNameLength {
		name = strings.TrimSpace(string(r[:MaxNameLength]))
	}
	return name, NormalizeKey(name)
}

// importConflicts checks one remote secret against the company's live secrets: the
// guardrail, the same reference already linked in the vault (compared by the secret
// name it denotes), and the name and key, which must be free.
func importConflicts(refs ExternalRefs, externalRef, name, key string, live []LiveSecret) []ImportConflict {
	var out []ImportConflict
	if err := refs.CheckExternalRef(externalRef); err != nil {
		out = append(out, ImportConflict{Type: ConflictGuardrail, Message: ledgererr.MessageOf(err)})
	}
	refName := refs.ExternalRefName(externalRef)
	for _, s := range live {
		switch {
		case s.ManagedMode == ExternalReference && s.ExternalRef != "" && refs.ExternalRefName(s.ExternalRef) == refName:
			out = append(out, ImportConflict{Type: ConflictExactReference, ExistingSecretID: s.ID,
				Message: "this reference is already linked in this vault"})
		case s.Name == name:
			out = append(out, ImportConflict{Type: ConflictName, ExistingSecretID: s.ID, Message: "a secret with this name already exists"})
		case s.Key == key:
			out = append(out, ImportConflict{Type: ConflictKey, ExistingSecretID: s.ID, Message: "a secret with this key already exists"})
		}
	}
	return out
}

// candidateStatus: an exact reference already linked is a duplicate; any other finding
// a conflict; none, ready.
func candidateStatus(cs []ImportConflict) (string, bool) {
	if len(cs) == 0 {
		return CandidateReady, true
	}
	for _, c := range cs {
		if c.Type == ConflictExactReference {
			return CandidateDuplicate, false
		}
	}
	return CandidateConflict, false
}

// importSeen remembers what earlier rows of one page or batch took.
type importSeen struct{ refs, names, keys map[string]bool }

func newImportSeen() importSeen {
	return importSeen{refs: map[string]bool{}, names: map[string]bool{}, keys: map[string]bool{}}
}

func (s importSeen) add(refName, name, key string) {
	s.refs[refName], s.names[name], s.keys[key] = true, true, true
}

func (s importSeen) conflicts(name, key string) []ImportConflict {
	var out []ImportConflict
	if s.names[name] {
		out = append(out, ImportConflict{Type: ConflictName, Message: "an earlier secret of this page has the same name"})
	}
	if s.keys[key] {
		out = append(out, ImportConflict{Type: ConflictKey, Message: "an earlier secret of this page has the same key"})
	}
	return out
}

// ImportRow is one remote secret to link; Name and Key default to the ones the
// preview derives from the reference.
type ImportRow struct {
	ExternalRef        string
	Name               string
	Key                string
	Description        string
	ProviderVersionRef string
}

// ImportSecrets links remote secrets of a vault as external references.
type ImportSecrets struct {
	CompanyID string
	VaultID   string
	Rows      []ImportRow
}

// ImportRowResult is what became of one row.
type ImportRowResult struct {
	ExternalRef string
	Name, Key   string
	Status      string
	Reason      string
	Message     string
	SecretID    string
	Conflicts   []ImportConflict

	refusal error // the guardrail's or the policy's refusal of the row, to record
}

// ImportResult sums a remote import up; Position is the log position of its last event.
type ImportResult struct {
	Imported, Skipped, Errors int
	Rows                      []ImportRowResult
	Position                  int64
}

// Import links the rows, one by one, as external_reference secrets (one secret.created
// event each, with source remote_import): no provider call is made, no value read.
// Conflicts are checked again at submit against the live secrets: a reference already
// linked in the vault, or twice in the batch, is skipped; a guardrail refusal, a name
// or key taken, or an invalid row is an error row. Rows do not depend on each other's
// success, and a repeated import skips what the first one linked, so the request's
// Idempotency-Key is not used.
func (h *Importer) Import(ctx context.Context, req Request, c ImportSecrets) (ImportResult, error) {
	if n := len(c.Rows); n < 1 || n > MaxImportBatch {
		return ImportResult{}, ledgererr.New(ledgererr.Invalid, "secrets must hold 1 to %d entries", MaxImportBatch)
	}
	t, err := h.importTarget(ctx, req.Actor, c.CompanyID, c.VaultID)
	if err != nil {
		return ImportResult{}, err
	}
	rows := make([]ImportRowResult, len(c.Rows))
	creates := make([]*CreateSecret, len(c.Rows))
	var names, keys []string
	for i, r := range c.Rows {
		rows[i], creates[i] = h.decideImportRow(ctx, t, c.CompanyID, r)
		names, keys = append(names, rows[i].Name), append(keys, rows[i].Key)
		if recordedRefusal(rows[i].refusal) {
			if err := h.ext.recordRefusal(ctx, req, c.CompanyID, t.at, RefusedImport, rows[i].ExternalRef, rows[i].refusal); err != nil {
				return ImportResult{}, err
			}
		}
	}
	if t.policy.approvesNothing(h.ext.instance(t.at.ProviderID)) {
		return ImportResult{}, errNothingApproved()
	}
	live, err := h.directory.ImportCandidates(ctx, c.CompanyID, t.at.VaultID, names, keys)
	if err != nil {
		return ImportResult{}, err
	}
	one := Request{Actor: req.Actor, RequestID: req.RequestID} // each row is its own append
	seen := newImportSeen()
	var out ImportResult
	for i := range rows {
		row := &rows[i]
		if creates[i] != nil {
			if err := h.importRow(ctx, one, t, row, *creates[i], live, seen, &out); err != nil {
				return ImportResult{}, err
			}
		}
		switch row.Status {
		case RowImported:
			out.Imported++
			live = append(live, LiveSecret{ID: row.SecretID, Name: row.Name, Key: row.Key, ManagedMode: ExternalReference,
				ExternalRef: row.ExternalRef, VaultID: t.at.VaultID})
		case RowSkipped:
			out.Skipped++
		default:
			out.Errors++
		}
	}
	out.Rows = rows
	return out, nil
}

// decideImportRow validates a row and returns its create, or its error result.
func (h *Importer) decideImportRow(ctx context.Context, t importTarget, companyID string, r ImportRow) (ImportRowResult, *CreateSecret) {
	refs, at := t.refs, t.at
	ref := strings.TrimSpace(r.ExternalRef)
	row := ImportRowResult{ExternalRef: ref, Status: RowError}
	row.Name, row.Key = importName(refs.ExternalRefName(ref))
	if strings.TrimSpace(r.Name) != "" {
		row.Name = strings.TrimSpace(r.Name)
	}
	if strings.TrimSpace(r.Key) != "" {
		row.Key = NormalizeKey(r.Key)
	} else if strings.TrimSpace(r.Name) != "" {
		row.Key = NormalizeKey(r.Name)
	}
	if err := checkExternalRef(ref, r.ProviderVersionRef); err != nil || ref == "" {
		if err == nil {
			err = ledgererr.New(ledgererr.Invalid, "externalRef is required")
		}
		row.Reason, row.Message = ReasonInvalid, ledgererr.MessageOf(err)
		return row, nil
	}
	// The policy first: a reference the company may not name costs no call to the
	// provider, whose answer (managed, absent, denied) would tell it about inventory it
	// may not see.
	if err := h.ext.checkImportRowPolicy(t, ref); err != nil {
		row.Reason, row.Message, row.refusal = ReasonExternalNotApproved, ledgererr.MessageOf(err), err
		return row, nil
	}
	if err := t.guard.check(ctx, at.Provider, ref); err != nil {
		row.Reason, row.Message = ReasonFailed, ledgererr.MessageOf(err)
		switch {
		case providers.ProviderCodeOf(err) == providers.CodeGuardrail:
			row.Reason, row.refusal = ReasonGuardrail, err
			row.Conflicts = []ImportConflict{{Type: ConflictGuardrail, Message: row.Message}}
		case ledgererr.CodeOf(err) == ledgererr.Invalid:
			row.Reason = ReasonInvalid
		}
		return row, nil
	}
	cs := CreateSecret{CompanyID: companyID, Name: row.Name, Key: row.Key, Description: r.Description, Provider: at.ProviderID,
		ManagedMode: ExternalReference, ExternalRef: ref, ProviderVersionRef: r.ProviderVersionRef, ProviderConfigID: at.VaultID}
	decided, err := decideCreate(cs)
	if err != nil {
		row.Reason, row.Message = ReasonInvalid, ledgererr.MessageOf(err)
		return row, nil
	}
	row.Name, row.Key = decided.Name, decided.Key
	return row, &decided
}

// importRow checks one decided row against the live secrets and the batch so far, and
// links it. Only a failure of the ledger itself (the log unavailable) is returned: the
// rows linked before it stay, and a repeated import skips them.
func (h *Importer) importRow(ctx context.Context, req Request, t importTarget, row *ImportRowResult, c CreateSecret,
	live []LiveSecret, seen importSeen, out *ImportResult) error {
	refName := t.refs.ExternalRefName(row.ExternalRef)
	if seen.refs[refName] {
		row.Status, row.Reason = RowSkipped, ReasonBatchDuplicate
		row.Message = "the same reference appears earlier in this batch"
		return nil
	}
	seen.add(refName, "", "")
	conflicts := importConflicts(t.refs, row.ExternalRef, row.Name, row.Key, live)
	conflicts = append(conflicts, seen.conflicts(row.Name, row.Key)...)
	if len(conflicts) > 0 {
		row.Conflicts = conflicts
		status, _ := candidateStatus(conflicts)
		switch {
		case status == CandidateDuplicate:
			row.Status, row.Reason, row.Message = RowSkipped, ReasonExactDuplicate, "this reference is already linked in this vault"
		case conflicts[0].Type == ConflictName:
			row.Reason, row.Message = ReasonNameConflict, conflicts[0].Message
		default:
			row.Reason, row.Message = ReasonKeyConflict, conflicts[0].Message
		}
		return nil
	}
	seen.add(refName, row.Name, row.Key)
	res, err := h.secrets.createPlaced(ctx, req, c, t.at, nil, SourceRemoteImport, t.guard)
	if code := ledgererr.CodeOf(err); code == ledgererr.Unavailable || code == ledgererr.Internal {
		return err
	}
	if err != nil {
		row.Reason, row.Message = ReasonFailed, ledgererr.MessageOf(err)
		if ledgererr.CodeOf(err) == ledgererr.Conflict {
			row.Reason = ReasonNameConflict
			if strings.Contains(row.Message, "key") {
				row.Reason = ReasonKeyConflict
			}
		}
		return nil
	}
	row.Status, row.SecretID = RowImported, res.SecretID
	out.Position = res.Position
	return nil
}
