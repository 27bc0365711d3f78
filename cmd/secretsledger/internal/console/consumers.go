package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

func (c *console) consumerRoutes(r *mux.Router) {
	r.HandleFunc("/console/companies/{companyId}/consumers", c.reads(c.consumerList)).Methods(http.MethodGet)
	r.HandleFunc("/console/companies/{companyId}/consumers/{targetType}/{targetId}", c.reads(c.consumerPage)).Methods(http.MethodGet)
	r.HandleFunc("/console/companies/{companyId}/bindings", c.changes(c.bind)).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/bindings/{id}/delete", c.changes(c.unbind)).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/agent-keys", c.changes(c.issueKey)).Methods(http.MethodPost)
	r.HandleFunc("/console/companies/{companyId}/agent-keys/{id}/revoke", c.changes(c.revokeKey)).Methods(http.MethodPost)
}

// consumersData is the consumers page, or one consumer's page (Target set).
type consumersData struct {
	// Company and CSRF are here too, for the parts the pages share.
	Company, CSRF        string
	TargetType, TargetID string
	Bindings             apiclient.Page[apiclient.Binding]
	Keys                 []apiclient.AgentKeyInfo
	KeysNext             string
	// Env is the consumer's env (sensitive plain values come redacted from the API).
	Env map[string]apiclient.EnvEntry
	// Secrets are the company's live secrets, to bind one.
	Secrets apiclient.Page[apiclient.Secret]
	// Freeze is the company's freeze (the consumers page) or the consumer's.
	Freeze  apiclient.Freeze
	FormKey string
}

// liveSecrets is the first page of a company's live secrets, for the bind form.
func (v *visit) liveSecrets(company string) (apiclient.Page[apiclient.Secret], error) {
	l, _, err := v.api.ListSecrets(v.ctx, company, url.Values{"limit": {strconv.Itoa(pickerRows)}})
	return l, err
}

func (c *console) consumerList(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	d := consumersData{Company: company, CSRF: csrfOf(v.session), FormKey: formKey()}
	var err error
	if d.Bindings, _, err = v.api.ListBindings(v.ctx, company, pageQuery(v.r)); err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	if cur := v.r.URL.Query().Get("keys"); cur != "" {
		q.Set("cursor", cur)
	}
	keys, _, err := v.api.ListAgentKeys(v.ctx, company, q)
	if err != nil {
		return err
	}
	d.Keys, d.KeysNext = keys.Items, keys.Next()
	if d.Secrets, err = v.liveSecrets(company); err != nil {
		return err
	}
	if d.Freeze, err = v.freezeOf(); err != nil {
		return err
	}
	return v.show(c, "consumers", "Consumers", "consumers", company, d)
}

func (c *console) consumerPage(v *visit) error {
	vars := mux.Vars(v.r)
	company := vars["companyId"]
	d := consumersData{Company: company, CSRF: csrfOf(v.session), TargetType: vars["targetType"], TargetID: vars["targetId"], FormKey: formKey()}
	target := url.Values{"targetType": {d.TargetType}, "targetId": {d.TargetID}, "limit": {strconv.Itoa(pickerRows)}}
	var err error
	if d.Bindings, _, err = v.api.ListBindings(v.ctx, company, target); err != nil {
		return err
	}
	env, _, err := v.api.GetConsumerEnv(v.ctx, company, d.TargetType, d.TargetID)
	if err != nil {
		return err
	}
	d.Env = env.Env
	// The API lists keys by company: the consumer's are looked for in the first pickerRows.
	keys, _, err := v.api.ListAgentKeys(v.ctx, company, url.Values{"limit": {strconv.Itoa(pickerRows)}})
	if err != nil {
		return err
	}
	for _, k := range keys.Items {
		if k.TargetType == d.TargetType && k.TargetID == d.TargetID {
			d.Keys = append(d.Keys, k)
		}
	}
	if d.Secrets, err = v.liveSecrets(company); err != nil {
		return err
	}
	if d.Freeze, err = v.freezeOf(); err != nil {
		return err
	}
	return v.show(c, "consumer", d.TargetType+"/"+d.TargetID, "consumers", company, d)
}

// consumerPage is the console page of the form's consumer (the consumers page when the
// form names none).
func (v *visit) consumerPage(company string) string {
	if v.form("targetType") == "" {
		return "/console/companies/" + company + "/consumers"
	}
	return "/console/companies/" + company + "/consumers/" + url.PathEscape(v.form("targetType")) + "/" + url.PathEscape(v.form("targetId"))
}

func (c *console) bind(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	required := v.form("required") != "false"
	body := apiclient.CreateBinding{SecretID: v.form("secretId"), TargetType: v.form("targetType"), TargetID: v.form("targetId"),
		ConfigPath: v.form("configPath"), Required: &required, VersionSelector: apiclient.VersionSelector(v.form("versionSelector")),
		Label: v.form("label")}
	if _, _, err := v.api.CreateBinding(v.ctx, company, body, keyed(v.form("formKey"))); err != nil {
		return err
	}
	return v.done(v.consumerPage(company), "bound")
}

func (c *console) unbind(v *visit) error {
	vars := mux.Vars(v.r)
	if _, _, err := v.api.DeleteBinding(v.ctx, vars["id"]); err != nil {
		return err
	}
	return v.done(v.consumerPage(vars["companyId"]), "unbound")
}

// issuedKey is the one page that shows an agent key: it is rendered in the answer to the
// post, never put in a URL, and not kept.
type issuedKey struct {
	ID, Token            string
	TargetType, TargetID string
	Back                 string
}

func (c *console) issueKey(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	body := apiclient.IssueAgentKey{TargetType: v.form("targetType"), TargetID: v.form("targetId"), Label: v.form("label")}
	// No idempotency key: a replay would answer the first issue's token again.
	key, _, err := v.api.IssueAgentKey(v.ctx, company, body)
	if err != nil {
		return err
	}
	return v.show(c, "agentkey", "Agent key issued", "consumers", company, issuedKey{ID: key.ID, Token: key.Token,
		TargetType: v.form("targetType"), TargetID: v.form("targetId"), Back: v.consumerPage(company)})
}

func (c *console) revokeKey(v *visit) error {
	vars := mux.Vars(v.r)
	if _, _, err := v.api.RevokeAgentKey(v.ctx, vars["id"]); err != nil {
		return err
	}
	return v.done(v.consumerPage(vars["companyId"]), "key-revoked")
}
