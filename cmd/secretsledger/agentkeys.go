package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

func newAgentKeysCmd(env *environment) *cobra.Command {
	c := newGroup(env, "agent-keys", "issue, list and revoke agent keys (one consumer's runtime credential) through the API")
	c.Long = "An agent key is one consumer's (targetType/targetId) credential for runtime resolution. It is shown once, " +
		"when issued; the ledger keeps only its hash.\n\n" + clientHelp
	c.AddCommand(newAgentKeysListCmd(env), newAgentKeysIssueCmd(env), newAgentKeysRevokeCmd(env))
	return c
}

type agentKeysListOptions struct{ company, output string }

func newAgentKeysListCmd(env *environment) *cobra.Command {
	var o agentKeysListOptions
	c := &cobra.Command{
		Use:   "list --company ID",
		Short: "list a company's agent keys (never the tokens)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needCompany(o.company); err != nil {
				return err
			}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return printList(api, o.output, []column{{"ID", "id"}, {"TARGET TYPE", "targetType"}, {"TARGET ID", "targetId"},
					{"LABEL", "label"}, {"CREATED BY", "createdBy"}, {"CREATED", "createdAt"}, {"REVOKED", "revokedAt"}}, nil,
					func(q url.Values) (apiclient.Page[apiclient.AgentKeyInfo], *apiclient.Answer, error) {
						return api.api.ListAgentKeys(ctx, o.company, q)
					})
			})
		},
	}
	addCompanyFlag(c, &o.company)
	addOutputFlag(c, &o.output)
	return c
}

type agentKeysIssueOptions struct{ company, targetType, targetID, label, output string }

func newAgentKeysIssueCmd(env *environment) *cobra.Command {
	var o agentKeysIssueOptions
	c := &cobra.Command{
		Use:   "issue --company ID --target-type T --target-id I [--label TEXT]",
		Short: "issue an agent key; the token is printed once, alone on stdout",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runAgentKeysIssue(c.Context(), env, o)
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.targetType, "target-type", "", "the consumer's type (agent, project, …)")
	c.Flags().StringVar(&o.targetID, "target-id", "", "the consumer's id")
	c.Flags().StringVar(&o.label, "label", "", "a note on what the key is for")
	c.Flags().StringVarP(&o.output, "output", "o", "", "json: print the API's answer (id and token) instead of the token alone")
	_ = c.MarkFlagRequired("target-type")
	_ = c.MarkFlagRequired("target-id")
	return c
}

func runAgentKeysIssue(ctx context.Context, env *environment, o agentKeysIssueOptions) error {
	if err := needCompany(o.company); err != nil {
		return err
	}
	if o.output != "" && o.output != outputJSON {
		return usage.Error{Err: fmt.Errorf("--output must be json, not %q", o.output)}
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		key, a, err := c.api.IssueAgentKey(ctx, o.company,
			apiclient.IssueAgentKey{TargetType: o.targetType, TargetID: o.targetID, Label: o.label})
		if err != nil {
			return err
		}
		if o.output == outputJSON {
			c.print(a.Body)
			return nil
		}
		fmt.Fprintf(env.stderr, "issued agent key %s for %s/%s (shown once)\n", key.ID, o.targetType, o.targetID)
		fmt.Fprintln(env.stdout, key.Token) // the token alone on stdout, for $(…)
		return nil
	})
}

type agentKeysRevokeOptions struct {
	all                           bool
	company, targetType, targetID string
}

func newAgentKeysRevokeCmd(env *environment) *cobra.Command {
	var o agentKeysRevokeOptions
	c := &cobra.Command{
		Use:   "revoke KEY_ID | revoke --all --company ID --target-type T --target-id I",
		Short: "revoke an agent key at once, or (--all) every live key of one consumer",
		Args: func(c *cobra.Command, args []string) error {
			if o.all {
				return exactArgs()(c, args)
			}
			return exactArgs("KEY_ID")(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			if !o.all {
				if o.company != "" || o.targetType != "" || o.targetID != "" {
					return usage.Error{Err: errors.New("--company, --target-type and --target-id go with --all")}
				}
				return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
					return api.show(api.api.RevokeAgentKey(ctx, args[0]))
				})
			}
			if err := needCompany(o.company); err != nil {
				return err
			}
			if o.targetType == "" || o.targetID == "" {
				return usage.Error{Err: errors.New("--all needs --target-type and --target-id (the consumer whose keys to revoke)")}
			}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return api.show(api.api.RevokeConsumerAgentKeys(ctx, o.company, o.targetType, o.targetID))
			})
		},
	}
	c.Flags().BoolVar(&o.all, "all", false, "revoke every key of the consumer named by --target-type and --target-id")
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.targetType, "target-type", "", "with --all: the consumer's type (agent, project, …)")
	c.Flags().StringVar(&o.targetID, "target-id", "", "with --all: the consumer's id")
	return c
}
