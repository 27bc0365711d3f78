package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
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
				return usage.Error{Err: errors.New("pass --secret ID")}
			}
			return runAuditQuery(c.Context(), env, *o, func(ctx context.Context, api *apiclient.Client, q url.Values) (apiclient.SecretExposure, *apiclient.Answer, error) {
				return api.SecretExposure(ctx, o.secret, q)
			}, exposureRows)
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
				return usage.Error{Err: errors.New("pass --target-type and --target-id")}
			}
			return runAuditQuery(c.Context(), env, *o, func(ctx context.Context, api *apiclient.Client, q url.Values) (apiclient.ConsumerReach, *apiclient.Answer, error) {
				return api.ConsumerExposure(ctx, o.company, o.targetType, o.targetID, q)
			}, reachRows)
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
				return usage.Error{Err: errors.New("pass exactly one of --at and --position")}
			}
			return runAuditQuery(c.Context(), env, *o, func(ctx context.Context, api *apiclient.Client, q url.Values) (apiclient.AuditState, *apiclient.Answer, error) {
				return api.AuditState(ctx, o.company, q)
			}, stateRows)
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
				return usage.Error{Err: errors.New("--format is jsonl or csv")}
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

// query is the query of o's window or cut.
func (o auditOptions) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"from": o.from, "to": o.to, "at": o.at, "secretId": o.secret} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.position > 0 {
		q.Set("position", strconv.FormatInt(o.position, 10))
	}
	return q
}

// runAuditQuery prints an audit answer as JSON, or as the tables rows makes of it.
func runAuditQuery[T any](ctx context.Context, env *environment, o auditOptions,
	fetch func(context.Context, *apiclient.Client, url.Values) (T, *apiclient.Answer, error), rows func(io.Writer, T) error) error {
	format, err := env.outputFormat(o.output)
	if err != nil {
		return err
	}
	return withCaller(ctx, env, func(ctx context.Context, c *apiCaller) error {
		answer, a, err := fetch(ctx, c.api, o.query())
		if err != nil {
			return err
		}
		if format != outputTable {
			c.print(a.Body)
			return nil
		}
		return rows(env.stdout, answer)
	})
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
	resp, err := c.api.AuditExport(ctx, o.company, o.query())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
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
