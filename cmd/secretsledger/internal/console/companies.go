package console

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// pageQuery is the API's paging of a console list: a page of pageSize from cursor.
func pageQuery(r *http.Request) url.Values {
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	if cur := r.URL.Query().Get("cursor"); cur != "" {
		q.Set("cursor", cur)
	}
	return q
}

func (c *console) companies(v *visit) error {
	l, _, err := v.api.ListCompanies(v.ctx, pageQuery(v.r))
	if err != nil {
		return err
	}
	return v.show(c, "companies", "Companies", "companies", "", l)
}

var companyPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// openCompany goes to a company typed by id (one that has nothing yet is not listed).
func (c *console) openCompany(v *visit) error {
	id := strings.ToLower(strings.TrimSpace(v.r.URL.Query().Get("company")))
	if !companyPattern.MatchString(id) {
		return &apiError{Status: http.StatusBadRequest, Message: "a company id is a UUID", Code: "EBADREQUEST"}
	}
	if !v.actor.CanAccess(id) {
		return &apiError{Status: http.StatusNotFound, Message: "company not found", Code: "ENOTFOUND"}
	}
	http.Redirect(v.w, v.r, "/console/companies/"+id+"/secrets", http.StatusSeeOther)
	return nil
}
