package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

// The audit answers as tables: rows are built from the typed answers, keyed by the
// column each value shows in.

// table prints rows (maps of column field to value) under columns.
func table(w io.Writer, title string, rows []map[string]any, columns []column) error {
	items := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		items[i], _ = json.Marshal(r)
	}
	return titled(w, title, items, columns)
}

// tableOf prints API items under columns (their JSON members).
func tableOf[T any](w io.Writer, title string, items []T, columns []column) error {
	raw := make([]json.RawMessage, len(items))
	for i, it := range items {
		raw[i], _ = json.Marshal(it)
	}
	return titled(w, title, raw, columns)
}

func titled(w io.Writer, title string, items []json.RawMessage, columns []column) error {
	fmt.Fprintln(w, title)
	if err := printTable(w, items, columns); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

// spans is "v1 v2" for the versions a binding meant, compact for a table.
func spans(v []apiclient.AuditVersionSpan) string {
	var parts []string
	for _, s := range v {
		parts = append(parts, fmt.Sprintf("v%d", s.Version))
	}
	return strings.Join(parts, " ")
}

func failureCount(fs []apiclient.AuditFailures) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s×%d", f.Outcome, f.Count))
	}
	return strings.Join(parts, ",")
}

func activeKeys(ks []apiclient.AuditAgentKey) string {
	var parts []string
	for _, k := range ks {
		state := "revoked"
		if k.RevokedAt == nil {
			state = "active"
		}
		parts = append(parts, fmt.Sprintf("%s(%s)", k.KeyID, state))
	}
	return strings.Join(parts, ",")
}

// bindingRows is row once per binding (with the binding's columns), or alone when
// there is none.
func bindingRows(row map[string]any, bindings []apiclient.AuditBinding, withSelector bool) []map[string]any {
	if len(bindings) == 0 {
		return []map[string]any{row}
	}
	var rows []map[string]any
	for _, b := range bindings {
		r := map[string]any{}
		for k, v := range row {
			r[k] = v
		}
		r["path"], r["bound"], r["unbound"], r["meant"] = b.ConfigPath, b.CreatedAt, b.RemovedAt, spans(b.Versions)
		if withSelector {
			r["selector"] = b.VersionSelector
		}
		rows = append(rows, r)
	}
	return rows
}

func exposureRows(w io.Writer, a apiclient.SecretExposure) error {
	var status []string
	for _, s := range a.Status {
		status = append(status, s.Status)
	}
	var rows []map[string]any
	for _, c := range a.Consumers {
		row := map[string]any{"consumer": c.TargetType + "/" + c.TargetID, "reads": c.Reads.Count,
			"lastRead": c.Reads.Last, "readVersions": c.Reads.Versions, "failed": failureCount(c.Failures),
			"keys": activeKeys(c.AgentKeys)}
		rows = append(rows, bindingRows(row, c.Bindings, true)...)
	}
	if err := table(w, fmt.Sprintf("secret %s (%s), status %s; computed at log position %d", a.SecretID, a.Name,
		strings.Join(status, " → "), a.Position), rows, []column{{"CONSUMER", "consumer"}, {"CONFIG PATH", "path"},
		{"SELECTOR", "selector"}, {"BOUND", "bound"}, {"UNBOUND", "unbound"}, {"MEANT", "meant"}, {"READS", "reads"},
		{"VERSIONS READ", "readVersions"}, {"LAST READ", "lastRead"}, {"FAILED", "failed"}, {"AGENT KEYS", "keys"}}); err != nil {
		return err
	}
	if len(a.ReportedExposures) == 0 {
		_, err := fmt.Fprintln(w, "REPORTED EXPOSURES (leak scans): none")
		return err
	}
	return tableOf(w, "REPORTED EXPOSURES (leak scans)", a.ReportedExposures, []column{{"AT", "at"}, {"BY", "actor"},
		{"SCAN", "scanId"}, {"SOURCE", "source"}, {"VERSION", "version"}, {"ENCODING", "encoding"},
		{"OCCURRENCES", "occurrences"}, {"LINE", "line"}, {"OFFSET", "offset"}})
}

func reachRows(w io.Writer, a apiclient.ConsumerReach) error {
	var rows []map[string]any
	for _, s := range a.Secrets {
		status := "-"
		if len(s.Status) > 0 {
			status = s.Status[len(s.Status)-1].Status
		}
		row := map[string]any{"secret": s.SecretID, "name": s.Name, "status": status, "reads": s.Reads.Count,
			"lastRead": s.Reads.Last, "readVersions": s.Reads.Versions, "failed": failureCount(s.Failures)}
		rows = append(rows, bindingRows(row, s.Bindings, false)...)
	}
	return table(w, fmt.Sprintf("consumer %s/%s; computed at log position %d; unbound attempts %s; agent keys %s",
		a.TargetType, a.TargetID, a.Position, orDash(failureCount(a.Unbound)), orDash(activeKeys(a.AgentKeys))),
		rows, []column{{"SECRET", "secret"}, {"NAME", "name"}, {"STATUS", "status"}, {"CONFIG PATH", "path"}, {"BOUND", "bound"},
			{"UNBOUND", "unbound"}, {"MEANT", "meant"}, {"READS", "reads"}, {"VERSIONS READ", "readVersions"},
			{"LAST READ", "lastRead"}, {"FAILED", "failed"}})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func stateRows(w io.Writer, a apiclient.AuditState) error {
	fmt.Fprintf(w, "company %s as of log position %d\n\n", a.CompanyID, a.Position)
	if err := tableOf(w, "SECRETS", a.Secrets, []column{{"ID", "id"}, {"NAME", "name"}, {"KEY", "key"},
		{"PROVIDER", "provider"}, {"STATUS", "status"}, {"VERSION", "currentVersion"}, {"SINCE", "statusChangedAt"}}); err != nil {
		return err
	}
	if err := tableOf(w, "BINDINGS", a.Bindings, []column{{"ID", "bindingId"}, {"SECRET", "secretId"},
		{"TARGET TYPE", "targetType"}, {"TARGET", "targetId"}, {"CONFIG PATH", "configPath"}, {"SELECTOR", "versionSelector"},
		{"SINCE", "createdAt"}}); err != nil {
		return err
	}
	var envs []map[string]any
	for _, e := range a.Envs {
		var keys []string
		for _, k := range e.Keys {
			keys = append(keys, k.Key+":"+k.Type)
		}
		envs = append(envs, map[string]any{"consumer": e.TargetType + "/" + e.TargetID, "keys": strings.Join(keys, ","), "setAt": e.SetAt})
	}
	if err := table(w, "ENVS", envs, []column{{"CONSUMER", "consumer"}, {"KEYS", "keys"}, {"SET", "setAt"}}); err != nil {
		return err
	}
	if err := tableOf(w, "AGENT KEYS", a.AgentKeys, []column{{"ID", "keyId"}, {"TARGET TYPE", "targetType"},
		{"TARGET", "targetId"}, {"ISSUED", "issuedAt"}, {"REVOKED", "revokedAt"}}); err != nil {
		return err
	}
	if err := tableOf(w, "VAULTS", a.Vaults, []column{{"ID", "id"}, {"PROVIDER", "provider"}, {"NAME", "displayName"},
		{"STATUS", "status"}, {"DEFAULT", "isDefault"}}); err != nil {
		return err
	}
	return policyRows(w, a.ExternalPolicy)
}

// policyRows prints the external-reference policy of a state: one row per approval.
func policyRows(w io.Writer, p *apiclient.AuditExternalPolicy) error {
	if p == nil {
		fmt.Fprintln(w, "EXTERNAL POLICY\nnone set: no external references approved for this company (but LEDGER_AWS_EXTERNAL_PREFIXES)")
		return nil
	}
	var rows []map[string]any
	for _, kind := range []struct {
		name  string
		items []string
	}{{"prefix", p.Prefixes}, {"reference", p.References}, {"region", p.Regions}, {"namespace", p.Namespaces}} {
		for _, it := range kind.items {
			rows = append(rows, map[string]any{"kind": kind.name, "value": it})
		}
	}
	fmt.Fprintf(w, "external policy set %s by %s\n", p.SetAt, p.SetBy)
	return table(w, "EXTERNAL POLICY", rows, []column{{"APPROVES", "kind"}, {"VALUE", "value"}})
}
