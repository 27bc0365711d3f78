package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/backup"
)

func newExportKeyCmd(env *environment) *cobra.Command {
	var out string
	var recipients []string
	cmd := &cobra.Command{
		Use:   "export-key --out FILE --encrypt-to RECIPIENT…",
		Short: "write the master key, encrypted for age recipients, to FILE: the key backup a restore needs besides the database backup",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			return runExportKey(env, out, recipients)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the file to write (required)")
	cmd.Flags().StringArrayVar(&recipients, "encrypt-to", nil, "age recipient (age1…) to encrypt for; repeatable, at least one")
	return cmd
}

func runExportKey(env *environment, out string, recipients []string) error {
	k, err := backup.ExportKey(env.backupOptions(), out, recipients)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "exported master key %s to %s, encrypted for %d recipient(s); keep it apart from the database backups\n",
		k.Fingerprint, k.File, k.Recipients)
	return nil
}
