package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
)

// tailPoll is how often `events tail --follow` asks for more.
const tailPoll = 500 * time.Millisecond

func newEventsCmd(env *environment) *cobra.Command {
	c := newGroup(env, "events", "a company's events from the log, through the API")
	var o eventsTailOptions
	tail := &cobra.Command{
		Use:   "tail --company ID [--from-position N] [--follow]",
		Short: "print a company's events: JSON lines (the published envelope), or a table of position, time, type, actor and request id",
		Long: "Print a company's events from the log, oldest first. JSON output is one envelope per line, as subscribers " +
			"receive it; the table shows position, time, type, actor and request id.\n\n" + clientHelp,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runEventsTail(c.Context(), env, o)
		},
	}
	addCompanyFlag(tail, &o.company)
	tail.Flags().Int64Var(&o.from, "from-position", 0, "print events after this log position")
	tail.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing new events until interrupted")
	addOutputFlag(tail, &o.output)
	c.AddCommand(tail)
	return c
}

type eventsTailOptions struct {
	company, output string
	from            int64
	follow          bool
}

func runEventsTail(ctx context.Context, env *environment, o eventsTailOptions) error {
	if err := needCompany(o.company); err != nil {
		return err
	}
	format, err := env.outputFormat(o.output)
	if err != nil {
		return err
	}
	c, err := newCaller(env)
	if err != nil {
		return err
	}
	var tw *tabwriter.Writer
	if format == outputTable {
		tw = tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "POSITION\tTIME\tTYPE\tACTOR\tREQUEST")
	}
	after := o.from
	for {
		page, err := c.events(ctx, o.company, after)
		if err != nil {
			return err
		}
		for _, e := range page {
			if tw != nil {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.Position, eventTime(e.RecordedAt), e.Type,
					cell(strings.Trim(e.ActorType+"/"+e.ActorID, "/")), cell(e.RequestID))
			} else {
				line, _ := json.Marshal(e)
				fmt.Fprintln(env.stdout, string(line))
			}
			after = e.Position
		}
		if tw != nil {
			_ = tw.Flush() // a table row per page, so that --follow shows events as they come
		}
		if len(page) == 0 && !o.follow {
			return nil
		}
		if len(page) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(tailPoll):
			}
		}
	}
}

// events reads one page of a company's events from the API.
func (c *apiCaller) events(ctx context.Context, company string, after int64) ([]apiclient.EventEnvelope, error) {
	ctx, cancel := context.WithTimeout(ctx, clientTimeout)
	defer cancel()
	page, _, err := c.api.ListCompanyEvents(ctx, company, url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {"1000"}})
	return page.Items, err
}

// eventTime is an event's recording time for a table, in UTC to the second.
func eventTime(recordedAt string) string {
	t, err := time.Parse(time.RFC3339Nano, recordedAt)
	if err != nil {
		return recordedAt
	}
	return t.UTC().Format(time.RFC3339)
}
