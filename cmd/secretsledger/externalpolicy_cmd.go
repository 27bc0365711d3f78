package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

func newExternalPolicyCmd(env *environment) *cobra.Command {
	c := newGroup(env, "external-policy", "show or set what a company may link from outside the ledger, through the API")
	c.Long = "A company links external references (and imports remote secrets) only under the prefixes, or as the exact " +
		"references, an instance operator approved for it; its AWS provider vaults stay in the approved regions and " +
		"namespaces. Setting replaces the whole policy and needs an instance-wide board token; " +
		"LEDGER_AWS_EXTERNAL_PREFIXES approves prefixes for every company.\n\n" + clientHelp
	c.AddCommand(newExternalPolicyGetCmd(env), newExternalPolicySetCmd(env))
	return c
}

func newExternalPolicyGetCmd(env *environment) *cobra.Command {
	var company string
	c := &cobra.Command{
		Use:   "get --company ID",
		Short: "show a company's external-reference policy (and the instance's approved prefixes)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needCompany(company); err != nil {
				return err
			}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return api.show(api.api.GetExternalPolicy(ctx, company))
			})
		},
	}
	addCompanyFlag(c, &company)
	return c
}

type externalPolicySetOptions struct {
	company                                   string
	prefixes, references, regions, namespaces []string
	version                                   int64
}

func newExternalPolicySetCmd(env *environment) *cobra.Command {
	var o externalPolicySetOptions
	c := &cobra.Command{
		Use:   "set --company ID [--prefix P ...] [--reference R ...] [--region R ...] [--namespace N ...] [--version V]",
		Short: "replace a company's external-reference policy (instance-wide board token); no flags approve nothing",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needCompany(o.company); err != nil {
				return err
			}
			body := apiclient.ExternalPolicyRequest{Prefixes: o.prefixes, References: o.references,
				Regions: o.regions, Namespaces: o.namespaces}
			if c.Flags().Changed("version") {
				body.Version = &o.version
			}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return api.show(api.api.SetExternalPolicy(ctx, o.company, body))
			})
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringArrayVar(&o.prefixes, "prefix", nil, "approve every reference whose secret name starts with this (repeatable)")
	c.Flags().StringArrayVar(&o.references, "reference", nil, "approve exactly this reference, a name or ARN (repeatable)")
	c.Flags().StringArrayVar(&o.regions, "region", nil, "an AWS region the company's AWS vaults may use (repeatable)")
	c.Flags().StringArrayVar(&o.namespaces, "namespace", nil, "a namespace the company's AWS vaults may use (repeatable)")
	c.Flags().Int64Var(&o.version, "version", 0, "refuse (409) unless the policy is still at this version (as `get` showed it)")
	return c
}
