package console

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"
)

// Incident controls: freezing a company or one consumer stops every resolution of it at
// once (recorded, and refused as company_frozen or consumer_frozen), and a consumer's
// agent keys can all be revoked in one step.
func (c *console) incidentRoutes(r *mux.Router) {
	company := "/console/companies/{companyId}"
	consumer := company + "/consumers/{targetType}/{targetId}"
	for _, base := range []string{company, consumer} {
		r.HandleFunc(base+"/freeze", c.changes(c.incident("/freeze", "frozen"))).Methods(http.MethodPost)
		r.HandleFunc(base+"/unfreeze", c.changes(c.incident("/unfreeze", "unfrozen"))).Methods(http.MethodPost)
	}
	r.HandleFunc(consumer+"/agent-keys/revoke", c.changes(c.incident("/agent-keys/revoke", "keys-revoked"))).Methods(http.MethodPost)
}

// incidentTarget is the API path of the request's company or consumer, and its console page.
func incidentTarget(v *visit) (api, page string) {
	vars := mux.Vars(v.r)
	api, page = "/api/companies/"+vars["companyId"], "/console/companies/"+vars["companyId"]+"/consumers"
	if vars["targetType"] != "" {
		consumer := "/" + url.PathEscape(vars["targetType"]) + "/" + url.PathEscape(vars["targetId"])
		api += "/consumers" + consumer
		page += consumer
	}
	return api, page
}

// incident posts one incident action (suffix) for the request's company or consumer.
func (c *console) incident(suffix, notice string) page {
	return func(v *visit) error {
		api, back := incidentTarget(v)
		var body any // none for revoking keys, which takes no body
		if suffix != "/agent-keys/revoke" {
			reason := map[string]any{}
			v.setIf(reason, "reason")
			body = reason
		}
		if err := v.api.call(http.MethodPost, api+suffix, nil, body, v.form("formKey"), nil); err != nil {
			return err
		}
		return v.done(back, notice)
	}
}

// freezeOf is the freeze of the request's company or consumer, as the API answers it.
func (v *visit) freezeOf() (row, error) {
	api, _ := incidentTarget(v)
	var f row
	err := v.api.get(api+"/freeze", nil, &f)
	return f, err
}
