package commands

import (
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers"
	"github.com/secretsledger/secretsledger/providers/awssm"
	"github.com/secretsledger/secretsledger/providers/vaultkv"
)

// sensitiveConfigKeys name credentials. A vault's config is routing metadata only
// (AWS trust comes from the SDK's default credential chain), so a config that holds one
// of these keys, at any depth and in any spelling (case, '_', '-', '.' ignored), is
// refused before anything else is looked at, and its value is never echoed.
var sensitiveConfigKeys = []string{"accessKeyId", "secretAccessKey", "sessionToken", "token", "password", "credential",
	"credentials", "privateKey", "pem", "jwt", "serviceAccountJson", "clientSecret", "secretId", "unsealKey",
	"recoveryKey", "keyFile", "tokenFile"}

// ErrSensitiveConfig is the message of a config refused for holding a credential.
const ErrSensitiveConfig = "Provider vault config cannot persist sensitive field"

func normalizeConfigKey(k string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(k))
}

var sensitiveNormalized = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range sensitiveConfigKeys {
		m[normalizeConfigKey(k)] = true
	}
	return m
}()

// sensitivePath returns the path of the first credential-shaped member name under v,
// "" when there is none. Members are visited in sorted order, so the answer is stable.
func sensitivePath(v any, path string) string {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if sensitiveNormalized[normalizeConfigKey(k)] {
				return path + "." + k
			}
			if p := sensitivePath(v[k], path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range v {
			if p := sensitivePath(e, path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	}
	return ""
}

// checkNoCredentials refuses a config with a credential-shaped key anywhere in it. The
// message names the key's path, never its value.
func checkNoCredentials(raw map[string]any) error {
	if p := sensitivePath(raw, "config"); p != "" {
		return ledgererr.New(ledgererr.Invalid, "%s %s", ErrSensitiveConfig, p)
	}
	return nil
}

// configRule checks one config value; it returns what is wrong, "" when it is fine.
type configRule func(string) string

// configKeys are, per provider, the keys a config may have and the rule of each.
var configKeys = map[string]map[string]configRule{
	providers.LocalEncrypted: {},
	providers.AWSSecretsManager: {
		"region":           matches(awsRegion, "an AWS region such as us-east-1"),
		"namespace":        awsNamePath(awssm.MaxNamespaceLength),
		"secretNamePrefix": awsNamePath(awssm.MaxPrefixLength),
		"kmsKeyId":         matches(regexp.MustCompile(`^[A-Za-z0-9:/_+=.@-]{1,512}$`), "a KMS key id, alias or ARN (at most 512 characters)"),
		"ownerTag":         matches(awsTagValue, "an AWS tag value of at most 128 characters"),
		"environmentTag":   matches(awsTagValue, "an AWS tag value of at most 128 characters"),
	},
	VaultProviderGCP: {},
	// A vault vault's routing: the address is the deployment's (vaultDeploymentRules);
	// "mount" is mountPath's old name, which drafts were created with.
	VaultProviderHashiCorp: {
		"address":          vaultAddress,
		"namespace":        vaultKVPath(vaultkv.MaxNamespaceLength),
		"mountPath":        vaultKVPath(vaultkv.MaxMountLength),
		"mount":            vaultKVPath(vaultkv.MaxMountLength),
		"secretPathPrefix": vaultKVPath(vaultkv.MaxPrefixLength),
	},
}

// vaultPathKeys are the vault config keys that name paths: stored without a leading or
// trailing "/", as Vault's CLI takes them either way.
var vaultPathKeys = map[string]bool{"namespace": true, "mountPath": true, "mount": true, "secretPathPrefix": true}

// requiredConfigKeys are the keys a provider's config must have.
var requiredConfigKeys = map[string][]string{providers.AWSSecretsManager: {"region"}}

var (
	awsRegion   = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d+$`)
	awsTagValue = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$`)
)

// vaultKVPath is the vault provider's own rule of a part of a path (vaultkv.CheckPath).
func vaultKVPath(max int) configRule {
	return func(s string) string { return vaultkv.CheckPath(s, max) }
}

// awsNamePath is the provider's own rule of a part of a secret name (awssm.CheckNamePath):
// a value accepted here is one the provider accepts at every use.
func awsNamePath(max int) configRule {
	return func(s string) string { return awssm.CheckNamePath(s, max) }
}

func matches(re *regexp.Regexp, want string) configRule {
	return func(s string) string {
		if !re.MatchString(s) {
			return "must be " + want
		}
		return ""
	}
}

// CheckVaultAddress returns why s is not a HashiCorp Vault address (http or https, a
// host and an optional port, nothing else: no user info, path, query or fragment), ""
// when it is one. A trailing "/" is allowed.
func CheckVaultAddress(s string) string { return vaultAddress(s) }

// vaultAddress is CheckVaultAddress as a config rule.
func vaultAddress(s string) string {
	const want = "must be an http or https URL of a host and an optional port only"
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Opaque != "" {
		return want
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		strings.Contains(s, "#") {
		return want + " (no user info, path, query or fragment)"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return want + " (port 1 to 65535)"
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return want
	}
	return ""
}

// checkVaultConfig validates a config for a provider and returns it as stored: string
// values only, empty optional values left out. Credential-shaped keys are refused
// first, then unknown keys, then each value by its rule (CheckVaultConfig).
func checkVaultConfig(provider string, raw map[string]any) (map[string]string, error) {
	if err := checkNoCredentials(raw); err != nil {
		return nil, err
	}
	rules, ok := configKeys[provider]
	if !ok {
		return nil, ledgererr.New(ledgererr.Invalid, "provider must be one of %s", strings.Join(VaultProviders, ", "))
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]string{}
	for _, k := range keys {
		if _, known := rules[k]; !known {
			return nil, unknownConfigKey(provider, k, rules)
		}
		s, isString := raw[k].(string)
		if !isString {
			return nil, ledgererr.New(ledgererr.Invalid, "config.%s must be a string", k)
		}
		if s == "" {
			continue // an empty optional value is the same as none
		}
		if k == "address" {
			s = strings.TrimSuffix(s, "/")
		}
		if provider == VaultProviderHashiCorp && vaultPathKeys[k] {
			if s = strings.Trim(s, "/"); s == "" {
				continue
			}
		}
		out[k] = s
	}
	if err := CheckVaultConfig(provider, out); err != nil {
		return nil, err
	}
	return out, nil
}

func unknownConfigKey(provider, k string, rules map[string]configRule) error {
	allowed := make([]string, 0, len(rules))
	for a := range rules {
		allowed = append(allowed, a)
	}
	sort.Strings(allowed)
	if len(allowed) == 0 {
		return ledgererr.New(ledgererr.Invalid, "unknown config key %q: a %s vault takes an empty config", k, provider)
	}
	return ledgererr.New(ledgererr.Invalid, "unknown config key %q for %s (allowed: %s)", k, provider, strings.Join(allowed, ", "))
}

// CheckVaultConfig checks a vault's config as stored (EINVALID naming the first field
// that breaks its rule): known keys, each value by its rule, the required keys. Create
// and PATCH validate with it before anything is written, and placement checks a vault
// with it again before building its provider, so a vault stored before a rule was
// tightened is refused with the same answer (422, never a 503) until it is fixed.
func CheckVaultConfig(provider string, cfg map[string]string) error {
	rules, ok := configKeys[provider]
	if !ok {
		return ledgererr.New(ledgererr.Invalid, "provider must be one of %s", strings.Join(VaultProviders, ", "))
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rule, known := rules[k]
		if !known {
			return unknownConfigKey(provider, k, rules)
		}
		if problem := rule(cfg[k]); problem != "" {
			return ledgererr.New(ledgererr.Invalid, "config.%s %s", k, problem)
		}
	}
	for _, k := range requiredConfigKeys[provider] {
		if _, ok := cfg[k]; !ok {
			return ledgererr.New(ledgererr.Invalid, "config.%s is required for %s", k, provider)
		}
	}
	if _, both := cfg["mount"]; both && cfg["mountPath"] != "" {
		return ledgererr.New(ledgererr.Invalid, "config.mount is the old name of config.mountPath: give mountPath only")
	}
	return nil
}

// VaultMount is a vault vault's KV mount as stored: mountPath, else its old name mount;
// "" is the deployment's.
func VaultMount(cfg map[string]string) string {
	if m := cfg["mountPath"]; m != "" {
		return m
	}
	return cfg["mount"]
}

// SameVaultAddress reports whether a vault vault's address is the deployment's: the
// same scheme, host and port (case of scheme and host, and a trailing "/", ignored).
func SameVaultAddress(a, deployment string) bool {
	norm := func(s string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "/")) }
	return deployment != "" && norm(a) == norm(deployment)
}

// checkVaultProvider refuses a provider a vault cannot name.
func checkVaultProvider(provider string) error {
	if !slices.Contains(VaultProviders, provider) {
		return ledgererr.New(ledgererr.Invalid, "provider must be one of %s", strings.Join(VaultProviders, ", "))
	}
	return nil
}

// checkVaultName trims a display name and checks its length.
func checkVaultName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if n := len([]rune(name)); n < 1 || n > MaxVaultNameLength {
		return "", ledgererr.New(ledgererr.Invalid, "displayName must be 1 to %d characters", MaxVaultNameLength)
	}
	if strings.ContainsAny(name, "\x00\r\n") {
		return "", ledgererr.New(ledgererr.Invalid, "displayName must be one line")
	}
	return name, nil
}
