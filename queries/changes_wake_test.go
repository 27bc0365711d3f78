package queries

import (
	"testing"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
)

// A waiting poll is woken by an append of its company, not by another company's nor
// by access records; without Appends it is never woken (it reads on its interval).
func TestAppendsWakeTheCompanysPolls(t *testing.T) {
	const company, other = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"
	agent := actor.Actor{Type: actor.Agent, Companies: []string{company}}
	if (Changes{}).Appended(agent) != nil {
		t.Fatal("without Appends a poll has something to wake it")
	}
	w := NewAppends()
	q := Changes{Appends: w}
	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	first, second := q.Appended(agent), q.Appended(agent)
	w.Recorded([]eventstore.Event{
		{StreamID: events.SecretStream("s1"), CompanyID: other},
		{StreamID: events.AccessStream(company, "agent", "x"), CompanyID: company},
	})
	if woken(first) || woken(second) {
		t.Fatal("another company's append or an access record woke the poll")
	}
	w.Recorded([]eventstore.Event{{StreamID: events.SecretStream("s2"), CompanyID: company}})
	if !woken(first) || !woken(second) {
		t.Fatal("the company's append did not wake its polls")
	}
	if next := q.Appended(agent); woken(next) {
		t.Fatal("a wait taken after the append is woken by it")
	}
}
