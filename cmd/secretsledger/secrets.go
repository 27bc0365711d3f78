package main

import (
	"context"
	"errors"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/commands"
)

// secretColumns are the table columns of secrets.
var secretColumns = []column{{"ID", "id"}, {"NAME", "name"}, {"KEY", "key"}, {"STATUS", "status"},
	{"PROVIDER", "provider"}, {"VERSION", "latestVersion"}, {"UPDATED", "updatedAt"}}

func newSecretsCmd(env *environment) *cobra.Command {
	c := newGroup(env, "secrets", "manage secrets through the API, or rekey the master key (local)")
	c.Long = "Manage secrets through the API (list, create, rotate, update, delete, restore, purge, versions, " +
		"import from AWS Secrets Manager), " +
		"or, locally with the server stopped, rewrap the data keys (rekey) and move plain env values into secrets " +
		"(migrate-inline-env).\n\n" + clientHelp
	c.AddCommand(newSecretsListCmd(env), newSecretsCreateCmd(env), newSecretsRotateCmd(env), newSecretsUpdateCmd(env),
		newSecretsIDCmd(env, "delete", "soft-delete a secret (restorable within the recovery window)",
			func(ctx context.Context, api *apiclient.Client, id string) (any, *apiclient.Answer, error) {
				return api.DeleteSecret(ctx, id)
			}),
		newSecretsIDCmd(env, "restore", "restore a soft-deleted secret",
			func(ctx context.Context, api *apiclient.Client, id string) (any, *apiclient.Answer, error) {
				return api.RestoreSecret(ctx, id)
			}),
		newSecretsPurgeCmd(env), newSecretsVersionsCmd(env), newSecretsImportCmd(env), newRekeyCmd(env), newMigrateInlineEnvCmd(env), newExportKeyCmd(env))
	return c
}

type secretsListOptions struct {
	company, q, output string
	deleted            bool
}

func newSecretsListCmd(env *environment) *cobra.Command {
	var o secretsListOptions
	c := &cobra.Command{
		Use:   "list --company ID [--q TEXT] [--deleted]",
		Short: "list a company's secrets",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runSecretsList(c.Context(), env, o)
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.q, "q", "", "filter by name or key")
	c.Flags().BoolVar(&o.deleted, "deleted", false, "list the soft-deleted secrets instead (restore or purge them)")
	addOutputFlag(c, &o.output)
	return c
}

func runSecretsList(ctx context.Context, env *environment, o secretsListOptions) error {
	if err := needCompany(o.company); err != nil {
		return err
	}
	q := url.Values{"q": {o.q}}
	if o.deleted {
		q.Set("deleted", "true")
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		return printList(c, o.output, secretColumns, q, func(q url.Values) (apiclient.Page[apiclient.Secret], *apiclient.Answer, error) {
			return c.api.ListSecrets(ctx, o.company, q)
		})
	})
}

type secretsCreateOptions struct {
	company, name, key, description, externalRef string
	value                                        valueSource
}

func newSecretsCreateCmd(env *environment) *cobra.Command {
	var o secretsCreateOptions
	c := &cobra.Command{
		Use:   "create --company ID --name NAME [--key KEY] [--description TEXT] [--value-env VAR | --value V | <stdin>] [--external-ref REF]",
		Short: "create a secret; the value comes from an environment variable, or stdin (a prompt on a terminal)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runSecretsCreate(c.Context(), env, o)
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.name, "name", "", "secret name")
	c.Flags().StringVar(&o.key, "key", "", "secret key (default: derived from the name)")
	c.Flags().StringVar(&o.description, "description", "", "description")
	c.Flags().StringVar(&o.externalRef, "external-ref", "", "create an external_reference secret pointing here (no value)")
	addValueFlags(c, &o.value)
	_ = c.MarkFlagRequired("name")
	return c
}

func runSecretsCreate(ctx context.Context, env *environment, o secretsCreateOptions) error {
	if err := needCompany(o.company); err != nil {
		return err
	}
	body := apiclient.CreateSecret{Name: o.name, Key: o.key, Description: o.description}
	if o.externalRef != "" {
		body.ManagedMode, body.ExternalRef = commands.ExternalReference, o.externalRef
	} else {
		v, err := o.value.read(env, o.name)
		if err != nil {
			return err
		}
		body.Value = v
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		return c.show(c.api.CreateSecret(ctx, o.company, body))
	})
}

type secretsRotateOptions struct {
	expected int
	value    valueSource
}

func newSecretsRotateCmd(env *environment) *cobra.Command {
	var o secretsRotateOptions
	c := &cobra.Command{
		Use:   "rotate SECRET_ID [--value-env VAR | --value V | <stdin>] [--expected-latest-version N]",
		Short: "add a new version of a secret's value",
		Args:  exactArgs("SECRET_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return runSecretsRotate(c.Context(), env, args[0], o)
		},
	}
	c.Flags().IntVar(&o.expected, "expected-latest-version", 0, "refuse unless this is the latest version (compare-and-set)")
	addValueFlags(c, &o.value)
	return c
}

func runSecretsRotate(ctx context.Context, env *environment, id string, o secretsRotateOptions) error {
	v, err := o.value.read(env, id)
	if err != nil {
		return err
	}
	body := apiclient.RotateSecret{Value: v}
	if o.expected > 0 {
		body.ExpectedLatestVersion = &o.expected
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		return c.show(c.api.RotateSecret(ctx, id, body))
	})
}

func newSecretsUpdateCmd(env *environment) *cobra.Command {
	var body apiclient.UpdateSecret
	fields := map[string]**string{"name": &body.Name, "key": &body.Key, "description": &body.Description, "status": &body.Status}
	values := map[string]*string{"name": new(string), "key": new(string), "description": new(string), "status": new(string)}
	c := &cobra.Command{
		Use:   "update SECRET_ID [--name NAME] [--key KEY] [--description TEXT] [--status active|disabled|archived]",
		Short: "change a secret's name, key, description or status",
		Args:  exactArgs("SECRET_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			changed := false
			for name, v := range values {
				if c.Flags().Changed(name) {
					*fields[name], changed = v, true
				}
			}
			if !changed {
				return usage.Error{Err: errors.New("nothing to update: pass --name, --key, --description or --status")}
			}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return api.show(api.api.UpdateSecret(ctx, args[0], body))
			})
		},
	}
	c.Flags().StringVar(values["name"], "name", "", "new name")
	c.Flags().StringVar(values["key"], "key", "", "new key")
	c.Flags().StringVar(values["description"], "description", "", "new description")
	c.Flags().StringVar(values["status"], "status", "", "active, disabled or archived")
	_ = c.RegisterFlagCompletionFunc("status", cobra.FixedCompletions([]string{commands.StatusActive, commands.StatusDisabled, commands.StatusArchived}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// newSecretsIDCmd is a verb that sends one request about one secret, without a body.
func newSecretsIDCmd(env *environment, verb, short string,
	send func(ctx context.Context, api *apiclient.Client, id string) (any, *apiclient.Answer, error)) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " SECRET_ID",
		Short: short,
		Args:  exactArgs("SECRET_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return api.show(send(ctx, api.api, args[0]))
			})
		},
	}
}

type secretsPurgeOptions struct{ confirm string }

func newSecretsPurgeCmd(env *environment) *cobra.Command {
	var o secretsPurgeOptions
	c := &cobra.Command{
		Use:   "purge SECRET_ID --confirm SECRET_ID",
		Short: "destroy a secret's material for good (crypto-shredding); the log keeps that it existed",
		Long: "Destroy a secret's material for good: the provider crypto-shreds it and the ledger records the purge. " +
			"It cannot be undone, so --confirm must repeat the secret's id.\n\n" + clientHelp,
		Args: exactArgs("SECRET_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return runSecretsPurge(c.Context(), env, args[0], o)
		},
	}
	c.Flags().StringVar(&o.confirm, "confirm", "", "the secret's id again, to confirm")
	_ = c.MarkFlagRequired("confirm")
	return c
}

func runSecretsPurge(ctx context.Context, env *environment, id string, o secretsPurgeOptions) error {
	if o.confirm != id {
		return usage.Error{Err: errors.New("--confirm must repeat the secret's id")}
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		return c.show(c.api.PurgeSecret(ctx, id, apiclient.PurgeSecret{Confirm: o.confirm}))
	})
}

type secretsVersionsOptions struct{ output string }

func newSecretsVersionsCmd(env *environment) *cobra.Command {
	var o secretsVersionsOptions
	c := &cobra.Command{
		Use:   "versions SECRET_ID",
		Short: "list a secret's versions (fingerprints, never values)",
		Args:  exactArgs("SECRET_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return printList(api, o.output, []column{{"VERSION", "version"}, {"STATUS", "status"}, {"FINGERPRINT", "fingerprint"},
					{"CREATED", "createdAt"}, {"BY", "createdBy"}}, nil,
					func(q url.Values) (apiclient.Page[apiclient.SecretVersion], *apiclient.Answer, error) {
						return api.api.ListSecretVersions(ctx, args[0], q)
					})
			})
		},
	}
	addOutputFlag(c, &o.output)
	return c
}
