package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// vaultColumns are the table columns of provider vaults.
var vaultColumns = []column{{"ID", "id"}, {"NAME", "displayName"}, {"PROVIDER", "provider"}, {"STATUS", "status"},
	{"DEFAULT", "isDefault"}, {"HEALTH", "healthStatus"}, {"CONFIG", "config"}, {"UPDATED", "updatedAt"}}

func newVaultsCmd(env *environment) *cobra.Command {
	c := newGroup(env, "vaults", "manage a company's provider vaults (where its secrets are stored) through the API")
	c.Long = "A provider vault is a company's named instance of a provider (local_encrypted, aws_secrets_manager, vault " +
		"with a Vault session, else coming_soon; gcp_secret_manager is coming_soon) with its routing config: AWS region, " +
		"namespace, prefix, KMS key, tags; Vault namespace, mountPath, secretPathPrefix. " +
		"It never holds credentials: a config with a credential-shaped key is refused. Each provider has at most one " +
		"default vault per company.\n\n" + clientHelp
	c.AddCommand(newVaultsListCmd(env), newVaultsCreateCmd(env), newVaultsUpdateCmd(env),
		newVaultActionCmd(env, "disable", "disable a vault (a soft delete; it stops being a default)", (*apiclient.Client).DisableVault),
		newVaultActionCmd(env, "default", "make a vault its provider's default in its company", (*apiclient.Client).SetDefaultVault),
		newVaultActionCmd(env, "health", "check a vault's health and print the vault", (*apiclient.Client).CheckVaultHealth))
	return c
}

type vaultsListOptions struct{ company, provider, output string }

func newVaultsListCmd(env *environment) *cobra.Command {
	var o vaultsListOptions
	c := &cobra.Command{
		Use:   "list --company ID [--provider P]",
		Short: "list a company's provider vaults, disabled ones included",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needCompany(o.company); err != nil {
				return err
			}
			q := url.Values{}
			if o.provider != "" {
				q.Set("provider", o.provider)
			}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				return printList(api, o.output, vaultColumns, q, func(q url.Values) (apiclient.Page[apiclient.Vault], *apiclient.Answer, error) {
					return api.api.ListVaults(ctx, o.company, q)
				})
			})
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.provider, "provider", "", "only vaults of this provider")
	addOutputFlag(c, &o.output)
	return c
}

// vaultWriteOptions are the flags of create and update.
type vaultWriteOptions struct {
	company, displayName, provider, config, configFile, output string
	isDefault                                                  bool
}

func addVaultWriteFlags(c *cobra.Command, o *vaultWriteOptions) {
	c.Flags().StringVar(&o.displayName, "display-name", "", "the vault's name (1 to 120 characters)")
	c.Flags().StringVar(&o.provider, "provider", "", "local_encrypted, aws_secrets_manager, gcp_secret_manager or vault")
	c.Flags().StringVar(&o.config, "config", "", `the config as a JSON object, e.g. '{"region": "us-east-1", "namespace": "prod"}'`)
	c.Flags().StringVar(&o.configFile, "config-file", "", "read the config's JSON object from this file (- for stdin)")
	addOutputFlag(c, &o.output)
}

// readConfig returns the config flags' JSON object, nil when neither was given.
func (o vaultWriteOptions) readConfig(env *environment) (map[string]string, error) {
	var raw []byte
	switch {
	case o.config != "" && o.configFile != "":
		return nil, usage.Error{Err: fmt.Errorf("give --config or --config-file, not both")}
	case o.config != "":
		raw = []byte(o.config)
	case o.configFile == "-":
		b, err := io.ReadAll(io.LimitReader(env.stdin, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("read the config from stdin: %w", err)
		}
		raw = b
	case o.configFile != "":
		b, err := os.ReadFile(o.configFile)
		if err != nil {
			return nil, usage.Error{Err: fmt.Errorf("--config-file: %w", err)}
		}
		raw = b
	default:
		return nil, nil
	}
	var cfg map[string]string
	if err := json.Unmarshal(raw, &cfg); err != nil || cfg == nil {
		return nil, usage.Error{Err: fmt.Errorf("the config must be a JSON object of strings")}
	}
	return cfg, nil
}

// printVault prints a vault answer: the JSON, or a one-row table.
func printVault(env *environment, c *apiCaller, output string, _ apiclient.Vault, a *apiclient.Answer, err error) error {
	if err != nil {
		return err
	}
	raw := a.Body
	format, err := env.outputFormat(output)
	if err != nil {
		return err
	}
	if format == outputTable {
		return printTable(env.stdout, []json.RawMessage{raw}, vaultColumns)
	}
	c.print(raw)
	return nil
}

func newVaultsCreateCmd(env *environment) *cobra.Command {
	var o vaultWriteOptions
	c := &cobra.Command{
		Use:   "create --company ID --display-name NAME --provider P [--config JSON | --config-file PATH] [--default]",
		Short: "create a provider vault",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needCompany(o.company); err != nil {
				return err
			}
			cfg, err := o.readConfig(env)
			if err != nil {
				return err
			}
			body := apiclient.CreateVault{DisplayName: o.displayName, Provider: o.provider, IsDefault: o.isDefault, Config: cfg}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				vault, a, err := api.api.CreateVault(ctx, o.company, body)
				return printVault(env, api, o.output, vault, a, err)
			})
		},
	}
	addCompanyFlag(c, &o.company)
	addVaultWriteFlags(c, &o)
	c.Flags().BoolVar(&o.isDefault, "default", false, "make it its provider's default at once")
	_ = c.MarkFlagRequired("display-name")
	_ = c.MarkFlagRequired("provider")
	return c
}

func newVaultsUpdateCmd(env *environment) *cobra.Command {
	var o vaultWriteOptions
	c := &cobra.Command{
		Use:   "update VAULT_ID [--display-name NAME] [--config JSON | --config-file PATH] [--default]",
		Short: "rename a vault or replace its config (--default then makes it the default)",
		Args:  exactArgs("VAULT_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := o.readConfig(env)
			if err != nil {
				return err
			}
			body := apiclient.UpdateVault{Provider: o.provider, Config: cfg}
			if c.Flags().Changed("display-name") {
				body.DisplayName = &o.displayName
			}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				vault, a, err := api.api.UpdateVault(ctx, args[0], body)
				if err == nil && o.isDefault {
					vault, a, err = api.api.SetDefaultVault(ctx, args[0])
				}
				return printVault(env, api, o.output, vault, a, err)
			})
		},
	}
	addVaultWriteFlags(c, &o)
	c.Flags().BoolVar(&o.isDefault, "default", false, "then make it its provider's default")
	return c
}

func newVaultActionCmd(env *environment, verb, short string,
	send func(api *apiclient.Client, ctx context.Context, id string, opts ...apiclient.Option) (apiclient.Vault, *apiclient.Answer, error)) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   verb + " VAULT_ID",
		Short: short,
		Args:  exactArgs("VAULT_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				vault, a, err := send(api.api, ctx, args[0])
				return printVault(env, api, output, vault, a, err)
			})
		},
	}
	addOutputFlag(c, &output)
	return c
}
