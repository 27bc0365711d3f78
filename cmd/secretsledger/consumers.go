package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

func newConsumersCmd(env *environment) *cobra.Command {
	c := newGroup(env, "consumers", "a consumer's env (plain values and secret references) through the API")
	env2 := newGroup(env, "env", "get or replace a consumer's env")
	env2.Long = "A consumer's env maps keys to plain values or to secret references; values under sensitive keys are " +
		"redacted on the way out.\n\n" + clientHelp
	env2.AddCommand(newConsumersEnvGetCmd(env), newConsumersEnvSetCmd(env))
	c.AddCommand(env2)
	return c
}

// consumerOptions names one consumer.
type consumerOptions struct{ company, targetType, targetID string }

func addConsumerFlags(c *cobra.Command, o *consumerOptions) {
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.targetType, "target-type", "", "the consumer's type (agent, project, …)")
	c.Flags().StringVar(&o.targetID, "target-id", "", "the consumer's id")
	_ = c.MarkFlagRequired("target-type")
	_ = c.MarkFlagRequired("target-id")
}

type consumersEnvGetOptions struct {
	consumer consumerOptions
	output   string
}

func newConsumersEnvGetCmd(env *environment) *cobra.Command {
	var o consumersEnvGetOptions
	c := &cobra.Command{
		Use:   "get --company ID --target-type T --target-id I",
		Short: "print a consumer's env (sensitive plain values redacted)",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runConsumersEnvGet(c.Context(), env, o)
		},
	}
	addConsumerFlags(c, &o.consumer)
	addOutputFlag(c, &o.output)
	return c
}

func runConsumersEnvGet(ctx context.Context, env *environment, o consumersEnvGetOptions) error {
	if err := needCompany(o.consumer.company); err != nil {
		return err
	}
	format, err := env.outputFormat(o.output)
	if err != nil {
		return err
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		e, a, err := c.api.GetConsumerEnv(ctx, o.consumer.company, o.consumer.targetType, o.consumer.targetID)
		if err != nil {
			return err
		}
		if format == outputJSON {
			c.print(a.Body)
			return nil
		}
		return printEnvTable(env.stdout, e)
	})
}

// printEnvTable prints an env as one row per key, in key order.
func printEnvTable(w io.Writer, e apiclient.Env) error {
	rows := make([]json.RawMessage, 0, len(e.Env))
	for _, k := range slices.Sorted(maps.Keys(e.Env)) {
		entry := e.Env[k]
		b, _ := json.Marshal(map[string]string{"key": k, "type": entry.Type, "value": entry.Value,
			"secretId": entry.SecretID, "version": entry.Version})
		rows = append(rows, b)
	}
	return printTable(w, rows, []column{{"KEY", "key"}, {"TYPE", "type"}, {"VALUE", "value"}, {"SECRET", "secretId"}, {"VERSION", "version"}})
}

type consumersEnvSetOptions struct {
	consumer      consumerOptions
	file          string
	plain, secret []string
}

func newConsumersEnvSetCmd(env *environment) *cobra.Command {
	var o consumersEnvSetOptions
	c := &cobra.Command{
		Use:   "set --company ID --target-type T --target-id I [--plain KEY=ENV_VAR]... [--secret KEY=SECRET_ID[@VERSION]]... | [--file PATH | <stdin>]",
		Short: "replace a consumer's whole env",
		Long: "Replace a consumer's whole env (keys not given are removed). Either build it from flags — --plain KEY=ENV_VAR " +
			"takes the value from the environment variable ENV_VAR, never from the command line; --secret KEY=SECRET_ID[@VERSION] " +
			"references a secret (latest version unless @VERSION) — or give the API's body, {\"env\": {...}}, in --file or on stdin.\n\n" + clientHelp,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runConsumersEnvSet(c.Context(), env, o)
		},
	}
	addConsumerFlags(c, &o.consumer)
	c.Flags().StringVarP(&o.file, "file", "f", "", "the body {\"env\": {...}} as JSON (- for stdin; the default without --plain/--secret)")
	c.Flags().StringArrayVar(&o.plain, "plain", nil, "KEY=ENV_VAR: a plain value read from the environment variable ENV_VAR (repeatable)")
	c.Flags().StringArrayVar(&o.secret, "secret", nil, "KEY=SECRET_ID[@VERSION]: a reference to a secret (repeatable)")
	c.MarkFlagsMutuallyExclusive("file", "plain")
	c.MarkFlagsMutuallyExclusive("file", "secret")
	return c
}

func runConsumersEnvSet(ctx context.Context, env *environment, o consumersEnvSetOptions) error {
	if err := needCompany(o.consumer.company); err != nil {
		return err
	}
	var body apiclient.PutEnv
	var err error
	if len(o.plain)+len(o.secret) > 0 {
		if body, err = envFromFlags(env.getenv, o.plain, o.secret); err != nil {
			return err
		}
	} else if body, err = envFromJSON(env, o.file); err != nil {
		return err
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		return c.show(c.api.PutConsumerEnv(ctx, o.consumer.company, o.consumer.targetType, o.consumer.targetID, body))
	})
}

// envFromFlags builds the env body from --plain and --secret.
func envFromFlags(getenv func(string) string, plain, secret []string) (apiclient.PutEnv, error) {
	entries := map[string]apiclient.EnvEntryInput{}
	add := func(flag, spec string, entry func(key, rest string) (apiclient.EnvEntryInput, error)) error {
		key, rest, ok := strings.Cut(spec, "=")
		if !ok || key == "" || rest == "" {
			return usage.Error{Err: fmt.Errorf("--%s %q: want KEY=…", flag, spec)}
		}
		if _, dup := entries[key]; dup {
			return usage.Error{Err: fmt.Errorf("env key %s given twice", key)}
		}
		e, err := entry(key, rest)
		if err != nil {
			return err
		}
		entries[key] = e
		return nil
	}
	for _, p := range plain {
		if err := add("plain", p, func(key, envVar string) (apiclient.EnvEntryInput, error) {
			v := getenv(envVar)
			if v == "" {
				return apiclient.EnvEntryInput{}, usage.Error{Err: fmt.Errorf("--plain %s: environment variable %s is empty or unset", key, envVar)}
			}
			return apiclient.EnvEntryInput{Type: apiclient.EnvPlain, Value: &v}, nil
		}); err != nil {
			return apiclient.PutEnv{}, err
		}
	}
	for _, s := range secret {
		if err := add("secret", s, func(_, ref string) (apiclient.EnvEntryInput, error) {
			id, version, _ := strings.Cut(ref, "@")
			e := apiclient.EnvEntryInput{Type: apiclient.EnvSecretRef, SecretID: id, Version: apiclient.Latest}
			if version != "" && version != "latest" {
				n, err := strconv.Atoi(version)
				if err != nil || n < 1 {
					return e, usage.Error{Err: fmt.Errorf("--secret %s: the version must be latest or a number", ref)}
				}
				e.Version = apiclient.Version(n)
			}
			return e, nil
		}); err != nil {
			return apiclient.PutEnv{}, err
		}
	}
	return apiclient.PutEnv{Env: entries}, nil
}

// envFromJSON reads the env body from a file or stdin; it must be one JSON object with
// an "env" object, checked here so that a wrong file does not clear the env.
func envFromJSON(env *environment, file string) (apiclient.PutEnv, error) {
	var r io.Reader = env.stdin
	src := "stdin"
	if file != "" && file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return apiclient.PutEnv{}, usage.Error{Err: err}
		}
		defer f.Close()
		r, src = f, file
	} else if env.stdinTTY {
		fmt.Fprintln(env.stderr, `Paste {"env": {...}} and end with Ctrl-D:`)
	}
	raw, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return apiclient.PutEnv{}, fmt.Errorf("read %s: %w", src, err)
	}
	var body apiclient.PutEnv
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Env == nil {
		return body, usage.Error{Err: fmt.Errorf(`%s: want a JSON object {"env": {...}} (or use --plain/--secret)`, src)}
	}
	return body, nil
}
