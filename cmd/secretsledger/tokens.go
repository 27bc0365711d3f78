package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/app"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// Board tokens are managed locally, as the owner, where the instance directory is: a
// board token is what the API itself asks for.

func newTokensCmd(env *environment) *cobra.Command {
	c := newGroup(env, "tokens", "board (operator) tokens, locally: create, list, revoke")
	c.Aliases = []string{"token"}
	c.Long = "Board tokens are the operators' API credentials, instance-wide or limited to companies. These verbs work " +
		"on the instance's database directly (as the owner), so they work before any token exists."
	c.AddCommand(newTokensCreateCmd(env), newTokensListCmd(env), newTokensRevokeCmd(env))
	return c
}

type tokensCreateOptions struct {
	board     bool
	label     string
	companies []string
}

func newTokensCreateCmd(env *environment) *cobra.Command {
	var o tokensCreateOptions
	c := &cobra.Command{
		Use:   "create --board [--company ID]... [--label TEXT]",
		Short: "create a board token; it is printed once, alone on stdout",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokensCreate(c.Context(), env, o)
		},
	}
	c.Flags().BoolVar(&o.board, "board", false, "create a board (operator) token (agent keys: secretsledger agent-keys issue)")
	c.Flags().StringVar(&o.label, "label", "", "a note on what the token is for")
	c.Flags().StringArrayVarP(&o.companies, "company", "C", nil, "limit the token to this company id (repeatable); none: every company")
	return c
}

func runTokensCreate(ctx context.Context, env *environment, o tokensCreateOptions) error {
	if !o.board {
		return usage.Error{Err: errors.New("tokens create needs --board (agent keys: `secretsledger agent-keys issue`)")}
	}
	return withLedger(ctx, env, func(l *app.App) error {
		if l.NoIntegrityKey != nil { // a token's stored hash is keyed with it
			return l.NoIntegrityKey
		}
		var scope []string // nil: every company
		if len(o.companies) > 0 {
			scope = o.companies
		}
		id, token, err := l.Tokens.Create(ctx, scope, o.label)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "created board token %s (shown once)\n", id)
		fmt.Fprintln(env.stdout, token) // the token alone on stdout, for $(…)
		return nil
	})
}

type tokensListOptions struct{ output string }

func newTokensListCmd(env *environment) *cobra.Command {
	var o tokensListOptions
	c := &cobra.Command{
		Use:   "list",
		Short: "list the board tokens (ids, labels, companies, dates; never hashes)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokensList(c.Context(), env, o)
		},
	}
	addOutputFlag(c, &o.output)
	return c
}

func runTokensList(ctx context.Context, env *environment, o tokensListOptions) error {
	format, err := env.outputFormat(o.output)
	if err != nil {
		return err
	}
	return withLedger(ctx, env, func(l *app.App) error {
		tokens, err := l.Tokens.List(ctx)
		if err != nil {
			return err
		}
		items := make([]json.RawMessage, len(tokens))
		for i, t := range tokens {
			if items[i], err = json.Marshal(t); err != nil {
				return err
			}
		}
		if format == outputTable {
			return printTable(env.stdout, items, []column{{"ID", "id"}, {"LABEL", "label"}, {"COMPANIES", "companies"},
				{"CREATED", "createdAt"}, {"REVOKED", "revokedAt"}})
		}
		b, err := json.MarshalIndent(items, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, string(b))
		return nil
	})
}

func newTokensRevokeCmd(env *environment) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke TOKEN_ID",
		Short: "revoke a board token at once",
		Args:  exactArgs("TOKEN_ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return withLedger(c.Context(), env, func(l *app.App) error {
				if err := l.Tokens.Revoke(c.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "revoked %s\n", args[0])
				return nil
			})
		},
	}
}
