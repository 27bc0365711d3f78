package console

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

func (c *console) vaultRoutes(r *mux.Router) {
	r.HandleFunc("/console/companies/{companyId}/vaults", c.reads(c.vaultList)).Methods(http.MethodGet)
	r.HandleFunc("/console/companies/{companyId}/vaults", c.changes(c.vaultCreate)).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/vaults/{id}/default", c.changes(c.vaultAction((*apiclient.Client).SetDefaultVault, "vault-default"))).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/vaults/{id}/health", c.changes(c.vaultAction((*apiclient.Client).CheckVaultHealth, "vault-checked"))).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/vaults/{id}/disable", c.changes(c.vaultAction((*apiclient.Client).DisableVault, "vault-disabled"))).Methods(http.MethodPost)
}

// vaultConfigFields are the routing settings a vault's config may hold (never credentials).
var vaultConfigFields = []string{"region", "namespace", "secretNamePrefix", "kmsKeyId", "ownerTag", "environmentTag", "address", "mount"}

type vaultsData struct {
	Vaults  apiclient.Page[apiclient.Vault]
	FormKey string
}

func (c *console) vaultList(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	d := vaultsData{FormKey: formKey()}
	var err error
	if d.Vaults, _, err = v.api.ListVaults(v.ctx, company, pageQuery(v.r)); err != nil {
		return err
	}
	return v.show(c, "vaults", "Provider vaults", "vaults", company, d)
}

func (c *console) vaultCreate(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	config := map[string]string{} // sent even when empty: the form always sets a config
	for _, f := range vaultConfigFields {
		if s := v.form(f); s != "" {
			config[f] = s
		}
	}
	body := apiclient.CreateVault{DisplayName: v.form("displayName"), Provider: v.form("provider"), Config: config,
		IsDefault: v.form("isDefault") == "true"}
	if _, _, err := v.api.CreateVault(v.ctx, company, body, keyed(v.form("formKey"))); err != nil {
		return err
	}
	return v.done("/console/companies/"+company+"/vaults", "vault-created")
}

// vaultAction posts one of a vault's actions (set default, check health, disable).
func (c *console) vaultAction(act func(*apiclient.Client, context.Context, string, ...apiclient.Option) (apiclient.Vault, *apiclient.Answer, error),
	notice string) page {
	return func(v *visit) error {
		vars := mux.Vars(v.r)
		if _, _, err := act(v.api, v.ctx, vars["id"]); err != nil {
			return err
		}
		return v.done("/console/companies/"+vars["companyId"]+"/vaults", notice)
	}
}
