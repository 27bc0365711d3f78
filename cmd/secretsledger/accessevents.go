package main

import (
	"context"
	"errors"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

type accessEventsListOptions struct{ company, secret, output string }

func newAccessEventsCmd(env *environment) *cobra.Command {
	c := newGroup(env, "access-events", "who resolved which secret, when, and how it went, through the API")
	c.Long = "Every runtime resolution of a secret, successful or not, is recorded before a value leaves the ledger.\n\n" + clientHelp
	var o accessEventsListOptions
	list := &cobra.Command{
		Use:   "list (--company ID | --secret SECRET_ID)",
		Short: "list the access events of a company, or of one secret",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runAccessEventsList(c.Context(), env, o)
		},
	}
	addCompanyFlag(list, &o.company)
	list.Flags().StringVar(&o.secret, "secret", "", "only this secret's access events")
	addOutputFlag(list, &o.output)
	c.AddCommand(list)
	return c
}

func runAccessEventsList(ctx context.Context, env *environment, o accessEventsListOptions) error {
	if o.secret == "" && o.company == "" {
		return usage.Error{Err: errors.New("pass --company ID or --secret SECRET_ID")}
	}
	columns := []column{{"POSITION", "position"}, {"TIME", "createdAt"}, {"SECRET", "secretId"},
		{"VERSION", "version"}, {"CONSUMER", "consumer"}, {"CONFIG PATH", "configPath"}, {"OUTCOME", "outcome"},
		{"ERROR", "errorCode"}, {"RUN", "runId"}}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		return printList(c, o.output, columns, nil, func(q url.Values) (apiclient.Page[apiclient.AccessEvent], *apiclient.Answer, error) {
			if o.secret != "" {
				return c.api.ListSecretAccessEvents(ctx, o.secret, q)
			}
			return c.api.ListCompanyAccessEvents(ctx, o.company, q)
		})
	})
}
