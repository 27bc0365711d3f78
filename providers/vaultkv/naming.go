package vaultkv

import (
	"regexp"
	"strconv"
	"strings"
)

// Bounds of the parts of a path.
const (
	MaxNamespaceLength    = 256
	MaxMountLength        = 128
	MaxPrefixLength       = 128
	MaxDeploymentIDLength = 128
	// MaxPathLength bounds a KV path (an external reference, a managed path).
	MaxPathLength = 1024
)

// Custom metadata keys of a managed secret, as the AWS provider's tags.
// WARNING: read back by the guardrail (a secret carrying CustomManagedBy is the ledger's).
const (
	CustomManagedBy     = "paperclip:managed-by"
	CustomProviderOwner = "paperclip:provider-owner"
	CustomDeploymentID  = "paperclip:deployment-id"
	CustomCompanyID     = "paperclip:company-id"
	CustomSecretKey     = "paperclip:secret-key"
	CustomEnvironment   = "paperclip:environment"
	managedByValue      = "paperclip"
)

// pathSegment is what one segment of a path the ledger names may hold: no "." or ".."
// segment, no spaces or characters Vault's policies glob on.
var pathSegment = regexp.MustCompile(`^[A-Za-z0-9_.@=+-]+$`)

// CheckPath returns why s is not a path of at most max characters made of segments
// ("a/b/c", no empty, "." or ".." segment), or "" when it is one.
func CheckPath(s string, max int) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > max:
		return "is longer than " + strconv.Itoa(max) + " characters"
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == "" || seg == "." || seg == ".." || !pathSegment.MatchString(seg) {
			return "must be segments of letters, digits and _.@=+- separated by single slashes"
		}
	}
	return ""
}

// Sanitize makes one segment of a managed path from a company id or a secret key:
// every character a segment may not hold becomes "-". The ledger's keys ([a-z0-9_.-],
// never starting with "-") and company ids (UUIDs) pass unchanged, except "." and
// "..", which are keys but cannot be segments: each gets a segment of its own starting
// with "-", which no key or company id does, so that no two keys share a path.
func Sanitize(segment string) string {
	switch s := unsafeSegmentChars.ReplaceAllString(segment, "-"); s {
	case "":
		return "-"
	case ".":
		return "-dot"
	case "..":
		return "-dotdot"
	default:
		return s
	}
}

var unsafeSegmentChars = regexp.MustCompile(`[^A-Za-z0-9_.@=+-]`)

// ManagedRoot is the managed path of a provider configuration inside its mount:
// "<prefix>/<deploymentId>/". Every secret the configuration manages is under it.
func ManagedRoot(prefix, deploymentID string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "/" + deploymentID + "/"
}

// RefName is the name the ledger compares external references and approved prefixes by:
// "[<namespace>/]<mount>/<path>", so that one path in two mounts or namespaces are two
// names, and an approval names the mount it approves.
func RefName(namespace, mount, path string) string {
	name := strings.Trim(mount, "/") + "/" + strings.TrimPrefix(path, "/")
	if ns := strings.Trim(namespace, "/"); ns != "" {
		name = ns + "/" + name
	}
	return name
}
