package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/backup"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

func newBackupCmds(env *environment) []*cobra.Command {
	var out, identity string
	var verifyAfter bool
	var recipients []string
	backup := &cobra.Command{
		Use:   "backup [--out FILE] [--verify]",
		Short: "take a consistent pg_dump of the ledger's database (safe while serve runs) with a manifest beside it",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			path, m, err := runBackup(c.Context(), env, out, recipients)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "backup %s: position %d, head %s, master key %s\n", path, m.HeadPosition, backup.Short(m.HeadHash), m.KeyFingerprint)
			if verifyAfter {
				return runVerifyBackup(c.Context(), env, path, identity)
			}
			return nil
		},
	}
	backup.Flags().StringVar(&out, "out", "", "write the dump here instead of <instance>/backups/<instance>-<UTC time>-pos<head>.dump")
	backup.Flags().BoolVar(&verifyAfter, "verify", false, "then restore it into a throwaway cluster and verify it (as verify-backup)")
	backup.Flags().StringArrayVar(&recipients, "encrypt-to", nil, "encrypt the dump for this age recipient (age1…); repeatable")
	backup.Flags().StringVar(&identity, "identity", "", "age identity file to decrypt an encrypted backup with (for --verify)")

	list := &cobra.Command{
		Use:   "backups",
		Short: "list the instance's backups: time, size, position, verified or not",
		Args:  exactArgs(),
		RunE:  func(*cobra.Command, []string) error { return runBackups(env) },
	}
	verify := &cobra.Command{
		Use:   "verify-backup FILE",
		Short: "restore a backup into a throwaway cluster, verify its chain, rebuild its read models and compare its head with the manifest",
		Args:  exactArgs("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			return runVerifyBackup(c.Context(), env, args[0], identity)
		},
	}
	verify.Flags().StringVar(&identity, "identity", "", "age identity file to decrypt an encrypted backup with")
	var force bool
	var inst string
	restore := &cobra.Command{
		Use:   "restore FILE [--instance NEW] [--force]",
		Short: "restore a backup into an empty database, verify it, rebuild the read models and check the master key",
		Args:  exactArgs("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			if inst != "" {
				env.cfg.Instance = inst
			}
			return runRestore(c.Context(), env, args[0], identity, force)
		},
	}
	restore.Flags().BoolVar(&force, "force", false, "restore over a database that holds events (a backup of it is taken first)")
	restore.Flags().StringVar(&identity, "identity", "", "age identity file to decrypt an encrypted backup with")
	restore.Flags().StringVar(&inst, "instance", "", "restore into this instance instead of LEDGER_INSTANCE")
	return []*cobra.Command{backup, list, verify, restore}
}

// backupOptions are the backup package's view of env.
func (env *environment) backupOptions() backup.Options {
	return backup.Options{Config: env.cfg, Log: env.log, Getenv: env.getenv, Progress: env.progressOut()}
}

func runBackup(ctx context.Context, env *environment, out string, recipients []string) (string, backup.Manifest, error) {
	env.quietDatabase()
	return backup.Take(ctx, env.backupOptions(), out, recipients)
}

func runBackups(env *environment) error {
	if err := env.cfg.Validate(); err != nil {
		return usage.InvalidConfig(err)
	}
	dir := backup.Dir(env.cfg)
	list, err := backup.List(dir)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(env.stdout, "no backups in %s\n", dir)
		return nil
	}
	fmt.Fprintf(env.stdout, "%-20s  %10s  %10s  %-10s  %s\n", "TIME (UTC)", "SIZE", "POSITION", "VERIFIED", "FILE")
	for _, e := range list {
		v := "no"
		if e.Check != nil {
			v = "FAILED"
			if e.Check.OK {
				v = "yes"
			}
		}
		fmt.Fprintf(env.stdout, "%-20s  %10d  %10d  %-10s  %s\n", e.Manifest.CreatedAt.Format("2006-01-02 15:04:05"), e.Size, e.Manifest.HeadPosition, v, e.Path)
	}
	return nil
}

func runVerifyBackup(ctx context.Context, env *environment, file, identity string) error {
	env.quietDatabase()
	c, err := backup.Verify(ctx, env.backupOptions(), file, identity)
	if err != nil {
		return err
	}
	if !c.OK {
		return fmt.Errorf("backup %s FAILED verification: %s", file, c.Problem)
	}
	fmt.Fprintf(env.stdout, "backup %s verified: %d events, chain intact, read models rebuilt, head position %d hash %s matches the manifest\n",
		file, c.Events, c.HeadPosition, backup.Short(c.HeadHash))
	return nil
}

func runRestore(ctx context.Context, env *environment, file, identity string, force bool) error {
	env.quietDatabase()
	r, err := backup.Restore(ctx, env.backupOptions(), file, identity, force)
	if r.SafetyBackup != "" {
		fmt.Fprintf(env.stdout, "backed up the existing database to %s\n", r.SafetyBackup)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "restored %s into instance %s: %d events, %d companies, %d secrets, head position %d hash %s; chain verified, read models rebuilt, master key %s matches\n",
		file, env.cfg.Instance, r.Check.Events, r.Companies, r.Secrets, r.Check.HeadPosition, backup.Short(r.Check.HeadHash), r.Manifest.KeyFingerprint)
	return nil
}
