package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// The CLI client verbs talk to a running server over its HTTP API, as any operator
// tool would: they hold no database connection and no key. The URL defaults to the
// local instance's LEDGER_HTTP_ADDR (https when the server's TLS is configured), the
// token to LEDGER_TOKEN, else the instance's board.token file. A private CA is trusted
// through SSL_CERT_FILE, which Go's TLS client honours.

const clientTimeout = 30 * time.Second

// clientHelp is the part of every client verb's help that says which server it talks to.
const clientHelp = "LEDGER_URL (default http://$LEDGER_HTTP_ADDR, https:// with LEDGER_TLS_CERT_FILE) and LEDGER_TOKEN " +
	"(default: the instance's board.token) choose the server; SSL_CERT_FILE names the CA bundle to trust for a self-signed certificate."

// apiCaller is the API client of one verb and the streams it prints to.
type apiCaller struct {
	api *apiclient.Client
	env *environment
}

// newCaller returns a caller of the server serverAndToken names.
func newCaller(env *environment) (*apiCaller, error) {
	base, token, err := serverAndToken(env)
	if err != nil {
		return nil, err
	}
	return &apiCaller{api: apiclient.New(base, token, nil), env: env}, nil
}

// serverAndToken are the server LEDGER_URL names and the credential to call it with:
// LEDGER_TOKEN, else the instance's board token.
func serverAndToken(env *environment) (base, token string, err error) {
	base = serverURL(env)
	token = strings.TrimSpace(env.getenv("LEDGER_TOKEN"))
	if token == "" {
		b, err := os.ReadFile(filepath.Join(env.cfg.InstanceDir(), "board.token"))
		if err != nil {
			return "", "", usage.Error{Err: fmt.Errorf("no token: set LEDGER_TOKEN or start the server once to create %s", filepath.Join(env.cfg.InstanceDir(), "board.token"))}
		}
		token = strings.TrimSpace(string(b))
	}
	return base, token, nil
}

// serverURL is the server LEDGER_URL names, else the local instance's.
func serverURL(env *environment) string {
	base := env.getenv("LEDGER_URL")
	if base == "" {
		base = env.cfg.ClientURL()
	}
	return strings.TrimRight(base, "/")
}

// withCaller runs fn with a caller and the client timeout.
func withCaller(ctx context.Context, env *environment, fn func(context.Context, *apiCaller) error) error {
	c, err := newCaller(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	return fn(ctx, c)
}

// show prints a call's answer as the server wrote it, indented; an error answer is
// returned as an error with the server's message and code. It takes a typed call's
// three results as they come.
func (c *apiCaller) show(_ any, a *apiclient.Answer, err error) error {
	if err != nil {
		return err
	}
	c.print(a.Body)
	return nil
}

func (c *apiCaller) print(raw []byte) {
	var pretty bytes.Buffer
	if json.Indent(&pretty, raw, "", "  ") != nil {
		pretty.Write(raw)
	}
	fmt.Fprintln(c.env.stdout, pretty.String())
}

// listRaw follows a list's pages to the end and returns every item as the server wrote
// it (printed as they are, whatever members a newer server adds).
func listRaw[T any](q url.Values, list func(url.Values) (apiclient.Page[T], *apiclient.Answer, error)) ([]json.RawMessage, error) {
	var items []json.RawMessage
	_, err := apiclient.All(q, func(q url.Values) (apiclient.Page[T], *apiclient.Answer, error) {
		page, a, err := list(q)
		if err != nil {
			return page, a, err
		}
		var raw apiclient.Page[json.RawMessage]
		if err := json.Unmarshal(a.Body, &raw); err != nil {
			return page, a, fmt.Errorf("unexpected answer from the ledger: %w", err)
		}
		items = append(items, raw.Items...)
		return page, a, nil
	})
	if items == nil {
		items = []json.RawMessage{}
	}
	return items, err
}

// printList follows a list's pages and prints every item: as one JSON array, or as a
// table of columns.
func printList[T any](c *apiCaller, output string, columns []column, q url.Values,
	list func(url.Values) (apiclient.Page[T], *apiclient.Answer, error)) error {
	format, err := c.env.outputFormat(output)
	if err != nil {
		return err
	}
	items, err := listRaw(q, list)
	if err != nil {
		return err
	}
	if format == outputTable {
		return printTable(c.env.stdout, items, columns)
	}
	raw, err := json.Marshal(items)
	if err != nil {
		return err
	}
	c.print(raw)
	return nil
}

// column is one column of a table: its header and the JSON field of an item it shows.
type column struct{ header, field string }

// printTable prints items as aligned columns; a missing or null field shows as "-".
func printTable(w io.Writer, items []json.RawMessage, columns []column) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	headers := make([]string, len(columns))
	for i, col := range columns {
		headers[i] = col.header
	}
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, raw := range items {
		var item map[string]any
		if err := json.Unmarshal(raw, &item); err != nil {
			return fmt.Errorf("unexpected item from the ledger: %w", err)
		}
		cells := make([]string, len(columns))
		for i, col := range columns {
			cells[i] = cell(item[col.field])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// cell is one value as table text.
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return "-"
		}
		return strings.NewReplacer("\t", " ", "\n", " ").Replace(v)
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = cell(p)
		}
		if len(parts) == 0 {
			return "-"
		}
		return strings.Join(parts, ",")
	case float64:
		return fmt.Sprint(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

// valueSource is --value-env; read returns the value from that environment variable, or
// else from stdin. There is no flag that takes the value itself: a command line is
// visible to every user of the machine. On a terminal, stdin is read without echo after
// a prompt.
type valueSource struct {
	env string
}

func addValueFlags(c *cobra.Command, v *valueSource) {
	c.Flags().StringVar(&v.env, "value-env", "", "read the value from this environment variable")
}

func (v valueSource) read(env *environment, name string) (string, error) {
	if v.env != "" {
		val := env.getenv(v.env)
		if val == "" {
			return "", usage.Error{Err: fmt.Errorf("environment variable %s is empty or unset", v.env)}
		}
		return val, nil
	}
	var val string
	if env.stdinTTY {
		fmt.Fprintf(env.stderr, "Value for %s: ", name)
		b, err := env.readSecret()
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", fmt.Errorf("read the value from the terminal: %w", err)
		}
		val = string(b)
	} else {
		b, err := io.ReadAll(io.LimitReader(env.stdin, 1<<20))
		if err != nil {
			return "", fmt.Errorf("read the value from stdin: %w", err)
		}
		val = strings.TrimRight(string(b), "\r\n")
	}
	if val == "" {
		return "", usage.Error{Err: errors.New("no value: pass --value-env VAR or pipe the value on stdin")}
	}
	return val, nil
}
