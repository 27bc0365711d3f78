package audit_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/queries/audit"
)

// State reads the log a page at a time: with a page of one or two events (the history
// has many more) every cut answers as with one page; a state larger than the bound is
// refused with EINVALID, while a history much longer than the bound is not.
func TestStateFoldsPagesAndIsBounded(t *testing.T) {
	t.Parallel()
	s := script(t)
	ctx := context.Background()
	// Bind and unbind many times: the history grows, the state does not.
	c := commands.Consumer{CompanyID: company, TargetType: "agent", TargetID: "churn"}
	churned, err := s.h.Secrets.Create(ctx, board, commands.CreateSecret{CompanyID: company, Name: "churned", Value: value("c")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		b, err := s.h.Consumers.Bind(ctx, board, commands.CreateBinding{Consumer: c, SecretID: churned.SecretID, ConfigPath: "env.CHURN", VersionSelector: "latest"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.h.Consumers.Unbind(ctx, board, b.BindingID); err != nil {
			t.Fatal(err)
		}
	}
	s.sealed(t)
	for _, as := range []audit.AsOf{{Position: s.afterBind}, {Position: s.afterUnbind}, {Position: s.afterRevoke},
		{Position: s.afterPurge}, {At: s.timeAfterRotate}, {Position: 1 << 40}} {
		whole, err := s.log.State(ctx, ops, company, as)
		if err != nil {
			t.Fatal(err)
		}
		for _, page := range []int{1, 2} {
			paged := s.log
			paged.StatePage = page
			got, err := paged.State(ctx, ops, company, as)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, whole) {
				t.Fatalf("cut %+v, pages of %d:\n%+v\nwant\n%+v", as, page, got, whole)
			}
		}
	}

	end, err := s.log.State(ctx, ops, company, audit.AsOf{Position: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	n := len(end.Secrets) + len(end.Bindings) + len(end.Envs) + len(end.AgentKeys) + len(end.Vaults)
	if n > 10 || end.Position < 70 {
		t.Fatalf("%d entries at position %d: the churn did not happen as meant", n, end.Position)
	}
	// While it churned, the state had one binding more than at the end.
	bounded := s.log
	bounded.StatePage, bounded.MaxStateEntries = 3, n+1
	if _, err := bounded.State(ctx, ops, company, audit.AsOf{Position: 1 << 40}); err != nil {
		t.Fatalf("a state of %d entries after %d events with a bound of %d: %v", n, end.Position, n+1, err)
	}
	bounded.MaxStateEntries = n - 1
	_, err = bounded.State(ctx, ops, company, audit.AsOf{Position: 1 << 40})
	if ledgererr.CodeOf(err) != ledgererr.Invalid {
		t.Fatalf("a state of %d entries with a bound of %d: %v", n, n-1, err)
	}
}
