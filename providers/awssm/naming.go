package awssm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
)

// Staging labels. WARNING: persisted at AWS (labels on secret versions).
const (
	// StagePending marks a version written by Put and not yet committed by the ledger.
	StagePending  = "PAPERCLIP_PENDING"
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
)

// Tag keys. WARNING: persisted at AWS (tags on every managed secret).
const (
	TagManagedBy     = "paperclip:managed-by"
	TagProviderOwner = "paperclip:provider-owner"
	TagDeploymentID  = "paperclip:deployment-id"
	TagCompanyID     = "paperclip:company-id"
	TagSecretKey     = "paperclip:secret-key"
	TagEnvironment   = "paperclip:environment"
	managedByValue   = "paperclip"
)

// maxNameLength is AWS's limit on a secret name.
const maxNameLength = 512

// Limits of the configured parts of a managed secret's name. With a company id (a UUID)
// and a key (at most 120 characters) the whole name stays well under maxNameLength.
const (
	MaxPrefixLength    = 64
	MaxNamespaceLength = 128
)

var (
	unsafeNameChars = regexp.MustCompile(`[^A-Za-z0-9/_+=.@-]`)
	nameChars       = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)
)

// CheckNamePath is the rule of a configured part of a secret name (a prefix, or a
// namespace: the deployment id of the deployment or of a vault): 1 to max of the
// characters AWS allows in a secret name, segments joined by single '/' (no leading,
// trailing or doubled '/'), none of them "." or "..". It returns what is wrong, "" when
// nothing is. It is the one rule for such a value: the ledger applies it where a vault
// is configured and again where its provider is built and every name is derived
// (Config.Validate, CheckTarget), so a value accepted once is usable at every use.
func CheckNamePath(path string, max int) string {
	if path == "" || len(path) > max || !nameChars.MatchString(path) {
		return fmt.Sprintf("must be 1 to %d of A-Z a-z 0-9 / _ + = . @ -", max)
	}
	for _, seg := range strings.Split(path, "/") {
		switch seg {
		case "":
			return "must not start or end with '/' nor hold '//'"
		case ".", "..":
			return "must not hold a '.' or '..' segment"
		}
	}
	return ""
}

// Sanitize replaces every character AWS does not allow in a secret name with '-'.
func Sanitize(segment string) string { return unsafeNameChars.ReplaceAllString(segment, "-") }

// Scope is where a managed secret lives: the provider's prefix and deployment and the
// ref's company and key.
type Scope struct {
	Prefix       string
	DeploymentID string
	CompanyID    string
	Key          string
}

// Name is the AWS secret name of the scope: <prefix>/<deploymentId>/<companyId>/<key>,
// each segment sanitised.
func (s Scope) Name() string {
	return Sanitize(s.Prefix) + "/" + Sanitize(s.DeploymentID) + "/" + Sanitize(s.CompanyID) + "/" + Sanitize(s.Key)
}

// arnPrefix matches the part of a secret ARN before its name.
var arnPrefix = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]*:[0-9]*:secret:`)

// errScope is the guardrail's refusal; its message is fixed (it names no target).
func errScope(detail string) error {
	return ledgererr.Wrap(&ProviderError{Op: "guardrail", Code: CodeScopeViolation, AWSCode: detail}, ledgererr.Forbidden,
		"aws_secrets_manager %s: the AWS secret name drifted outside the derived deployment/company scope; nothing was written", CodeScopeViolation)
}

// CheckTarget is the guardrail every AWS call passes first: target (a secret name or an
// ARN) must be the scope's derived name, optionally with the six-character suffix AWS
// adds to ARNs, and the derived name must stay inside <prefix>/<deploymentId>/<companyId>/:
// the prefix and the deployment id follow CheckNamePath (they may span segments), the
// company and the key are one segment each, and no segment is empty, "." or "..".
// Company ids are UUIDs, so a name splits into its parts from the right unambiguously.
// It is pure: the provider calls it before building any request.
func CheckTarget(target string, s Scope) error {
	prefix, deployment, company, key := Sanitize(s.Prefix), Sanitize(s.DeploymentID), Sanitize(s.CompanyID), Sanitize(s.Key)
	for _, part := range []struct {
		what, v string
		max     int
	}{{"prefix", prefix, MaxPrefixLength}, {"deployment id", deployment, MaxNamespaceLength},
		{"company id", company, maxNameLength}, {"key", key, maxNameLength}} {
		if problem := CheckNamePath(part.v, part.max); problem != "" {
			return errScope(part.what + " " + problem)
		}
	}
	for _, seg := range []struct{ what, v string }{{"company id", company}, {"key", key}} {
		if strings.Contains(seg.v, "/") {
			return errScope(seg.what + " spans several name segments")
		}
	}
	expected := s.Name()
	if len(expected) > maxNameLength {
		return errScope("name longer than AWS allows")
	}
	name := arnPrefix.ReplaceAllString(target, "")
	if name != expected && !(strings.HasPrefix(name, expected+"-") && arnSuffix.MatchString(name[len(expected)+1:])) {
		return errScope("target is not the derived name")
	}
	return nil
}

// arnSuffix is the random suffix AWS appends to a secret's name in its ARN.
var arnSuffix = regexp.MustCompile(`^[A-Za-z0-9]{6}$`)

// requestToken is the ClientRequestToken of one version's write: deterministic per
// deployment, company, secret, version and value (by its keyed fingerprint), so that a
// retried command is idempotent at AWS while a retry with another value after a
// discarded attempt gets a version of its own. It starts with the ledger version
// (zero-padded) so that Commit can tell a newer ledger version at AWSCURRENT from an
// older one; the rest is UUID-shaped. 47 characters (AWS allows 32–64).
func requestToken(deployment string, ref providers.Ref, fingerprint string) string {
	h := sha256.New()
	for _, f := range []string{"secretsledger aws request token v1", deployment, ref.CompanyID, ref.SecretID, strconv.Itoa(ref.Version), fingerprint} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	sum := h.Sum(nil)
	sum[6] = sum[6]&0x0f | 0x50 // version nibble 5: name-based, SHA
	sum[8] = sum[8]&0x3f | 0x80
	x := hex.EncodeToString(sum[:16])
	return fmt.Sprintf("%010d-%s-%s-%s-%s-%s", ref.Version, x[0:8], x[8:12], x[12:16], x[16:20], x[20:32])
}

var tokenPattern = regexp.MustCompile(`^([0-9]{10})-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// tokenVersion returns the ledger version a VersionId written by this provider names,
// and false for any other VersionId.
func tokenVersion(versionID string) (int, bool) {
	m := tokenPattern.FindStringSubmatch(versionID)
	if m == nil {
		return 0, false
	}
	v, err := strconv.Atoi(m[1])
	return v, err == nil
}

// Limits of an external reference.
const (
	// MaxExternalRefLength bounds an external reference (AWS ARNs are at most 2,048).
	MaxExternalRefLength = 2048
	// MaxVersionRefLength bounds a pinned provider version (an AWS VersionId is 32–64).
	MaxVersionRefLength = 512
)

// ErrManagedNamespace is the refusal of an external reference inside the managed
// namespace: those secrets are the ledger's own and are resolved by their managed
// versions, never linked.
var ErrManagedNamespace = ledgererr.WithReason(ledgererr.Invalid, "provider_guardrail",
	"Paperclip-managed namespace secrets cannot be imported as external references")

// RefName returns the secret name an external reference names: the name itself, or
// the part of an ARN after "secret:" without the six-character suffix AWS appends.
func RefName(ref string) string {
	ref = strings.TrimSpace(ref)
	name := arnPrefix.ReplaceAllString(ref, "")
	if name == ref { // not an ARN
		return name
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 && arnSuffix.MatchString(name[i+1:]) {
		return name[:i]
	}
	return name
}

// CheckExternal is the guardrail of external references: a reference (name or ARN)
// whose secret name lies under <prefix>/<deploymentId>/ is refused. It is pure.
func CheckExternal(ref, prefix, deploymentID string) error {
	ref = strings.TrimSpace(ref)
	switch {
	case ref == "":
		return ledgererr.New(ledgererr.Invalid, "an external reference needs a secret name or ARN")
	case len(ref) > MaxExternalRefLength:
		return ledgererr.New(ledgererr.Invalid, "externalRef is longer than %d characters", MaxExternalRefLength)
	case strings.ContainsAny(ref, "\r\n\t"):
		return ledgererr.New(ledgererr.Invalid, "externalRef holds a control character")
	}
	namespace := Sanitize(prefix) + "/" + Sanitize(deploymentID) + "/"
	if strings.HasPrefix(strings.TrimPrefix(RefName(ref), "/"), namespace) {
		return ErrManagedNamespace
	}
	return nil
}
