package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// exportTimeout bounds an export, which may stream up to a million events.
const exportTimeout = 10 * time.Minute

type auditOptions struct {
	company, secret, targetType, targetID, from, to, at, format, output string
	position                                                            int64
}

func newAuditCmd(env *environment) *cobra.Command {
	c := newGroup(env, "audit", "who could read what, and when: answers folded from the event log, through the API")
	c.Long = "Every answer is computed from the event log itself (never from the read models), so a deleted or purged " +
		"secret's history is answered in full, and each answer says the log position it was computed at.\n\n" + clientHelp
	var o auditOptions
	c.AddCommand(newAuditExposureCmd(env, &o), newAuditConsumerCmd(env, &o), newAuditStateCmd(env, &o), newAuditExportCmd(env, &o))
	return c
}

// addWindowFlags are --from and --to of the audit verbs that answer over a window.
func addWindowFlags(cmd *cobra.Command, o *auditOptions) {
	cmd.Flags().StringVar(&o.from, "from", "", "start of the window (RFC 3339; default: the beginning of the log)")
	cmd.Flags().StringVar(&o.to, "to", "", "end of the window (RFC 3339; default: now)")
}

func newAuditExposureCmd(env *environment, o *auditOptions) *cobra.Command {
	exposure := &cobra.Command{
		Use:   "exposure --secret ID [--from T1] [--to T2] [--output table|json]",
		Short: "every consumer bound to a secret in the window, what it resolved to, who read it, which agent keys could act",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if o.secret == "" {
				return usageError{errors.New("pass --secret ID")}
			}
			return runAuditQuery(c.Context(), env, "/api/secrets/"+url.PathEscape(o.secret)+"/exposure", *o, exposureRows)
		},
	}
	exposure.Flags().StringVar(&o.secret, "secret", "", "the secret's id")
	addWindowFlags(exposure, o)
	addOutputFlag(exposure, &o.output)
	return exposure
}

func newAuditConsumerCmd(env *environment, o *auditOptions) *cobra.Command {
	consumer := &cobra.Command{
		Use:   "consumer --company ID --target-type T --target-id I [--from T1] [--to T2] [--output table|json]",
		Short: "what one consumer could read in the window, and what it read",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needCompany(o.company); err != nil {
				return err
			}
			if o.targetType == "" || o.targetID == "" {
				return usageError{errors.New("pass --target-type and --target-id")}
			}
			return runAuditQuery(c.Context(), env, "/api/companies/"+url.PathEscape(o.company)+"/consumers/"+
				url.PathEscape(o.targetType)+"/"+url.PathEscape(o.targetID)+"/exposure", *o, reachRows)
		},
	}
	addCompanyFlag(consumer, &o.company)
	consumer.Flags().StringVar(&o.targetType, "target-type", "", "the consumer's target type (agent, project, ...)")
	consumer.Flags().StringVar(&o.targetID, "target-id", "", "the consumer's target id")
	addWindowFlags(consumer, o)
	addOutputFlag(consumer, &o.output)
	return consumer
}

func newAuditStateCmd(env *environment, o *auditOptions) *cobra.Command {
	state := &cobra.Command{
		Use:   "state --company ID (--at T | --position P) [--output table|json]",
		Short: "the company's secrets, bindings, envs, agent keys, vaults and external-reference policy as they were",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needCompany(o.company); err != nil {
				return err
			}
			if (o.at == "") == (o.position == 0) {
				return usageError{errors.New("pass exactly one of --at and --position")}
			}
			return runAuditQuery(c.Context(), env, "/api/companies/"+url.PathEscape(o.company)+"/audit/state", *o, stateRows)
		},
	}
	addCompanyFlag(state, &o.company)
	state.Flags().StringVar(&o.at, "at", "", "as of this time (RFC 3339)")
	state.Flags().Int64Var(&o.position, "position", 0, "as of this log position")
	addOutputFlag(state, &o.output)
	return state
}

func newAuditExportCmd(env *environment, o *auditOptions) *cobra.Command {
	export := &cobra.Command{
		Use:   "export --company ID [--from T1] [--to T2] [--secret ID] [--format jsonl|csv]",
		Short: "the company's timeline with actors and request ids; jsonl carries the signed checkpoint for verify --export",
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needCompany(o.company); err != nil {
				return err
			}
			if o.format != "jsonl" && o.format != "csv" {
				return usageError{errors.New("--format is jsonl or csv")}
			}
			return runAuditExport(c.Context(), env, *o)
		},
	}
	addCompanyFlag(export, &o.company)
	export.Flags().StringVar(&o.secret, "secret", "", "only this secret's events")
	export.Flags().StringVar(&o.format, "format", "jsonl", "jsonl (verifiable offline) or csv")
	addWindowFlags(export, o)
	return export
}

// auditQuery is the query string of o's window or cut.
func (o auditOptions) query() string {
	q := url.Values{}
	for k, v := range map[string]string{"from": o.from, "to": o.to, "at": o.at, "secretId": o.secret} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.position > 0 {
		q.Set("position", strconv.FormatInt(o.position, 10))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// runAuditQuery prints an audit answer as JSON, or as the tables rows makes of it.
func runAuditQuery(ctx context.Context, env *environment, path string, o auditOptions,
	rows func(w io.Writer, answer map[string]any) error) error {
	format, err := env.outputFormat(o.output)
	if err != nil {
		return err
	}
	if o.secret != "" && strings.Contains(path, "/audit/") {
		o.secret = ""
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		raw, err := c.do(ctx, http.MethodGet, path+o.query(), nil)
		if err != nil {
			return err
		}
		if format != outputTable {
			c.print(raw)
			return nil
		}
		var answer map[string]any
		if err := json.Unmarshal(raw, &answer); err != nil {
			return fmt.Errorf("unexpected answer from the ledger: %w", err)
		}
		return rows(env.stdout, answer)
	})
}

// table prints rows (maps of field to value) under columns.
func table(w io.Writer, title string, rows []map[string]any, columns []column) error {
	fmt.Fprintln(w, title)
	items := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		items[i], _ = json.Marshal(r)
	}
	if err := printTable(w, items, columns); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

func list(v any) []map[string]any {
	var out []map[string]any
	items, _ := v.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// spans is "1 (from → to), 2 (from → now)" for version spans, compact for a table.
func spans(v any) string {
	var parts []string
	for _, s := range list(v) {
		parts = append(parts, fmt.Sprintf("v%v", s["version"]))
	}
	return strings.Join(parts, " ")
}

func failureCount(v any) string {
	var parts []string
	for _, f := range list(v) {
		parts = append(parts, fmt.Sprintf("%v×%v", f["outcome"], f["count"]))
	}
	return strings.Join(parts, ",")
}

func activeKeys(v any) string {
	var parts []string
	for _, k := range list(v) {
		state := "revoked"
		if k["revokedAt"] == nil {
			state = "active"
		}
		parts = append(parts, fmt.Sprintf("%v(%s)", k["keyId"], state))
	}
	return strings.Join(parts, ",")
}

func exposureRows(w io.Writer, a map[string]any) error {
	var status []string
	for _, s := range list(a["status"]) {
		status = append(status, fmt.Sprint(s["status"]))
	}
	var rows []map[string]any
	for _, c := range list(a["consumers"]) {
		reads, _ := c["reads"].(map[string]any)
		row := map[string]any{"consumer": fmt.Sprintf("%v/%v", c["targetType"], c["targetId"]), "reads": reads["count"],
			"lastRead": reads["last"], "readVersions": reads["versions"], "failed": failureCount(c["failures"]),
			"keys": activeKeys(c["agentKeys"])}
		bindings := list(c["bindings"])
		if len(bindings) == 0 {
			rows = append(rows, row)
		}
		for _, b := range bindings {
			r := map[string]any{}
			for k, v := range row {
				r[k] = v
			}
			r["path"], r["selector"], r["bound"], r["unbound"], r["meant"] = b["configPath"], b["versionSelector"], b["createdAt"], b["removedAt"], spans(b["versions"])
			rows = append(rows, r)
		}
	}
	return table(w, fmt.Sprintf("secret %v (%v), status %s; computed at log position %v", a["secretId"], a["name"],
		strings.Join(status, " → "), a["position"]), rows, []column{{"CONSUMER", "consumer"}, {"CONFIG PATH", "path"},
		{"SELECTOR", "selector"}, {"BOUND", "bound"}, {"UNBOUND", "unbound"}, {"MEANT", "meant"}, {"READS", "reads"},
		{"VERSIONS READ", "readVersions"}, {"LAST READ", "lastRead"}, {"FAILED", "failed"}, {"AGENT KEYS", "keys"}})
}

func reachRows(w io.Writer, a map[string]any) error {
	var rows []map[string]any
	for _, s := range list(a["secrets"]) {
		reads, _ := s["reads"].(map[string]any)
		status := "-"
		if st := list(s["status"]); len(st) > 0 {
			status = fmt.Sprint(st[len(st)-1]["status"])
		}
		row := map[string]any{"secret": s["secretId"], "name": s["name"], "status": status, "reads": reads["count"],
			"lastRead": reads["last"], "readVersions": reads["versions"], "failed": failureCount(s["failures"])}
		bindings := list(s["bindings"])
		if len(bindings) == 0 {
			rows = append(rows, row)
		}
		for _, b := range bindings {
			r := map[string]any{}
			for k, v := range row {
				r[k] = v
			}
			r["path"], r["bound"], r["unbound"], r["meant"] = b["configPath"], b["createdAt"], b["removedAt"], spans(b["versions"])
			rows = append(rows, r)
		}
	}
	err := table(w, fmt.Sprintf("consumer %v/%v; computed at log position %v; unbound attempts %s; agent keys %s",
		a["targetType"], a["targetId"], a["position"], orDash(failureCount(a["unbound"])), orDash(activeKeys(a["agentKeys"]))),
		rows, []column{{"SECRET", "secret"}, {"NAME", "name"}, {"STATUS", "status"}, {"CONFIG PATH", "path"}, {"BOUND", "bound"},
			{"UNBOUND", "unbound"}, {"MEANT", "meant"}, {"READS", "reads"}, {"VERSIONS READ", "readVersions"},
			{"LAST READ", "lastRead"}, {"FAILED", "failed"}})
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stateRows(w io.Writer, a map[string]any) error {
	fmt.Fprintf(w, "company %v as of log position %v\n\n", a["companyId"], a["position"])
	if err := table(w, "SECRETS", list(a["secrets"]), []column{{"ID", "id"}, {"NAME", "name"}, {"KEY", "key"},
		{"PROVIDER", "provider"}, {"STATUS", "status"}, {"VERSION", "currentVersion"}, {"SINCE", "statusChangedAt"}}); err != nil {
		return err
	}
	if err := table(w, "BINDINGS", list(a["bindings"]), []column{{"ID", "bindingId"}, {"SECRET", "secretId"},
		{"TARGET TYPE", "targetType"}, {"TARGET", "targetId"}, {"CONFIG PATH", "configPath"}, {"SELECTOR", "versionSelector"},
		{"SINCE", "createdAt"}}); err != nil {
		return err
	}
	var envs []map[string]any
	for _, e := range list(a["envs"]) {
		var keys []string
		for _, k := range list(e["keys"]) {
			keys = append(keys, fmt.Sprintf("%v:%v", k["key"], k["type"]))
		}
		envs = append(envs, map[string]any{"consumer": fmt.Sprintf("%v/%v", e["targetType"], e["targetId"]),
			"keys": strings.Join(keys, ","), "setAt": e["setAt"]})
	}
	if err := table(w, "ENVS", envs, []column{{"CONSUMER", "consumer"}, {"KEYS", "keys"}, {"SET", "setAt"}}); err != nil {
		return err
	}
	if err := table(w, "AGENT KEYS", list(a["agentKeys"]), []column{{"ID", "keyId"}, {"TARGET TYPE", "targetType"},
		{"TARGET", "targetId"}, {"ISSUED", "issuedAt"}, {"REVOKED", "revokedAt"}}); err != nil {
		return err
	}
	if err := table(w, "VAULTS", list(a["vaults"]), []column{{"ID", "id"}, {"PROVIDER", "provider"}, {"NAME", "displayName"},
		{"STATUS", "status"}, {"DEFAULT", "isDefault"}}); err != nil {
		return err
	}
	return policyRows(w, a["externalPolicy"])
}

// policyRows prints the external-reference policy of a state: one row per approval.
func policyRows(w io.Writer, v any) error {
	p, ok := v.(map[string]any)
	if !ok {
		fmt.Fprintln(w, "EXTERNAL POLICY\nnone set: no external references approved for this company (but LEDGER_AWS_EXTERNAL_PREFIXES)")
		return nil
	}
	var rows []map[string]any
	for _, kind := range []struct{ name, field string }{{"prefix", "prefixes"}, {"reference", "references"},
		{"region", "regions"}, {"namespace", "namespaces"}} {
		items, _ := p[kind.field].([]any)
		for _, it := range items {
			rows = append(rows, map[string]any{"kind": kind.name, "value": it})
		}
	}
	fmt.Fprintf(w, "external policy set %v by %v\n", p["setAt"], p["setBy"])
	return table(w, "EXTERNAL POLICY", rows, []column{{"APPROVES", "kind"}, {"VALUE", "value"}})
}

// runAuditExport streams the export to stdout: the server's JSON lines as they are, or
// CSV (one row per event, for spreadsheets; only JSON lines can be verified).
func runAuditExport(ctx context.Context, env *environment, o auditOptions) error {
	c, err := newCaller(env)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, exportTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/companies/"+url.PathEscape(o.company)+"/audit/export"+o.query(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the ledger at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
	}
	if o.format == "jsonl" {
		_, err = io.Copy(env.stdout, resp.Body)
		return err
	}
	return exportCSV(env.stdout, resp.Body)
}

func exportCSV(w io.Writer, r io.Reader) error {
	cw := csv.NewWriter(w)
	columns := []string{"position", "recordedAt", "type", "streamId", "companyId", "actor", "requestId", "correlationId",
		"causationId", "payload", "hash"}
	if err := cw.Write(columns); err != nil {
		return err
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("unexpected export line: %w", err)
		}
		if line["kind"] != "event" {
			continue
		}
		row := make([]string, len(columns))
		for i, col := range columns {
			if v, ok := line[col]; ok && v != nil {
				row[i] = fmt.Sprint(v)
				if f, ok := v.(float64); ok {
					row[i] = strconv.FormatFloat(f, 'f', -1, 64)
				}
			}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := sc.Err(); err != nil {
		return err
	}
	return cw.Error()
}
