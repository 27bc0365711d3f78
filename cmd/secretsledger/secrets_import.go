package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// importBatch is the most rows one remote-import request takes.
const importBatch = 100

func newSecretsImportCmd(env *environment) *cobra.Command {
	c := newGroup(env, "import", "link existing AWS Secrets Manager or Vault secrets as external references (metadata only)")
	c.Long = "Preview a vault's AWS or Vault inventory (metadata only: AWS ListSecrets, Vault LIST under the approved " +
		"prefixes; never a value) and link the chosen secrets as external references. Without --vault, the deployment's " +
		"aws_secrets_manager instance is used, else its vault instance.\n\n" + clientHelp
	c.AddCommand(newSecretsImportPreviewCmd(env), newSecretsImportCommitCmd(env))
	return c
}

type importPreviewOptions struct {
	company, vault, query, output string
	allPages, json                bool
	pageSize                      int
}

func newSecretsImportPreviewCmd(env *environment) *cobra.Command {
	var o importPreviewOptions
	c := &cobra.Command{
		Use:   "preview --company ID [--vault ID] [--query Q] [--all-pages] [--json | -o json]",
		Short: "list a vault's AWS secrets and what importing each would do",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runImportPreview(c.Context(), env, o)
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.vault, "vault", "", "an aws_secrets_manager or vault provider vault id (default: the deployment's instance)")
	c.Flags().StringVar(&o.query, "query", "", "search text (AWS's \"all\" filter), at most 200 characters")
	c.Flags().BoolVar(&o.allPages, "all-pages", false, "follow nextToken to the last page (one ListSecrets call per page)")
	c.Flags().IntVar(&o.pageSize, "page-size", 50, "secrets per page, 1 to 100")
	c.Flags().BoolVar(&o.json, "json", false, "print JSON (same as -o json)")
	addOutputFlag(c, &o.output)
	return c
}

// previewPage is the part of a preview answer the CLI reads; candidates stay raw so
// that JSON output is the server's.
type previewPage struct {
	Candidates []json.RawMessage `json:"candidates"`
	NextToken  *string           `json:"nextToken"`
}

func runImportPreview(ctx context.Context, env *environment, o importPreviewOptions) error {
	format, err := env.importFormat(o.company, o.json, o.output)
	if err != nil {
		return err
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		all := previewPage{Candidates: []json.RawMessage{}}
		token := ""
		for page := 1; ; page++ {
			body := apiclient.RemoteImportPreviewRequest{ProviderConfigID: o.vault, Query: o.query, PageSize: &o.pageSize, NextToken: token}
			_, a, err := c.api.PreviewRemoteImport(ctx, o.company, body)
			if err != nil {
				return err
			}
			var p previewPage
			if err := json.Unmarshal(a.Body, &p); err != nil {
				return fmt.Errorf("unexpected answer from the ledger: %w", err)
			}
			all.Candidates = append(all.Candidates, p.Candidates...)
			all.NextToken = p.NextToken
			if env.stderrTTY {
				fmt.Fprintf(env.stderr, "page %d: %d secrets (%d so far)\n", page, len(p.Candidates), len(all.Candidates))
			}
			if !o.allPages || p.NextToken == nil || *p.NextToken == "" {
				break
			}
			token = *p.NextToken
		}
		if format == outputJSON {
			raw, err := json.Marshal(all)
			if err != nil {
				return err
			}
			c.print(raw)
			return nil
		}
		rows := make([]json.RawMessage, 0, len(all.Candidates))
		for _, raw := range all.Candidates {
			var cd apiclient.RemoteImportCandidate
			if err := json.Unmarshal(raw, &cd); err != nil {
				return fmt.Errorf("unexpected candidate from the ledger: %w", err)
			}
			types := make([]string, len(cd.Conflicts))
			for i, cf := range cd.Conflicts {
				types[i] = cf.Type
			}
			row, _ := json.Marshal(map[string]any{"remoteName": cd.RemoteName, "name": cd.Name, "key": cd.Key,
				"status": cd.Status, "importable": fmt.Sprint(cd.Importable), "conflicts": strings.Join(types, ",")})
			rows = append(rows, row)
		}
		if err := printTable(env.stdout, rows, []column{{"REMOTE NAME", "remoteName"}, {"NAME", "name"}, {"KEY", "key"},
			{"STATUS", "status"}, {"IMPORTABLE", "importable"}, {"CONFLICTS", "conflicts"}}); err != nil {
			return err
		}
		if all.NextToken != nil && *all.NextToken != "" {
			fmt.Fprintln(env.stderr, "more secrets follow: --all-pages lists them, or narrow the search with --query")
		}
		return nil
	})
}

type importCommitOptions struct {
	company, vault, fromPreview, output string
	refs                                []string
	json                                bool
}

func newSecretsImportCommitCmd(env *environment) *cobra.Command {
	var o importCommitOptions
	c := &cobra.Command{
		Use:   "commit --company ID [--vault ID] (--ref ARN... | --from-preview FILE) [--json | -o json]",
		Short: "link AWS secrets as external references (no value is read)",
		Long: "Link the secrets named by --ref (ARNs or names, repeatable), or the importable candidates of a preview " +
			"saved with `preview --json` (--from-preview FILE, - for stdin), 100 per request. Already linked references " +
			"are skipped; conflicts and managed-namespace references are error rows.",
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runImportCommit(c.Context(), env, o)
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.vault, "vault", "", "an aws_secrets_manager or vault provider vault id (default: the deployment's instance)")
	c.Flags().StringArrayVar(&o.refs, "ref", nil, "an ARN or secret name to link (repeatable)")
	c.Flags().StringVar(&o.fromPreview, "from-preview", "", "a file holding `preview --json` output (- for stdin)")
	c.Flags().BoolVar(&o.json, "json", false, "print JSON (same as -o json)")
	addOutputFlag(c, &o.output)
	return c
}

func importRows(env *environment, o importCommitOptions) ([]apiclient.RemoteImportRow, error) {
	var rows []apiclient.RemoteImportRow
	for _, ref := range o.refs {
		rows = append(rows, apiclient.RemoteImportRow{ExternalRef: ref})
	}
	if o.fromPreview != "" {
		var raw []byte
		var err error
		if o.fromPreview == "-" {
			raw, err = io.ReadAll(io.LimitReader(env.stdin, 64<<20))
		} else {
			raw, err = os.ReadFile(o.fromPreview)
		}
		if err != nil {
			return nil, usage.Error{Err: fmt.Errorf("--from-preview: %w", err)}
		}
		var p apiclient.RemoteImportPreview
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, usage.Error{Err: fmt.Errorf("--from-preview: not the JSON output of `secrets import preview`: %w", err)}
		}
		for _, cd := range p.Candidates {
			if cd.Importable {
				rows = append(rows, apiclient.RemoteImportRow{ExternalRef: cd.ExternalRef, Name: cd.Name, Key: cd.Key})
			}
		}
	}
	if len(rows) == 0 {
		return nil, usage.Error{Err: errors.New("nothing to import: give --ref or a --from-preview with importable candidates")}
	}
	return rows, nil
}

func runImportCommit(ctx context.Context, env *environment, o importCommitOptions) error {
	format, err := env.importFormat(o.company, o.json, o.output)
	if err != nil {
		return err
	}
	rows, err := importRows(env, o)
	if err != nil {
		return err
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		var total struct {
			ImportedCount int64             `json:"importedCount"`
			SkippedCount  int64             `json:"skippedCount"`
			ErrorCount    int64             `json:"errorCount"`
			Results       []json.RawMessage `json:"results"`
		}
		total.Results = []json.RawMessage{}
		for start := 0; start < len(rows); start += importBatch {
			batch := rows[start:min(start+importBatch, len(rows))]
			result, a, err := c.api.RemoteImport(ctx, o.company, apiclient.RemoteImportRequest{ProviderConfigID: o.vault, Secrets: batch})
			if err != nil {
				return err
			}
			// The rows are printed as the server wrote them.
			var part struct {
				Results []json.RawMessage `json:"results"`
			}
			if err := json.Unmarshal(a.Body, &part); err != nil {
				return fmt.Errorf("unexpected answer from the ledger: %w", err)
			}
			total.ImportedCount += result.ImportedCount
			total.SkippedCount += result.SkippedCount
			total.ErrorCount += result.ErrorCount
			total.Results = append(total.Results, part.Results...)
			if env.stderrTTY {
				fmt.Fprintf(env.stderr, "batch %d: %d imported, %d skipped, %d errors\n", start/importBatch+1,
					result.ImportedCount, result.SkippedCount, result.ErrorCount)
			}
		}
		if format == outputJSON {
			raw, err := json.Marshal(total)
			if err != nil {
				return err
			}
			c.print(raw)
		} else {
			if err := printTable(env.stdout, total.Results, []column{{"EXTERNAL REF", "externalRef"}, {"NAME", "name"},
				{"STATUS", "status"}, {"REASON", "reason"}, {"SECRET ID", "secretId"}}); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "imported %d, skipped %d, errors %d\n", total.ImportedCount, total.SkippedCount, total.ErrorCount)
		}
		if total.ErrorCount > 0 {
			return fmt.Errorf("%d of %d secrets could not be imported", total.ErrorCount, len(rows))
		}
		return nil
	})
}

// importFormat checks the company flag of an import verb and resolves its output format
// (--json is -o json).
func (env *environment) importFormat(company string, asJSON bool, output string) (string, error) {
	if err := needCompany(company); err != nil {
		return "", err
	}
	if asJSON {
		output = outputJSON
	}
	return env.outputFormat(output)
}
