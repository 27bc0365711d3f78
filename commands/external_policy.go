package commands

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/events"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Reasons (ledgererr.Error.Reason) of the external-reference policy's refusals.
// ReasonExternalNotApproved is also the outcome of a resolution it stops.
// WARNING: persisted in secret.accessed and external_reference.refused events.
const (
	ReasonExternalNotApproved   = events.OutcomeExternalNotApproved
	ReasonPolicyInstanceOnly    = "external_policy_instance_only"
	ReasonVaultRegionRefused    = "vault_region_not_approved"
	ReasonVaultNamespaceRefused = "vault_namespace_not_approved"
)

// Bounds of an external-reference policy.
const (
	MaxPolicyPrefixes   = 100
	MaxPolicyReferences = 1000
	MaxPolicyRegions    = 32
	MaxPolicyNamespaces = 100
	MaxPolicyPrefix     = 512 // an AWS secret name is at most 512 characters
)

// AnyExternalRef is the instance-wide approval of every reference outside a managed
// namespace (LEDGER_AWS_EXTERNAL_PREFIXES=*); a company's own policy cannot hold it.
const AnyExternalRef = "*"

var (
	policyPrefix    = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)
	policyReference = regexp.MustCompile(`^[A-Za-z0-9/_+=.@:-]+$`)
)

// ExternalPolicy is what an instance operator approved a company to link from outside
// the ledger: references whose name starts with one of Prefixes, exactly the References,
// and AWS provider vaults in Regions with a namespace in Namespaces.
type ExternalPolicy struct {
	Prefixes, References, Regions, Namespaces []string
}

// policyState is a company's policy folded from its stream; set is false until the
// first external_policy.set.
type policyState struct {
	set           bool
	policy        ExternalPolicy
	streamVersion int64
}

func (s *policyState) apply(e eventstore.Event) error {
	p, err := events.Decode(e)
	if err != nil {
		return err
	}
	s.streamVersion = e.StreamVersion
	return policyFold.Apply(s, e, p)
}

// policyFold is what a company's policy does with each event of its stream.
var policyFold = events.Dispatch[*policyState]{
	Name:    "commands: policyState",
	Streams: []string{events.ExternalPolicyStreamPrefix},
	Handle: map[string]events.Handler[*policyState]{
		events.ExternalPolicySet: events.On(func(s *policyState, _ eventstore.Event, p *events.ExternalPolicySetV1) {
			s.set = true
			s.policy = ExternalPolicy{Prefixes: p.Prefixes, References: p.References, Regions: p.Regions, Namespaces: p.Namespaces}
		}),
	},
}

func (s *policyState) version() int64 { return s.streamVersion }

// copied shares the lists: a fold replaces them whole, never edits them in place.
func (s *policyState) copied() policyState { return *s }

// SetExternalPolicy replaces a company's whole external-reference policy. Version, when
// not nil, is the policy stream's version the caller read (0: never set): another
// version is a conflict.
type SetExternalPolicy struct {
	CompanyID string
	Policy    ExternalPolicy
	Version   *int64
}

// Policies handles the companies' external-reference policies: SetPolicy and
// ApproveHeld.
type Policies struct {
	rt *Runtime
}

// PolicyResult is what setting a policy wrote.
type PolicyResult struct {
	Position int64
	Version  int64
	Replayed bool
}

// checkPolicyActor admits instance-wide board tokens only: a token limited to some
// companies must not widen what its own company may read.
func checkPolicyActor(a actor.Actor, companyID string) error {
	switch {
	case a.Type != actor.Board:
		return ledgererr.New(ledgererr.Forbidden, "the external-reference policy is set with board tokens")
	case !a.CanAccess(companyID):
		return errCompanyNotFound
	case a.Companies != nil:
		return ledgererr.WithReason(ledgererr.Forbidden, ReasonPolicyInstanceOnly,
			"the external-reference policy is set with an instance-wide board token; this token is limited to some companies")
	}
	return nil
}

// decidePolicy validates and normalises a policy: lists trimmed, deduplicated and
// bounded, every entry made of the characters AWS allows in secret names (and ':' in
// references, for ARNs), regions and namespaces as an AWS vault's config takes them.
func decidePolicy(p ExternalPolicy) (ExternalPolicy, error) {
	var err error
	out := ExternalPolicy{}
	if out.Prefixes, err = policyList("prefixes", p.Prefixes, MaxPolicyPrefixes, policyEntry(policyPrefix, MaxPolicyPrefix)); err != nil {
		return out, err
	}
	if out.References, err = policyList("references", p.References, MaxPolicyReferences, policyEntry(policyReference, MaxExternalRef)); err != nil {
		return out, err
	}
	if out.Regions, err = policyList("regions", p.Regions, MaxPolicyRegions, configKeys[providers.AWSSecretsManager]["region"]); err != nil {
		return out, err
	}
	if out.Namespaces, err = policyList("namespaces", p.Namespaces, MaxPolicyNamespaces, configKeys[providers.AWSSecretsManager]["namespace"]); err != nil {
		return out, err
	}
	return out, nil
}

// policyEntry is the rule of a prefix or reference: the characters of re, at most n.
func policyEntry(re *regexp.Regexp, n int) configRule {
	return func(s string) string {
		switch {
		case strings.Contains(s, AnyExternalRef):
			return "holds '*': approve prefixes by name (only the instance's LEDGER_*_EXTERNAL_PREFIXES take *)"
		case len(s) > n:
			return "is longer than " + strconv.Itoa(n) + " characters"
		case !re.MatchString(s):
			return "holds a character AWS does not allow in a secret name"
		}
		return ""
	}
}

// policyList trims, checks and deduplicates one list of a policy.
func policyList(field string, in []string, limit int, rule configRule) ([]string, error) {
	if len(in) > limit {
		return nil, ledgererr.New(ledgererr.Invalid, "%s: at most %d entries", field, limit)
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			return nil, ledgererr.New(ledgererr.Invalid, "%s: an entry is empty", field)
		}
		if why := rule(s); why != "" {
			return nil, ledgererr.New(ledgererr.Invalid, "%s: %.80q %s", field, s, why)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// SetPolicy runs SetExternalPolicy: one external_policy.set event with the whole new
// policy, appended with the stream version it was decided on.
func (h *Policies) SetPolicy(ctx context.Context, req Request, c SetExternalPolicy) (PolicyResult, error) {
	if err := checkPolicyActor(req.Actor, c.CompanyID); err != nil {
		return PolicyResult{}, err
	}
	p, err := decidePolicy(c.Policy)
	if err != nil {
		return PolicyResult{}, err
	}
	if res, ok, err := h.rt.log.Idempotent(ctx, c.CompanyID, req.Idempotency); ok || err != nil {
		return PolicyResult{Position: res.LastPosition, Version: res.StreamVersion, Replayed: ok}, err
	}
	return decideAgain(ctx, h.rt, func(ctx context.Context) (PolicyResult, error) {
		st, err := h.rt.loadPolicy(ctx, c.CompanyID)
		if err != nil {
			return PolicyResult{}, err
		}
		if c.Version != nil && *c.Version != st.streamVersion {
			return PolicyResult{}, ledgererr.New(ledgererr.Conflict,
				"the policy is at version %d, not %d: read it again and decide on that", st.streamVersion, *c.Version)
		}
		evt, err := events.New(events.ExternalPolicySet, c.CompanyID, events.ExternalPolicySetV1{Prefixes: p.Prefixes,
			References: p.References, Regions: p.Regions, Namespaces: p.Namespaces}, req.metadata())
		if err != nil {
			return PolicyResult{}, err
		}
		res, err := h.rt.append(ctx, eventstore.Append{Stream: events.ExternalPolicyStream(c.CompanyID), Expected: st.streamVersion,
			Events: []eventstore.EventData{evt}, Idempotency: req.Idempotency})
		return PolicyResult{Position: res.LastPosition, Version: res.StreamVersion, Replayed: res.Replayed}, err
	})
}

// loadPolicy returns a company's policy from memory (or the log).
func (rt *Runtime) loadPolicy(ctx context.Context, companyID string) (policyState, error) {
	return rt.mem.policies.get(ctx, events.ExternalPolicyStream(companyID), rt.foldAfter)
}

// approves reports whether the company's policy, or the instance's approved prefixes,
// approve a reference. name is the secret name the reference denotes (an ARN's name,
// see ExternalRefs); refName gives it for an approved exact reference.
func (s policyState) approves(instance []string, ref string, refName func(string) string) bool {
	name := refName(ref)
	for _, pre := range instance {
		if pre == AnyExternalRef || strings.HasPrefix(name, pre) {
			return true
		}
	}
	for _, pre := range s.policy.Prefixes {
		if strings.HasPrefix(name, pre) {
			return true
		}
	}
	for _, r := range s.policy.References {
		if r == ref || refName(r) == name {
			return true
		}
	}
	return false
}

// decideExternalRef is the policy's decision on one external reference of a company:
// nil when it is approved, else a refusal with ReasonExternalNotApproved.
func decideExternalRef(s policyState, instance []string, ref string, refName func(string) string) error {
	if s.approves(instance, ref, refName) {
		return nil
	}
	if s.approvesNothing(instance) {
		return errNothingApproved()
	}
	return ledgererr.WithReason(ledgererr.Invalid, ReasonExternalNotApproved,
		"%.200q is not under an external prefix approved for this company (PUT /api/companies/{companyId}/external-policy "+
			"or the instance's LEDGER_AWS_EXTERNAL_PREFIXES / LEDGER_VAULT_EXTERNAL_PREFIXES)", ref)
}

// errNothingApproved is the refusal of every external reference and remote import of a
// company for which nothing is approved.
func errNothingApproved() error {
	return ledgererr.WithReason(ledgererr.Invalid, ReasonExternalNotApproved,
		"no external references are approved for this company: an instance operator approves prefixes with "+
			"PUT /api/companies/{companyId}/external-policy (or LEDGER_AWS_EXTERNAL_PREFIXES / LEDGER_VAULT_EXTERNAL_PREFIXES for every company)")
}

// approvesNothing reports whether no reference at all is approved for the company.
func (s policyState) approvesNothing(instance []string) bool {
	return len(instance) == 0 && len(s.policy.Prefixes) == 0 && len(s.policy.References) == 0
}

// decideVaultPolicy is the policy's decision on an AWS vault's config: a company with a
// policy has its AWS vaults in the approved regions, with an approved namespace or none
// (a vault without one has its own id as namespace, which no other vault shares). A
// company without a policy is not restricted here, except that a token limited to
// companies (limited) names no namespace an operator did not approve, and never a name
// prefix: every vault's "<prefix>/<namespace>/" is managed for the whole instance, so a
// tenant choosing them could spell another company's approved prefix and stop its
// references.
func decideVaultPolicy(s policyState, provider string, cfg map[string]string, limited bool) error {
	if provider != providers.AWSSecretsManager {
		return nil
	}
	if _, ok := cfg["secretNamePrefix"]; ok && limited {
		// The prefix joins the namespace in every managed name, and no policy approves one.
		return ledgererr.WithReason(ledgererr.Invalid, ReasonVaultNamespaceRefused,
			"config.secretNamePrefix: a token limited to companies does not set an AWS vault's name prefix (the deployment's "+
				"is used); an instance-wide token may")
	}
	if !s.set {
		if ns, ok := cfg["namespace"]; ok && limited {
			return ledgererr.WithReason(ledgererr.Invalid, ReasonVaultNamespaceRefused,
				"config.namespace %q: a token limited to companies names an AWS vault's namespace only when an instance "+
					"operator approved it in the company's external-reference policy (without one, the vault's id is its namespace)", ns)
		}
		return nil
	}
	if !slices.Contains(s.policy.Regions, cfg["region"]) {
		return ledgererr.WithReason(ledgererr.Invalid, ReasonVaultRegionRefused,
			"config.region %q is not a region approved for this company's AWS vaults (its external-reference policy)", cfg["region"])
	}
	if ns, ok := cfg["namespace"]; ok && !slices.Contains(s.policy.Namespaces, ns) {
		return ledgererr.WithReason(ledgererr.Invalid, ReasonVaultNamespaceRefused,
			"config.namespace %q is not a namespace approved for this company's AWS vaults (its external-reference policy)", ns)
	}
	return nil
}

// CheckInstancePrefixes checks the prefixes of LEDGER_AWS_EXTERNAL_PREFIXES (a
// comma-separated list): either AnyExternalRef alone, or prefixes as a company's policy
// takes them. It returns them normalised.
func CheckInstancePrefixes(list string) ([]string, error) {
	var in []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			in = append(in, s)
		}
	}
	if len(in) == 1 && in[0] == AnyExternalRef {
		return in, nil
	}
	return policyList("prefixes", in, MaxPolicyPrefixes, policyEntry(policyPrefix, MaxPolicyPrefix))
}
