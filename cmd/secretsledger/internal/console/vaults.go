package console

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"
)

func (c *console) vaultRoutes(r *mux.Router) {
	r.HandleFunc("/console/companies/{companyId}/vaults", c.reads(c.vaultList)).Methods(http.MethodGet)
	r.HandleFunc("/console/companies/{companyId}/vaults", c.changes(c.vaultCreate)).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/vaults/{id}/default", c.changes(c.vaultAction("/default", http.MethodPost, "vault-default"))).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/vaults/{id}/health", c.changes(c.vaultAction("/health", http.MethodPost, "vault-checked"))).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/vaults/{id}/disable", c.changes(c.vaultAction("", http.MethodDelete, "vault-disabled"))).Methods(http.MethodPost)
}

// vaultConfigFields are the routing settings a vault's config may hold (never credentials).
var vaultConfigFields = []string{"region", "namespace", "secretNamePrefix", "kmsKeyId", "ownerTag", "environmentTag", "address", "mount"}

type vaultsData struct {
	Vaults  listing
	FormKey string
}

func (c *console) vaultList(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	d := vaultsData{FormKey: formKey()}
	if err := v.api.get("/api/companies/"+company+"/secret-provider-configs", pageQuery(v.r), &d.Vaults); err != nil {
		return err
	}
	return v.show(c, "vaults", "Provider vaults", "vaults", company, d)
}

func (c *console) vaultCreate(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	config := map[string]any{}
	for _, f := range vaultConfigFields {
		v.setIf(config, f)
	}
	body := map[string]any{"displayName": v.form("displayName"), "provider": v.form("provider"), "config": config,
		"isDefault": v.form("isDefault") == "true"}
	if err := v.api.call(http.MethodPost, "/api/companies/"+company+"/secret-provider-configs", nil, body, v.form("formKey"), nil); err != nil {
		return err
	}
	return v.done("/console/companies/"+company+"/vaults", "vault-created")
}

// vaultAction posts one of a vault's actions (set default, check health, disable).
func (c *console) vaultAction(suffix, method, notice string) page {
	return func(v *visit) error {
		vars := mux.Vars(v.r)
		if err := v.api.call(method, "/api/secret-provider-configs/"+url.PathEscape(vars["id"])+suffix, nil, nil, "", nil); err != nil {
			return err
		}
		return v.done("/console/companies/"+vars["companyId"]+"/vaults", notice)
	}
}
