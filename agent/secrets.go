package agent

import (
	"cmp"
	"sort"

	"github.com/secretsledger/secretsledger/providers/redact"
)

// Secret is one value of a resolution, with the names a runtime knows it by: its config
// path, its env name ("" for a path outside the env) and the key of the secret it came
// from ("" for a plain env entry).
type Secret struct {
	ConfigPath string
	EnvKey     string
	SecretKey  string
	Value      []byte
}

// MaskKey is the name a mask gives the value: the secret's key, else the env name, else
// the config path.
func (s Secret) MaskKey() string { return cmp.Or(s.SecretKey, s.EnvKey, s.ConfigPath) }

// Secrets are the values res holds, one per resolved manifest entry, by config path
// (and any env value no entry names, by env name, so that none is left out).
func Secrets(res Resolution) []Secret {
	var out []Secret
	named := map[string]bool{}
	for _, e := range res.Manifest {
		v, ok := res.Values[e.ConfigPath]
		if e.Outcome != OutcomeResolved || !ok {
			if ev, inEnv := res.Env[e.EnvKey]; e.Outcome == OutcomeResolved && e.EnvKey != "" && inEnv {
				v, ok = ev, true
			}
		}
		if !ok {
			continue
		}
		if e.EnvKey != "" {
			named[e.EnvKey] = true
		}
		out = append(out, Secret{ConfigPath: e.ConfigPath, EnvKey: e.EnvKey, SecretKey: e.SecretKey, Value: []byte(v)})
	}
	for k, v := range res.Env {
		if !named[k] {
			out = append(out, Secret{EnvKey: k, Value: []byte(v)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return cmp.Or(out[i].ConfigPath, out[i].EnvKey) < cmp.Or(out[j].ConfigPath, out[j].EnvKey)
	})
	return out
}

// NewRedactor is a redactor of secrets' values, each masked as [REDACTED:MaskKey()]. A
// value shorter than redact.MinLength is not masked; the redactor's Skipped names it.
func NewRedactor(secrets []Secret, opts redact.Options) *redact.Redactor {
	rs := make([]redact.Secret, len(secrets))
	for i, s := range secrets {
		rs[i] = redact.Secret{Key: s.MaskKey(), Value: s.Value}
	}
	return redact.New(rs, opts)
}

// Redactor is a redactor of every value res holds (NewRedactor of Secrets(res)): for
// text a runtime writes out of its agent's reach, masked locally, without a round trip.
func Redactor(res Resolution, opts redact.Options) *redact.Redactor {
	return NewRedactor(Secrets(res), opts)
}
