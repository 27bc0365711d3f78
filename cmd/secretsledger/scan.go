package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
	"github.com/secretsledger/secretsledger/commands"
)

// exitFound is scan's exit status when a value of the company was found: scripts tell
// "clean" (0) from "leaked" without reading the output, and from a failure (1).
const exitFound = 4

// maxScanBody is the server's bound on a scan's request body.
const maxScanBody = commands.MaxScanText

type scanOptions struct {
	company, source, output string
	includeExternal         bool
}

func newScanCmd(env *environment) *cobra.Command {
	var o scanOptions
	c := &cobra.Command{
		Use:   "scan --company ID [--source LABEL] [--include-external] [--output table|json] FILE...|-",
		Short: "which of the company's secret values occur in a transcript or log (one recorded scan per file)",
		Long: "Sends each FILE (- for stdin) to the server, which looks for every version of every secret of the company " +
			"that can still be read (deleted secrets' included; external references with --include-external) as raw " +
			"bytes, base64, base64url, URL, JSON-string and hex, and answers, per secret, version and encoding, how often " +
			"and where first; never a value. Every scan is recorded, its findings in each secret's `audit exposure`. " +
			"A file whose request would exceed 16 MiB is refused before anything is sent: split it. Text that is not " +
			"UTF-8 is sent with its invalid bytes replaced, so offsets after them shift.\n\n" +
			"Exit status: 0 nothing found, 4 something found, 1 an error (the other files are still scanned), 2 usage.\n\n" + clientHelp,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usage.Error{Err: errors.New("name at least one FILE, or - for stdin")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, files []string) error {
			if err := needCompany(o.company); err != nil {
				return err
			}
			format, err := env.outputFormat(o.output)
			if err != nil {
				return err
			}
			return runScans(c.Context(), env, o, format, files)
		},
	}
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.source, "source", "", `the label recorded with each scan (default "file NAME", or "stdin")`)
	c.Flags().BoolVar(&o.includeExternal, "include-external", false, "also read and look for the values of external references")
	addOutputFlag(c, &o.output)
	return c
}

// runScans scans each file in turn; a file that fails is reported and the others are
// still scanned.
func runScans(ctx context.Context, env *environment, o scanOptions, format string, files []string) error {
	found, failed := false, false
	for _, name := range files {
		n, err := scanOne(ctx, env, o, format, name)
		if err != nil {
			fmt.Fprintf(env.stderr, "secretsledger scan: %s: %v\n", name, err)
			failed = true
		}
		found = found || n > 0
	}
	switch {
	case failed:
		return exitWith(exitFailure)
	case found:
		return exitWith(exitFound)
	}
	return nil
}

// scanOne sends one file and prints the answer; it returns the number of findings.
func scanOne(ctx context.Context, env *environment, o scanOptions, format, name string) (int, error) {
	text, err := readScanInput(env, name)
	if err != nil {
		return 0, err
	}
	in := apiclient.LeakScanRequest{Source: o.source, Text: string(text), IncludeExternal: o.includeExternal}
	if in.Source == "" {
		in.Source = "file " + filepath.Base(name)
		if name == "-" {
			in.Source = "stdin"
		}
	}
	if body, err := json.Marshal(in); err != nil || len(body) > maxScanBody {
		return 0, fmt.Errorf("the scan's request would be over the server's limit of %d bytes (16 MiB): split the file", maxScanBody)
	}
	var findings int
	err = withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		scan, a, err := c.api.LeakScan(ctx, o.company, in)
		if err != nil {
			return err
		}
		findings = len(scan.Findings)
		if format != outputTable {
			c.print(a.Body)
			return nil
		}
		return scanRows(env.stdout, name, scan)
	})
	return findings, err
}

// readScanInput reads a file (or stdin), refusing one over the limit before reading
// more than it.
func readScanInput(env *environment, name string) ([]byte, error) {
	var r io.Reader = env.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	text, err := io.ReadAll(io.LimitReader(r, maxScanBody+1))
	if err != nil {
		return nil, err
	}
	if len(text) > maxScanBody {
		return nil, fmt.Errorf("larger than the server's limit of %d bytes (16 MiB) for one scan: split it", maxScanBody)
	}
	return text, nil
}

func scanRows(w io.Writer, name string, s apiclient.LeakScan) error {
	title := fmt.Sprintf("%s: scan %s (%q, %d bytes): %d values checked, %d too short, %d external skipped, %d unreadable",
		name, s.ScanID, s.Source, s.Bytes, s.ValuesChecked, s.SkippedShort, s.ExternalSkipped, s.DecryptFailed)
	if s.Truncated {
		title += "; TRUNCATED (counts are lower bounds)"
	}
	if len(s.Findings) == 0 {
		_, err := fmt.Fprintln(w, title+"; nothing found")
		return err
	}
	return tableOf(w, title, s.Findings, []column{{"SECRET", "secretId"}, {"KEY", "key"}, {"VERSION", "version"},
		{"ENCODING", "encoding"}, {"OCCURRENCES", "occurrences"}, {"LINE", "line"}, {"COLUMN", "column"}, {"OFFSET", "offset"}})
}
