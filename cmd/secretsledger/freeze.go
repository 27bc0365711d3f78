package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/apiclient"
	"github.com/secretsledger/secretsledger/cmd/secretsledger/internal/usage"
)

// freezeOptions are the flags of freeze and unfreeze: a company, or one of its
// consumers when both target flags are given.
type freezeOptions struct {
	company, targetType, targetID, reason string
	status                                bool
}

// check refuses a company missing, or half a consumer.
func (o freezeOptions) check() error {
	if err := needCompany(o.company); err != nil {
		return err
	}
	if (o.targetType == "") != (o.targetID == "") {
		return usage.Error{Err: errors.New("--target-type and --target-id go together (both name one consumer)")}
	}
	return nil
}

// consumer says whether the flags name one consumer rather than the company.
func (o freezeOptions) consumer() bool { return o.targetType != "" }

func addFreezeFlags(c *cobra.Command, o *freezeOptions) {
	addCompanyFlag(c, &o.company)
	c.Flags().StringVar(&o.targetType, "target-type", "", "freeze one consumer of the company: its type (agent, project, …)")
	c.Flags().StringVar(&o.targetID, "target-id", "", "freeze one consumer of the company: its id")
}

func newFreezeCmd(env *environment) *cobra.Command {
	var o freezeOptions
	c := &cobra.Command{
		Use:   "freeze --company ID [--target-type T --target-id I] --reason TEXT | freeze --status --company ID [--target-type T --target-id I]",
		Short: "stop every resolution of a company (or of one consumer) at once; --status shows the freeze",
		Long: "Freezing records an event after which every resolution of the company (or of the one consumer) is refused " +
			"with company_frozen (consumer_frozen), in every ledger process at once, and recorded like any attempt. " +
			"Keys stay valid: revoke them with `agent-keys revoke --all`. `unfreeze` lifts it.\n\n" + clientHelp,
		Args: exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			if o.status {
				if o.reason != "" {
					return usage.Error{Err: errors.New("--status takes no --reason")}
				}
				return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
					if o.consumer() {
						return api.show(api.api.GetConsumerFreeze(ctx, o.company, o.targetType, o.targetID))
					}
					return api.show(api.api.GetCompanyFreeze(ctx, o.company))
				})
			}
			if o.reason == "" {
				return usage.Error{Err: errors.New("--reason is required: say why, for the record")}
			}
			body := apiclient.FreezeRequest{Reason: o.reason}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				if o.consumer() {
					return api.show(api.api.FreezeConsumer(ctx, o.company, o.targetType, o.targetID, body))
				}
				return api.show(api.api.FreezeCompany(ctx, o.company, body))
			})
		},
	}
	addFreezeFlags(c, &o)
	c.Flags().StringVar(&o.reason, "reason", "", "why (recorded in the event; required)")
	c.Flags().BoolVar(&o.status, "status", false, "show whether it is frozen, why, since when and by whom; change nothing")
	return c
}

func newUnfreezeCmd(env *environment) *cobra.Command {
	var o freezeOptions
	c := &cobra.Command{
		Use:   "unfreeze --company ID [--target-type T --target-id I] [--reason TEXT]",
		Short: "lift a company's (or one consumer's) freeze",
		Long:  "Resolutions work again at once. A consumer frozen on its own stays frozen when its company is unfrozen.\n\n" + clientHelp,
		Args:  exactArgs(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			body := apiclient.UnfreezeRequest{Reason: o.reason}
			return withCaller(c.Context(), env, func(ctx context.Context, api *apiCaller) error {
				if o.consumer() {
					return api.show(api.api.UnfreezeConsumer(ctx, o.company, o.targetType, o.targetID, body))
				}
				return api.show(api.api.UnfreezeCompany(ctx, o.company, body))
			})
		},
	}
	addFreezeFlags(c, &o)
	c.Flags().StringVar(&o.reason, "reason", "", "why (recorded in the event)")
	return c
}
