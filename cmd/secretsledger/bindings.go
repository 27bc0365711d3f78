package main

import (
	"context"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

// bindingColumns are the table columns of bindings.
var bindingColumns = []column{{"ID", "id"}, {"SECRET", "secretId"}, {"TARGET TYPE", "targetType"}, {"TARGET ID", "targetId"},
	{"CONFIG PATH", "configPath"}, {"VERSION", "versionSelector"}, {"REQUIRED", "required"}, {"CREATED", "createdAt"}}

func newBindingsCmd(env *environment) *cobra.Command {
	c := newGroup(env, "bindings", "bind secrets to consumers (agents, projects, …) through the API")
	c.Long = "A binding gives one consumer (targetType/targetId) a secret under a config path; the consumer's agent key " +
		"resolves it at run time.\n\n" + clientHelp
	c.AddCommand(newBindingsListCmd(env), newBindingsCreateCmd(env), newBindingsDeleteCmd(env))
	return c
}

type bindingsListOptions struct{ company, targetType, targetID, output string }

func newBindingsListCmd(env *environment) *cobra.Command {
	var o bindingsListOptions
	c := &cobra.Command{
		Use:   "list --company ID [--target-type T] [--target-id I]",
		Short: "list a company's bindings",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runBindingsList(c.Context(), env, o)
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.targetType, "target-type", "", "only bindings of this consumer type")
	c.Flags().StringVar(&o.targetID, "target-id", "", "only bindings of this consumer id")
	addOutputFlag(c, &o.output)
	return c
}

func runBindingsList(ctx context.Context, env *environment, o bindingsListOptions) error {
	if err := needCompany(o.company); err != nil {
		return err
	}
	q := url.Values{}
	if o.targetType != "" {
		q.Set("targetType", o.targetType)
	}
	if o.targetID != "" {
		q.Set("targetId", o.targetID)
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		return printList(c, o.output, bindingColumns, q, func(q url.Values) (apiclient.Page[apiclient.Binding], *apiclient.Answer, error) {
			return c.api.ListBindings(ctx, o.company, q)
		})
	})
}

type bindingsCreateOptions struct {
	company, secretID, targetType, targetID, configPath, version, label string
	optional                                                            bool
}

func newBindingsCreateCmd(env *environment) *cobra.Command {
	var o bindingsCreateOptions
	c := &cobra.Command{
		Use:   "create --company ID --secret SECRET_ID --target-type T --target-id I --config-path PATH [--version latest|N] [--optional] [--label TEXT]",
		Short: "bind a secret to a consumer",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runBindingsCreate(c.Context(), env, o)
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.secretID, "secret", "", "the secret's id")
	c.Flags().StringVar(&o.targetType, "target-type", "", "the consumer's type (agent, project, …)")
	c.Flags().StringVar(&o.targetID, "target-id", "", "the consumer's id")
	c.Flags().StringVar(&o.configPath, "config-path", "", "where the consumer finds the value, e.g. env.OPENAI_API_KEY")
	c.Flags().StringVar(&o.version, "version", "latest", "the version to resolve: latest or a number")
	c.Flags().BoolVar(&o.optional, "optional", false, "resolution succeeds without this binding's value")
	c.Flags().StringVar(&o.label, "label", "", "a note on the binding")
	for _, f := range []string{"secret", "target-type", "target-id", "config-path"} {
		_ = c.MarkFlagRequired(f)
	}
	return c
}

func runBindingsCreate(ctx context.Context, env *environment, o bindingsCreateOptions) error {
	if err := needCompany(o.company); err != nil {
		return err
	}
	required := !o.optional
	body := apiclient.CreateBinding{SecretID: o.secretID, TargetType: o.targetType, TargetID: o.targetID,
		ConfigPath: o.configPath, VersionSelector: apiclient.VersionSelector(o.version), Required: &required, Label: o.label}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		return c.show(c.api.CreateBinding(ctx, o.company, body))
	})
}

func newBindingsDeleteCmd(env *environment) *cobra.Command {
	return &cobra.Command{
		Use:   "delete BINDING_ID",
		Short: "remove a binding",
		Args:  exactArgs("BINDING_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return api.show(api.api.DeleteBinding(ctx, args[0]))
			})
		},
	}
}
