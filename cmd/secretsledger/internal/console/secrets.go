package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
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
	Secrets   listing
	Query     string
	Deleted   bool
	Providers listing
	Vaults    listing
	// VaultNames maps a vault's id to its display name, for the list's vault column.
	VaultNames map[string]any
	FormKey    string
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
	base := "/api/companies/" + company
	if err := v.api.get(base+"/secrets", q, &d.Secrets); err != nil {
		return err
	}
	if err := v.api.get(base+"/secret-providers", nil, &d.Providers); err != nil {
		return err
	}
	if err := v.api.get(base+"/secret-provider-configs", url.Values{"limit": {strconv.Itoa(pickerRows)}}, &d.Vaults); err != nil {
		return err
	}
	d.VaultNames = map[string]any{}
	for _, vault := range d.Vaults.Items {
		if id, ok := vault["id"].(string); ok {
			d.VaultNames[id] = vault["displayName"]
		}
	}
	return v.show(c, "secrets", "Secrets", "secrets", company, d)
}

// form returns a trimmed form field.
func (v *visit) form(name string) string { return strings.TrimSpace(v.r.PostForm.Get(name)) }

// setIf sets body[name] to the form field when it is not empty.
func (v *visit) setIf(body map[string]any, name string) {
	if s := v.form(name); s != "" {
		body[name] = s
	}
}

func (c *console) secretCreate(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	body := map[string]any{"name": v.form("name")}
	for _, f := range []string{"key", "description", "provider", "providerConfigId", "managedMode", "externalRef"} {
		v.setIf(body, f)
	}
	if value := v.r.PostForm.Get("value"); value != "" { // a value is taken as typed, blanks included
		body["value"] = value
	}
	var created row
	if err := v.api.call(http.MethodPost, "/api/companies/"+company+"/secrets", nil, body, v.form("formKey"), &created); err != nil {
		return err
	}
	return v.done("/console/secrets/"+url.PathEscape(str(created["id"])), "created")
}

// str is a string field of an API row, "" when absent.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// secretData is a secret's page.
type secretData struct {
	Secret   row
	Versions listing
	Bindings listing
	Access   listing
	FormKey  string
}

// secret is a secret's row, deleted or purged ones included (with deletedAt).
func (v *visit) secret(id string) (row, error) {
	var s row
	err := v.api.get("/api/secrets/"+id, url.Values{"deleted": {"true"}}, &s)
	return s, err
}

func (c *console) secretPage(v *visit) error {
	id := mux.Vars(v.r)["id"]
	d := secretData{FormKey: formKey()}
	var err error
	if d.Secret, err = v.secret(id); err != nil {
		return err
	}
	if d.Secret["deletedAt"] != nil { // the API keeps a deleted secret's versions, bindings and reads to itself
		return v.show(c, "secret", str(d.Secret["name"]), "secrets", str(d.Secret["companyId"]), d)
	}
	if err := v.api.get("/api/secrets/"+id+"/versions", url.Values{"limit": {strconv.Itoa(detailRows)}}, &d.Versions); err != nil {
		return err
	}
	if err := v.api.get("/api/secrets/"+id+"/usage", url.Values{"limit": {strconv.Itoa(detailRows)}}, &d.Bindings); err != nil {
		return err
	}
	if err := v.api.get("/api/secrets/"+id+"/access-events", url.Values{"limit": {strconv.Itoa(recentReads)}}, &d.Access); err != nil {
		return err
	}
	return v.show(c, "secret", str(d.Secret["name"]), "secrets", str(d.Secret["companyId"]), d)
}

func (c *console) secretRotate(v *visit) error {
	id := mux.Vars(v.r)["id"]
	body := map[string]any{}
	if value := v.r.PostForm.Get("value"); value != "" {
		body["value"] = value
	}
	v.setIf(body, "externalRef")
	v.setIf(body, "providerVersionRef")
	// The version the page showed: a rotation made meanwhile by someone else is a 409,
	// not silently superseded.
	if n, err := strconv.Atoi(v.form("expectedLatestVersion")); err == nil {
		body["expectedLatestVersion"] = n
	}
	if err := v.api.call(http.MethodPost, "/api/secrets/"+id+"/rotate", nil, body, v.form("formKey"), nil); err != nil {
		return err
	}
	return v.done("/console/secrets/"+id, "rotated")
}

func (c *console) secretStatus(v *visit) error {
	id := mux.Vars(v.r)["id"]
	body := map[string]any{"status": v.form("status")}
	if err := v.api.call(http.MethodPatch, "/api/secrets/"+id, nil, body, v.form("formKey"), nil); err != nil {
		return err
	}
	return v.done("/console/secrets/"+id, "updated")
}

func (c *console) secretDelete(v *visit) error {
	id := mux.Vars(v.r)["id"]
	if err := v.api.call(http.MethodDelete, "/api/secrets/"+id, nil, nil, v.form("formKey"), nil); err != nil {
		return err
	}
	return v.done("/console/secrets/"+id, "deleted")
}

func (c *console) secretRestore(v *visit) error {
	id := mux.Vars(v.r)["id"]
	if err := v.api.call(http.MethodPost, "/api/secrets/"+id+"/restore", nil, nil, v.form("formKey"), nil); err != nil {
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
	body := map[string]any{"confirm": v.form("confirm")}
	if err := v.api.call(http.MethodPost, "/api/secrets/"+id+"/purge", nil, body, v.form("formKey"), nil); err != nil {
		return err
	}
	return v.done("/console/companies/"+str(s["companyId"])+"/secrets?deleted=true", "purged")
}
