package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
)

// ImportCommands is the write side of remote imports.
type ImportCommands interface {
	PreviewImport(ctx context.Context, a actor.Actor, p commands.ImportPreview) (commands.ImportPreviewResult, error)
	Import(ctx context.Context, req commands.Request, c commands.ImportSecrets) (commands.ImportResult, error)
}

// RemoteImport serves the import of a vault's remote secrets as external references:
// a preview of the remote inventory, then the import of chosen rows.
type RemoteImport struct {
	Commands ImportCommands
	*gate
}

func (h *RemoteImport) routes(r *mux.Router, g *gate) {
	h.gate = g
	r.HandleFunc("/companies/{companyId}/secrets/remote-import/preview", g.board(h.preview)).Methods(http.MethodPost)
	r.HandleFunc("/companies/{companyId}/secrets/remote-import", g.board(h.importSecrets)).Methods(http.MethodPost)
}

type previewImportBody struct {
	ProviderConfigID string `json:"providerConfigId"`
	Query            string `json:"query"`
	NextToken        string `json:"nextToken"`
	PageSize         *int   `json:"pageSize"`
}

// preview answers one page of a vault's remote inventory. The log line carries
// counts only: remote names are the account's business, not the server log's.
func (h *RemoteImport) preview(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b previewImportBody
	if _, err := decode(r, &b); err != nil {
		return err
	}
	p := commands.ImportPreview{CompanyID: company, VaultID: b.ProviderConfigID, Query: b.Query, NextToken: b.NextToken}
	if b.PageSize != nil {
		p.PageSize = *b.PageSize
		if p.PageSize == 0 {
			p.PageSize = -1 // an explicit 0 is out of range, not the default
		}
	}
	res, err := h.Commands.PreviewImport(r.Context(), a, p)
	if err != nil {
		return err
	}
	out := previewOut{Candidates: make([]candidateOut, 0, len(res.Candidates))}
	importable, conflicts := 0, 0
	for _, c := range res.Candidates {
		if c.Importable {
			importable++
		}
		conflicts += len(c.Conflicts)
		m := c.Metadata
		out.Candidates = append(out.Candidates, candidateOut{ExternalRef: c.ExternalRef, RemoteName: c.RemoteName, Name: c.Name,
			Key: c.Key, ProviderVersionRef: optional(c.ProviderVersionRef), Status: c.Status, Importable: c.Importable,
			Conflicts: conflictsJSON(c.Conflicts), ProviderMetadata: metadataOut{CreatedDate: m.CreatedDate,
				LastAccessedDate: m.LastAccessedDate, LastChangedDate: m.LastChangedDate, DeletedDate: m.DeletedDate,
				HasDescription: m.HasDescription, HasKMSKey: m.HasKMSKey, TagCount: m.TagCount}})
	}
	out.NextToken = optional(res.NextToken)
	h.log.Info("remote import preview", "request_id", requestIDOf(r), "listed", len(res.Candidates), "importable", importable,
		"conflicts", conflicts, "more", res.NextToken != "")
	writeJSON(w, http.StatusOK, out)
	return nil
}

type importSecretBody struct {
	ExternalRef        string `json:"externalRef"`
	Name               string `json:"name"`
	Key                string `json:"key"`
	Description        string `json:"description"`
	ProviderVersionRef string `json:"providerVersionRef"`
}

type remoteImportBody struct {
	ProviderConfigID string             `json:"providerConfigId"`
	Secrets          []importSecretBody `json:"secrets"`
}

// importSecrets links remote secrets as external references, row by row.
func (h *RemoteImport) importSecrets(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	var b remoteImportBody
	req, err := h.decodeCommand(r, a, &b)
	if err != nil {
		return err
	}
	c := commands.ImportSecrets{CompanyID: company, VaultID: b.ProviderConfigID, Rows: make([]commands.ImportRow, len(b.Secrets))}
	for i, row := range b.Secrets {
		c.Rows[i] = commands.ImportRow{ExternalRef: row.ExternalRef, Name: row.Name, Key: row.Key, Description: row.Description,
			ProviderVersionRef: row.ProviderVersionRef}
	}
	res, err := h.Commands.Import(r.Context(), req, c)
	if err != nil {
		return err
	}
	out := importOut{ImportedCount: res.Imported, SkippedCount: res.Skipped, ErrorCount: res.Errors,
		Results: make([]importRowOut, 0, len(res.Rows))}
	for _, row := range res.Rows {
		o := importRowOut{ExternalRef: row.ExternalRef, Name: row.Name, Key: row.Key, Status: row.Status,
			Reason: optional(row.Reason), Message: optional(row.Message), SecretID: optional(row.SecretID)}
		if len(row.Conflicts) > 0 {
			o.Conflicts = conflictsJSON(row.Conflicts)
		}
		out.Results = append(out.Results, o)
	}
	h.log.Info("remote import", "request_id", requestIDOf(r), "imported", res.Imported, "skipped", res.Skipped, "errors", res.Errors)
	written(w, commands.Result{Position: res.Position})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func conflictsJSON(cs []commands.ImportConflict) []conflictOut {
	out := make([]conflictOut, 0, len(cs))
	for _, c := range cs {
		out = append(out, conflictOut{Type: c.Type, ExistingSecretID: optional(c.ExistingSecretID), Message: c.Message})
	}
	return out
}

type conflictOut struct {
	Type             string  `json:"type"`
	ExistingSecretID *string `json:"existingSecretId,omitempty"`
	Message          string  `json:"message"`
}

// metadataOut is the allowlist of a remote secret's metadata.
type metadataOut struct {
	CreatedDate      *time.Time `json:"createdDate"`
	LastAccessedDate *time.Time `json:"lastAccessedDate"`
	LastChangedDate  *time.Time `json:"lastChangedDate"`
	DeletedDate      *time.Time `json:"deletedDate"`
	HasDescription   bool       `json:"hasDescription"`
	HasKMSKey        bool       `json:"hasKmsKey"`
	TagCount         int        `json:"tagCount"`
}

type candidateOut struct {
	ExternalRef        string        `json:"externalRef"`
	RemoteName         string        `json:"remoteName"`
	Name               string        `json:"name"`
	Key                string        `json:"key"`
	ProviderVersionRef *string       `json:"providerVersionRef"`
	ProviderMetadata   metadataOut   `json:"providerMetadata"`
	Status             string        `json:"status"`
	Importable         bool          `json:"importable"`
	Conflicts          []conflictOut `json:"conflicts"`
}

type previewOut struct {
	Candidates []candidateOut `json:"candidates"`
	NextToken  *string        `json:"nextToken"`
}

type importRowOut struct {
	ExternalRef string        `json:"externalRef"`
	Name        string        `json:"name"`
	Key         string        `json:"key"`
	Status      string        `json:"status"`
	Reason      *string       `json:"reason,omitempty"`
	Message     *string       `json:"message,omitempty"`
	SecretID    *string       `json:"secretId,omitempty"`
	Conflicts   []conflictOut `json:"conflicts,omitempty"`
}

type importOut struct {
	ImportedCount int            `json:"importedCount"`
	SkippedCount  int            `json:"skippedCount"`
	ErrorCount    int            `json:"errorCount"`
	Results       []importRowOut `json:"results"`
}
