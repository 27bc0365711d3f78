package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

func (c *console) secretRoutes(r *mux.Router) {
	r.HandleFunc("/console/companies/{companyId}/secrets", c.reads(c.secretList)).Methods(http.MethodGet)
	r.HandleFunc("/console/companies/{companyId}/secrets", c.changes(c.secretCreate)).Methods(http.MethodPost)
	r.HandleFunc("/console/secrets/{id}", c.reads(c.secretPage)).Methods(http.MethodGet)
	r.HandleFunc("/console/secrets/{id}/rotate", c.changes(c.secretRotate)).Methods(http.MethodPost)
	r.HandleFunc("/console/secrets/{id}/status", c.changes(c.secretStatus)).Methods(http.MethodPost)
	r.HandleFunc("/console/secrets/{id}/delete", c.changes(c.secretDelete)).Methods(http.MethodPost)
	r.HandleFunc("/console/secrets/{id}/restore", c.changes(c.secretRestore)).Methods(http.MethodPost)
	r.HandleFunc("/console/secrets/{id}/purge", c.changes(c.secretPurge)).Methods(http.MethodPost)
}

// secretListData is the secrets page.
type secretListData struct {
	Secrets   apiclient.Page[apiclient.Secret]
	Query     string
	Deleted   bool
	Providers apiclient.Page[apiclient.Provider]
	Vaults    apiclient.Page[apiclient.Vault]
	FormKey   string
}

// VaultName is the display name of the vault id names, for the list's vault column
// ("" for one not among Vaults).
func (d secretListData) VaultName(id *string) string {
	for _, v := range d.Vaults.Items {
		if id != nil && v.ID == *id {
			return v.DisplayName
		}
	}
	return ""
}

func (c *console) secretList(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	d := secretListData{Query: v.r.URL.Query().Get("q"), Deleted: v.r.URL.Query().Get("deleted") == "true", FormKey: formKey()}
	q := pageQuery(v.r)
	if d.Query != "" {
		q.Set("q", d.Query)
	}
	if d.Deleted {
		q.Set("deleted", "true")
	}
	var err error
	if d.Secrets, _, err = v.api.ListSecrets(v.ctx, company, q); err != nil {
		return err
	}
	if d.Providers, _, err = v.api.ListProviders(v.ctx, company); err != nil {
		return err
	}
	if d.Vaults, _, err = v.api.ListVaults(v.ctx, company, url.Values{"limit": {strconv.Itoa(pickerRows)}}); err != nil {
		return err
	}
	return v.show(c, "secrets", "Secrets", "secrets", company, d)
}

// form returns a trimmed form field.
func (v *visit) form(name string) string { return strings.TrimSpace(v.r.PostForm.Get(name)) }

func (c *console) secretCreate(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	body := apiclient.CreateSecret{Name: v.form("name"), Key: v.form("key"), Description: v.form("description"),
		Provider: v.form("provider"), ProviderConfigID: v.form("providerConfigId"), ManagedMode: v.form("managedMode"),
		ExternalRef: v.form("externalRef"),
		Value:       v.r.PostForm.Get("value")} // a value is taken as typed, blanks included
	created, _, err := v.api.CreateSecret(v.ctx, company, body, keyed(v.form("formKey")))
	if err != nil {
		return err
	}
	return v.done("/console/secrets/"+url.PathEscape(created.ID), "created")
}

// secretData is a secret's page.
type secretData struct {
	Secret   apiclient.Secret
	Versions apiclient.Page[apiclient.SecretVersion]
	Bindings apiclient.Page[apiclient.Binding]
	Access   apiclient.Page[apiclient.AccessEvent]
	FormKey  string
}

// secret is a secret, deleted or purged ones included (with DeletedAt).
func (v *visit) secret(id string) (apiclient.Secret, error) {
	s, _, err := v.api.GetSecret(v.ctx, id, url.Values{"deleted": {"true"}})
	return s, err
}

func (c *console) secretPage(v *visit) error {
	id := mux.Vars(v.r)["id"]
	d := secretData{FormKey: formKey()}
	var err error
	if d.Secret, err = v.secret(id); err != nil {
		return err
	}
	if d.Secret.DeletedAt != nil { // the API keeps a deleted secret's versions, bindings and reads to itself
		return v.show(c, "secret", d.Secret.Name, "secrets", d.Secret.CompanyID, d)
	}
	if d.Versions, _, err = v.api.ListSecretVersions(v.ctx, id, url.Values{"limit": {strconv.Itoa(detailRows)}}); err != nil {
		return err
	}
	if d.Bindings, _, err = v.api.ListSecretUsage(v.ctx, id, url.Values{"limit": {strconv.Itoa(detailRows)}}); err != nil {
		return err
	}
	if d.Access, _, err = v.api.ListSecretAccessEvents(v.ctx, id, url.Values{"limit": {strconv.Itoa(recentReads)}}); err != nil {
		return err
	}
	return v.show(c, "secret", d.Secret.Name, "secrets", d.Secret.CompanyID, d)
}

func (c *console) secretRotate(v *visit) error {
	id := mux.Vars(v.r)["id"]
	body := apiclient.RotateSecret{Value: v.r.PostForm.Get("value"), ExternalRef: v.form("externalRef"),
		ProviderVersionRef: v.form("providerVersionRef")}
	// The version the page showed: a rotation made meanwhile by someone else is a 409,
	// not silently superseded.
	if n, err := strconv.Atoi(v.form("expectedLatestVersion")); err == nil {
		body.ExpectedLatestVersion = &n
	}
	if _, _, err := v.api.RotateSecret(v.ctx, id, body, keyed(v.form("formKey"))); err != nil {
		return err
	}
	return v.done("/console/secrets/"+id, "rotated")
}

func (c *console) secretStatus(v *visit) error {
	id := mux.Vars(v.r)["id"]
	status := v.form("status")
	if _, _, err := v.api.UpdateSecret(v.ctx, id, apiclient.UpdateSecret{Status: &status}, keyed(v.form("formKey"))); err != nil {
		return err
	}
	return v.done("/console/secrets/"+id, "updated")
}

func (c *console) secretDelete(v *visit) error {
	id := mux.Vars(v.r)["id"]
	if _, _, err := v.api.DeleteSecret(v.ctx, id, keyed(v.form("formKey"))); err != nil {
		return err
	}
	return v.done("/console/secrets/"+id, "deleted")
}

func (c *console) secretRestore(v *visit) error {
	id := mux.Vars(v.r)["id"]
	if _, _, err := v.api.RestoreSecret(v.ctx, id, keyed(v.form("formKey"))); err != nil {
		return err
	}
	return v.done("/console/secrets/"+id, "restored")
}

func (c *console) secretPurge(v *visit) error {
	id := mux.Vars(v.r)["id"]
	s, err := v.secret(id)
	if err != nil {
		return err
	}
	if _, _, err := v.api.PurgeSecret(v.ctx, id, apiclient.PurgeSecret{Confirm: v.form("confirm")}, keyed(v.form("formKey"))); err != nil {
		return err
	}
	return v.done("/console/companies/"+s.CompanyID+"/secrets?deleted=true", "purged")
}
