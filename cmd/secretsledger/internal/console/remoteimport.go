package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/providers"
)

func (c *console) importRoutes(r *mux.Router) {
	r.HandleFunc("/console/companies/{companyId}/import", c.reads(c.importPreview)).Methods(http.MethodGet)
	r.HandleFunc("/console/companies/{companyId}/import", c.changes(c.importSelected)).Methods(http.MethodPost)
}

// maxImportRows is the API's bound on one import.
const maxImportRows = 100

type importData struct {
	Vault, Query, Token string
	Vaults              apiclient.Page[apiclient.Vault]
	// Previewed is false until the operator asked for a page of candidates.
	Previewed  bool
	Candidates []apiclient.RemoteImportCandidate
	NextToken  string
	// Problem is why the preview failed (no AWS vault, AWS refused, …).
	Problem *apiError
	// Result is what an import did; nil before one.
	Result  *apiclient.RemoteImportResult
	FormKey string
}

func (c *console) importPreview(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	in := v.r.URL.Query()
	d := importData{Vault: in.Get("vault"), Query: in.Get("q"), Token: in.Get("next"), FormKey: formKey()}
	// The picker lists the vaults of both remote providers (a vault vault of a
	// deployment without a Vault session is a draft: the preview says so).
	for _, provider := range []string{providers.AWSSecretsManager, providers.HashiCorpVault} {
		page, _, err := v.api.ListVaults(v.ctx, company, url.Values{"provider": {provider}, "limit": {strconv.Itoa(pickerRows)}})
		if err != nil {
			return err
		}
		d.Vaults.Items = append(d.Vaults.Items, page.Items...)
	}
	if in.Has("preview") {
		d.Previewed = true
		size := pageSize
		body := apiclient.RemoteImportPreviewRequest{PageSize: &size, ProviderConfigID: d.Vault, Query: d.Query, NextToken: d.Token}
		preview, _, err := v.api.PreviewRemoteImport(v.ctx, company, body)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.Status != http.StatusUnauthorized:
			d.Problem = ae
		case err != nil:
			return err
		}
		d.Candidates = preview.Candidates
		if preview.NextToken != nil {
			d.NextToken = *preview.NextToken
		}
	}
	return v.show(c, "import", "Remote import", "import", company, d)
}

func (c *console) importSelected(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	refs := v.r.PostForm["ref"]
	if len(refs) == 0 || len(refs) > maxImportRows {
		return &apiError{Status: http.StatusBadRequest, Message: "select 1 to 100 secrets to import", Code: "EBADREQUEST"}
	}
	rows := make([]apiclient.RemoteImportRow, 0, len(refs))
	for _, ref := range refs {
		rows = append(rows, apiclient.RemoteImportRow{ExternalRef: ref})
	}
	body := apiclient.RemoteImportRequest{Secrets: rows, ProviderConfigID: v.form("providerConfigId")}
	d := importData{Vault: v.form("providerConfigId")}
	result, _, err := v.api.RemoteImport(v.ctx, company, body)
	if err != nil {
		return err
	}
	d.Result = &result
	return v.show(c, "import", "Remote import", "import", company, d)
}
