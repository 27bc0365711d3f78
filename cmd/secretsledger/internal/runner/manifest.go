package runner

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/secretsledger/secretsledger/agent"
)

// Manifest is the record --manifest writes: what was resolved for the run, never a value.
type Manifest struct {
	RunID   string          `json:"runId,omitempty"`
	IssueID string          `json:"issueId,omitempty"`
	Entries []ManifestEntry `json:"entries"`
}

// ManifestEntry is one config path of the resolution. It copies the API's manifest entry
// field by field rather than embedding it, so that a member the API adds later is not
// written here without a decision that it holds no value.
type ManifestEntry struct {
	ConfigPath   string `json:"configPath"`
	EnvKey       string `json:"envKey,omitempty"`
	SecretID     string `json:"secretId,omitempty"`
	SecretKey    string `json:"secretKey,omitempty"`
	Version      int64  `json:"version,omitempty"`
	Provider     string `json:"provider,omitempty"`
	Source       string `json:"source,omitempty"`
	Outcome      string `json:"outcome"`
	Required     bool   `json:"required"`
	ProviderCode string `json:"providerCode,omitempty"`
	// Masked, under --redact, says whether the value is masked in COMMAND's output, and
	// MaskSkippedReason why not; absent without --redact and for a path with no value.
	Masked            *bool  `json:"masked,omitempty"`
	MaskSkippedReason string `json:"maskSkippedReason,omitempty"`
}

func newManifest(o Options, res agent.Resolution) Manifest {
	values := map[string][]byte{}
	for _, s := range agent.Secrets(res) {
		if s.ConfigPath != "" {
			values[s.ConfigPath] = s.Value
		}
	}
	m := Manifest{RunID: o.RunID, IssueID: o.IssueID, Entries: []ManifestEntry{}}
	for _, e := range res.Manifest {
		me := ManifestEntry{ConfigPath: e.ConfigPath, EnvKey: e.EnvKey, SecretID: e.SecretID,
			SecretKey: e.SecretKey, Version: e.Version, Provider: e.Provider, Source: e.Source, Outcome: e.Outcome,
			Required: e.Required, ProviderCode: e.ProviderCode}
		if v, ok := values[e.ConfigPath]; ok && o.Redact {
			isMasked, why := masked(string(v))
			me.Masked, me.MaskSkippedReason = &isMasked, why
		}
		m.Entries = append(m.Entries, me)
	}
	return m
}

// writeManifest writes m to path, readable by its owner only: it names the secrets an
// agent holds, which is itself worth keeping to the agent's user. A file already there
// is made 0600 before it is rewritten.
func writeManifest(path string, m Manifest) error {
	raw, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write the manifest: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("write the manifest: %w", err)
	}
	if _, err := f.Write(append(raw, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write the manifest: %w", err)
	}
	return f.Close()
}
