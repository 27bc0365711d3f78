package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

func (c *console) accessRoutes(r *mux.Router) {
	r.HandleFunc("/console/companies/{companyId}/access", c.reads(c.accessHistory)).Methods(http.MethodGet)
	r.HandleFunc("/console/secrets/{id}/exposure", c.reads(c.secretExposure)).Methods(http.MethodGet)
	r.HandleFunc("/console/companies/{companyId}/consumers/{targetType}/{targetId}/exposure", c.reads(c.consumerExposure)).Methods(http.MethodGet)
}

// accessData is the access history page: its filters as typed, and a page of events.
type accessData struct {
	Secret, Consumer, Outcome, From, To string
	Outcomes                            []string
	Events                              apiclient.Page[apiclient.AccessEvent]
	// More is the query of the next page (filters and cursor), "" on the last page.
	More string
}

// outcomes are the access history's outcome filter: resolved, failed, or why one failed.
var outcomes = append([]string{events.OutcomeResolved, events.OutcomeFailed}, events.FailureOutcomes...)

// browserTime turns a datetime-local field (taken as UTC) into RFC 3339; "" stays "".
func browserTime(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Format(time.RFC3339), nil
		}
	}
	return "", &apiError{Status: http.StatusBadRequest, Message: "a time is YYYY-MM-DDTHH:MM (UTC)", Code: "EBADREQUEST"}
}

func (c *console) accessHistory(v *visit) error {
	company := mux.Vars(v.r)["companyId"]
	in := v.r.URL.Query()
	d := accessData{Secret: in.Get("secret"), Consumer: in.Get("consumer"), Outcome: in.Get("outcome"),
		From: in.Get("from"), To: in.Get("to"), Outcomes: outcomes}
	q := pageQuery(v.r)
	for name, value := range map[string]string{"secretId": d.Secret, "consumer": d.Consumer, "outcome": d.Outcome} {
		if value != "" {
			q.Set(name, value)
		}
	}
	for name, value := range map[string]string{"from": d.From, "to": d.To} {
		t, err := browserTime(value)
		if err != nil {
			return err
		}
		if t != "" {
			q.Set(name, t)
		}
	}
	var err error
	if d.Events, _, err = v.api.ListCompanyAccessEvents(v.ctx, company, q); err != nil {
		return err
	}
	if next := d.Events.Next(); next != "" {
		more := url.Values{"cursor": {next}}
		for _, k := range []string{"secret", "consumer", "outcome", "from", "to"} {
			if in.Get(k) != "" {
				more.Set(k, in.Get(k))
			}
		}
		d.More = "?" + more.Encode()
	}
	return v.show(c, "access", "Access history", "access", company, d)
}

// moment is one entry of an exposure timeline.
type moment struct {
	At   string
	What string
}

// timeline orders what an exposure answer says by time.
func timeline(e apiclient.SecretExposure) []moment {
	var m []moment
	add := func(at, format string, args ...any) {
		m = append(m, moment{At: at, What: fmt.Sprintf(format, args...)})
	}
	for _, s := range e.Status {
		add(s.At, "status %s (by %s)", s.Status, s.Actor)
	}
	for _, v := range e.Versions {
		add(v.From, "version %d became current", v.Version)
	}
	for _, c := range e.Consumers {
		who := c.TargetType + "/" + c.TargetID
		for _, b := range c.Bindings {
			add(b.CreatedAt, "bound to %s at %s (%s, by %s)", who, b.ConfigPath, b.VersionSelector, b.CreatedBy)
			if b.RemovedAt != nil {
				add(*b.RemovedAt, "unbound from %s at %s", who, b.ConfigPath)
			}
		}
		switch {
		case c.Reads.Count == 1 && c.Reads.First != nil:
			add(*c.Reads.First, "read by %s (versions %v)", who, c.Reads.Versions)
		case c.Reads.Count > 1 && c.Reads.First != nil && c.Reads.Last != nil:
			add(*c.Reads.First, "first read by %s", who)
			add(*c.Reads.Last, "last read by %s (%d reads, versions %v)", who, c.Reads.Count, c.Reads.Versions)
		}
		for _, f := range c.Failures {
			add(f.First, "%s refused to %s (%d times until %s)", f.Outcome, who, f.Count, when(f.Last))
		}
		for _, k := range c.AgentKeys {
			add(k.IssuedAt, "agent key %s issued to %s (by %s)", k.KeyID, who, k.IssuedBy)
			if k.RevokedAt != nil {
				add(*k.RevokedAt, "agent key %s of %s revoked", k.KeyID, who)
			}
		}
	}
	for _, r := range e.ReportedExposures {
		add(r.At, "version %d found %s-encoded %d times in %q (leak scan %s, by %s)", r.Version, r.Encoding, r.Occurrences,
			r.Source, r.ScanID, r.Actor)
	}
	sort.SliceStable(m, func(i, j int) bool { return instant(m[i].At).Before(instant(m[j].At)) })
	return m
}

func instant(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// exposureData is an exposure page: who the report is about and its timeline.
type exposureData struct {
	Subject  string
	Position int64
	Moments  []moment
	// Consumers is the per-consumer summary of a secret's report.
	Consumers []apiclient.ExposureConsumer
	// Reported are the leak scans' findings of a secret.
	Reported []apiclient.AuditReportedExposure
}

func (c *console) secretExposure(v *visit) error {
	id := mux.Vars(v.r)["id"]
	e, _, err := v.api.SecretExposure(v.ctx, id, nil)
	if err != nil {
		return err
	}
	d := exposureData{Subject: e.Name + " (" + e.Key + ")", Position: e.Position, Moments: timeline(e), Consumers: e.Consumers,
		Reported: e.ReportedExposures}
	return v.show(c, "exposure", "Exposure of "+e.Name, "access", e.CompanyID, d)
}

func (c *console) consumerExposure(v *visit) error {
	vars := mux.Vars(v.r)
	company, who := vars["companyId"], vars["targetType"]+"/"+vars["targetId"]
	reach, _, err := v.api.ConsumerExposure(v.ctx, company, vars["targetType"], vars["targetId"], nil)
	if err != nil {
		return err
	}
	var all []moment
	for _, s := range reach.Secrets {
		e := apiclient.SecretExposure{Consumers: []apiclient.ExposureConsumer{{TargetType: vars["targetType"], TargetID: vars["targetId"],
			Bindings: s.Bindings, Reads: s.Reads, Failures: s.Failures}}}
		for _, m := range timeline(e) {
			all = append(all, moment{At: m.At, What: s.Name + ": " + strings.TrimSpace(m.What)})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return instant(all[i].At).Before(instant(all[j].At)) })
	return v.show(c, "exposure", "Exposure of "+who, "access", company, exposureData{Subject: who, Position: reach.Position, Moments: all})
}
