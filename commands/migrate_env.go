package commands

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// EnvMigrationStep is one plain value under a sensitive key that becomes a secret.
type EnvMigrationStep struct {
	Consumer
	Key        string
	SecretName string
	Action     string // "create" or "rotate"
}

// MigrateInlineEnv finds plain values under sensitive keys in every consumer env of a
// company and, with apply, moves each into a managed secret named
// <targetType>_<first 8 of targetId>_<lowercased key> (created, or rotated when it
// exists) and replaces the plain value with a reference to it. Without apply it only
// returns the plan.
func (h *Consumers) MigrateInlineEnv(ctx context.Context, req Request, companyID string, apply bool) ([]EnvMigrationStep, error) {
	if !req.Actor.CanAccess(companyID) {
		return nil, ledgererr.New(ledgererr.NotFound, "company not found")
	}
	consumers, err := h.directory.ConsumersWithEnv(ctx, companyID)
	if err != nil {
		return nil, err
	}
	local, err := h.storage.provider(providers.LocalEncrypted)
	if err != nil {
		return nil, err
	}
	var plan []EnvMigrationStep
	for _, c := range consumers {
		st, err := h.rt.loadConsumer(ctx, c)
		if err != nil {
			return plan, err
		}
		var steps []EnvMigrationStep
		keys := make([]string, 0, len(st.env))
		for k := range st.env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e := st.env[k]
			if e.Type != "plain" || e.Empty || !IsSensitiveKey(k) {
				continue
			}
			short := c.TargetID
			if len(short) > 8 {
				short = short[:8]
			}
			step := EnvMigrationStep{Consumer: c, Key: k, SecretName: fmt.Sprintf("%s_%s_%s", c.TargetType, short, strings.ToLower(k)), Action: "create"}
			if _, err := h.directory.LiveSecretByName(ctx, companyID, step.SecretName); err == nil {
				step.Action = "rotate"
			} else if ledgererr.CodeOf(err) != ledgererr.NotFound {
				return plan, err
			}
			steps = append(steps, step)
		}
		plan = append(plan, steps...)
		if apply && len(steps) > 0 {
			if err := h.migrateConsumer(ctx, req, c, st, steps, local); err != nil {
				return plan, err
			}
		}
	}
	return plan, nil
}

// migrateConsumer moves one consumer's steps into secrets and rewrites its env, with
// every other entry as it was.
func (h *Consumers) migrateConsumer(ctx context.Context, req Request, c Consumer, st consumerState, steps []EnvMigrationStep, local providers.Provider) error {
	env := map[string]EnvInput{}
	for k, e := range st.env {
		switch {
		case e.Type == "secret_ref":
			env[k] = EnvInput{Type: "secret_ref", SecretID: e.SecretID, Version: e.Version}
		case e.Empty:
			env[k] = EnvInput{Type: "plain", Value: &providers.Value{}}
		default:
			v, err := local.Resolve(ctx, providers.Ref{CompanyID: c.CompanyID, SecretID: c.EnvSecretID()}, e.ProviderVersionRef)
			if err != nil {
				return err
			}
			env[k] = EnvInput{Type: "plain", Value: &v}
		}
	}
	for _, s := range steps {
		value := env[s.Key].Value
		var id string
		if s.Action == "rotate" {
			existing, err := h.directory.LiveSecretByName(ctx, c.CompanyID, s.SecretName)
			if err != nil {
				return err
			}
			if _, err := h.secrets.Rotate(ctx, req, RotateSecret{SecretID: existing, Value: value}); err != nil {
				return fmt.Errorf("rotate %s: %w", s.SecretName, err)
			}
			id = existing
		} else {
			res, err := h.secrets.Create(ctx, req, CreateSecret{CompanyID: c.CompanyID, Name: s.SecretName, Value: value,
				Description: "migrated from the inline env of " + c.TargetType + " " + c.TargetID})
			if err != nil {
				return fmt.Errorf("create %s: %w", s.SecretName, err)
			}
			id = res.SecretID
		}
		env[s.Key] = EnvInput{Type: "secret_ref", SecretID: id, Version: "latest"}
	}
	_, err := h.PutEnv(ctx, req, SetEnv{Consumer: c, Env: env})
	return err
}
