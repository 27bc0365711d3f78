package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"
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
	Bindings             listing
	Keys                 []row
	KeysNext             string
	// Env is the consumer's env (sensitive plain values come redacted from the API).
	Env map[string]row
	// Secrets are the company's live secrets, to bind one.
	Secrets listing
	// Freeze is the company's freeze (the consumers page) or the consumer's.
	Freeze  row
	FormKey string
}

// liveSecrets is the first page of a company's live secrets, for the bind form.
func (v *visit) liveSecrets(company string) (listing, error) {
	var l listing
	err := v.api.get("/api/companies/"+company+"/secrets", url.Values{"limit": {strconv.Itoa(pickerRows)}}, &l)
	return l, err
}

func (c *console) consumerList(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	d := consumersData{Company: company, CSRF: csrfOf(v.session), FormKey: formKey()}
	var err error
	if err = v.api.get("/api/companies/"+company+"/secret-bindings", pageQuery(v.r), &d.Bindings); err != nil {
		return err
	}
	var keys listing
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	if cur := v.r.URL.Query().Get("keys"); cur != "" {
		q.Set("cursor", cur)
	}
	if err = v.api.get("/api/companies/"+company+"/agent-keys", q, &keys); err != nil {
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
	if err := v.api.get("/api/companies/"+company+"/secret-bindings", target, &d.Bindings); err != nil {
		return err
	}
	var env struct {
		Env map[string]row `json:"env"`
	}
	consumerPath := "/api/companies/" + company + "/consumers/" + url.PathEscape(d.TargetType) + "/" + url.PathEscape(d.TargetID)
	if err := v.api.get(consumerPath+"/env", nil, &env); err != nil {
		return err
	}
	d.Env = env.Env
	var keys listing
	// The API lists keys by company: the consumer's are looked for in the first pickerRows.
	if err := v.api.get("/api/companies/"+company+"/agent-keys", url.Values{"limit": {strconv.Itoa(pickerRows)}}, &keys); err != nil {
		return err
	}
	for _, k := range keys.Items {
		if str(k["targetType"]) == d.TargetType && str(k["targetId"]) == d.TargetID {
			d.Keys = append(d.Keys, k)
		}
	}
	var err error
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
	body := map[string]any{"secretId": v.form("secretId"), "targetType": v.form("targetType"), "targetId": v.form("targetId"),
		"configPath": v.form("configPath"), "required": v.form("required") != "false"}
	v.setIf(body, "versionSelector")
	v.setIf(body, "label")
	if err := v.api.call(http.MethodPost, "/api/companies/"+company+"/secret-bindings", nil, body, v.form("formKey"), nil); err != nil {
		return err
	}
	return v.done(v.consumerPage(company), "bound")
}

func (c *console) unbind(v *visit) error {
	vars := mux.Vars(v.r)
	if err := v.api.call(http.MethodDelete, "/api/secret-bindings/"+vars["id"], nil, nil, "", nil); err != nil {
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
	body := map[string]any{"targetType": v.form("targetType"), "targetId": v.form("targetId")}
	v.setIf(body, "label")
	var key struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	// No idempotency key: a replay would answer the first issue's token again.
	if err := v.api.call(http.MethodPost, "/api/companies/"+company+"/agent-keys", nil, body, "", &key); err != nil {
		return err
	}
	return v.show(c, "agentkey", "Agent key issued", "consumers", company, issuedKey{ID: key.ID, Token: key.Token,
		TargetType: v.form("targetType"), TargetID: v.form("targetId"), Back: v.consumerPage(company)})
}

func (c *console) revokeKey(v *visit) error {
	vars := mux.Vars(v.r)
	if err := v.api.call(http.MethodDelete, "/api/agent-keys/"+vars["id"], nil, nil, "", nil); err != nil {
		return err
	}
	return v.done(v.consumerPage(vars["companyId"]), "key-revoked")
}
