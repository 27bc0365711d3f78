package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"
)

func (c *console) importRoutes(r *mux.Router) {
	r.HandleFunc("/console/companies/{companyId}/import", c.reads(c.importPreview)).Methods(http.MethodGet)
	r.HandleFunc("/console/companies/{companyId}/import", c.changes(c.importSelected)).Methods(http.MethodPost)
}

// maxImportRows is the API's bound on one import.
const maxImportRows = 100

type importData struct {
	Vault, Query, Token string
	Vaults              listing
	// Previewed is false until the operator asked for a page of candidates.
	Previewed  bool
	Candidates []row
	NextToken  string
	// Problem is why the preview failed (no AWS vault, AWS refused, …).
	Problem *apiError
	Result  row
	FormKey string
}

func (c *console) importPreview(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	in := v.r.URL.Query()
	d := importData{Vault: in.Get("vault"), Query: in.Get("q"), Token: in.Get("next"), FormKey: formKey()}
	if err := v.api.get("/api/companies/"+company+"/secret-provider-configs", url.Values{"provider": {"aws_secrets_manager"}, "limit": {strconv.Itoa(pickerRows)}}, &d.Vaults); err != nil {
		return err
	}
	if in.Has("preview") {
		d.Previewed = true
		body := map[string]any{"pageSize": pageSize}
		for k, val := range map[string]string{"providerConfigId": d.Vault, "query": d.Query, "nextToken": d.Token} {
			if val != "" {
				body[k] = val
			}
		}
		var preview struct {
			Candidates []row   `json:"candidates"`
			NextToken  *string `json:"nextToken"`
		}
		err := v.api.call(http.MethodPost, "/api/companies/"+company+"/secrets/remote-import/preview", nil, body, "", &preview)
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
	rows := make([]map[string]any, 0, len(refs))
	for _, ref := range refs {
		rows = append(rows, map[string]any{"externalRef": ref})
	}
	body := map[string]any{"secrets": rows}
	v.setIf(body, "providerConfigId")
	d := importData{Vault: v.form("providerConfigId")}
	if err := v.api.call(http.MethodPost, "/api/companies/"+company+"/secrets/remote-import", nil, body, "", &d.Result); err != nil {
		return err
	}
	return v.show(c, "import", "Remote import", "import", company, d)
}
