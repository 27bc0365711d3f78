package console

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

// Incident controls: freezing a company or one consumer stops every resolution of it at
// once (recorded, and refused as company_frozen or consumer_frozen), and a consumer's
// agent keys can all be revoked in one step.
func (c *console) incidentRoutes(r *mux.Router) {
	company := "/console/companies/{companyId}"
	consumer := company + "/consumers/{targetType}/{targetId}"
	for _, base := range []string{company, consumer} {
		r.HandleFunc(base+"/freeze", c.changes(c.incident(actFreeze, "frozen"))).Methods(http.MethodPost)
		r.HandleFunc(base+"/unfreeze", c.changes(c.incident(actUnfreeze, "unfrozen"))).Methods(http.MethodPost)
	}
	r.HandleFunc(consumer+"/agent-keys/revoke", c.changes(c.incident(actRevokeKeys, "keys-revoked"))).Methods(http.MethodPost)
}

// incidentTarget is the request's company, its consumer (targetType "" for none), and
// their console page.
func incidentTarget(v *visit) (company, targetType, targetID, page string) {
	vars := mux.Vars(v.r)
	company, targetType, targetID = vars["companyId"], vars["targetType"], vars["targetId"]
	page = "/console/companies/" + company + "/consumers"
	if targetType != "" {
		page += "/" + url.PathEscape(targetType) + "/" + url.PathEscape(targetID)
	}
	return company, targetType, targetID, page
}

// The incident actions, for a company or (targetType set) one of its consumers.
const (
	actFreeze = iota
	actUnfreeze
	actRevokeKeys
)

// incident posts one incident action for the request's company or consumer.
func (c *console) incident(action int, notice string) page {
	return func(v *visit) error {
		company, targetType, targetID, back := incidentTarget(v)
		key, reason := keyed(v.form("formKey")), v.form("reason")
		var err error
		switch {
		case action == actRevokeKeys:
			_, _, err = v.api.RevokeConsumerAgentKeys(v.ctx, company, targetType, targetID, key)
		case action == actFreeze && targetType != "":
			_, _, err = v.api.FreezeConsumer(v.ctx, company, targetType, targetID, apiclient.FreezeRequest{Reason: reason}, key)
		case action == actFreeze:
			_, _, err = v.api.FreezeCompany(v.ctx, company, apiclient.FreezeRequest{Reason: reason}, key)
		case targetType != "":
			_, _, err = v.api.UnfreezeConsumer(v.ctx, company, targetType, targetID, apiclient.UnfreezeRequest{Reason: reason}, key)
		default:
			_, _, err = v.api.UnfreezeCompany(v.ctx, company, apiclient.UnfreezeRequest{Reason: reason}, key)
		}
		if err != nil {
			return err
		}
		return v.done(back, notice)
	}
}

// freezeOf is the freeze of the request's company or consumer, as the API answers it.
func (v *visit) freezeOf() (apiclient.Freeze, error) {
	company, targetType, targetID, _ := incidentTarget(v)
	if targetType != "" {
		f, _, err := v.api.GetConsumerFreeze(v.ctx, company, targetType, targetID)
		return f, err
	}
	f, _, err := v.api.GetCompanyFreeze(v.ctx, company)
	return f, err
}
