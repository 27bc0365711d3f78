package httpapi

import (
	"net/http"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
	"github.com/secretsledger/secretsledger/providers/redact"
)

// MaxRedactText bounds the text of one redaction, in bytes. It is half of MaxBodyBytes so
// that a text whose JSON escaping grows it still fits the body: a longer one is refused
// (413) on its own terms, not as a body the gate cut short.
const MaxRedactText = MaxBodyBytes / 2

// RedactRunPrefix starts the runId of the access records a redaction writes ("redact",
// or "redact:" and the caller's runId), so that an auditor tells the values resolved to
// mask a text from those resolved to be used.
const RedactRunPrefix = "redact"

type redactBody struct {
	Text    *string `json:"text"`
	RunID   string  `json:"runId"`
	IssueID string  `json:"issueId"`
}

type redactOut struct {
	Text    string   `json:"text"`
	Masked  []string `json:"masked"`
	Skipped []string `json:"skipped"`
}

// redactText masks, in the caller's text, the current values of every secret bound to
// the agent key's consumer. The values are resolved exactly as a resolution resolves
// them, so the access is recorded first and a freeze refuses the call: a text is never
// answered unmasked because the values could not be had. Nothing but the masked text
// and secret keys is answered; the values stay in this function.
func (h *Resolution) redactText(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	var b redactBody
	if _, err := decode(r, &b); err != nil {
		return err
	}
	switch {
	case b.Text == nil:
		return ledgererr.New(ledgererr.BadRequest, "text: required")
	case len(*b.Text) > MaxRedactText:
		return ledgererr.New(ledgererr.TooLarge, "text: at most %d bytes", MaxRedactText)
	case len(b.RunID) > commands.MaxRunRef-len(RedactRunPrefix)-1:
		return ledgererr.New(ledgererr.BadRequest, "runId: at most %d bytes here (it is recorded after %q)",
			commands.MaxRunRef-len(RedactRunPrefix)-1, RedactRunPrefix+":")
	}
	runID := RedactRunPrefix
	if b.RunID != "" {
		runID += ":" + b.RunID
	}
	req, err := h.request(r, a, nil)
	if err != nil {
		return err
	}
	res, err := h.Commands.ResolveValues(r.Context(), req, commands.Resolve{RunID: runID, IssueID: b.IssueID})
	if err != nil {
		return err
	}
	red := redact.New(redactSecrets(res), redact.Options{})
	out := redactOut{Text: red.String(*b.Text), Masked: nonNil(red.Masked()), Skipped: nonNil(red.Skipped())}
	setPosition(w, res.Position)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
	return nil
}

// redactSecrets are the resolved values of secrets (not plain env entries, which are
// configuration), once per secret, named by the secret's key.
func redactSecrets(res commands.Resolution) []redact.Secret {
	var out []redact.Secret
	seen := map[string]bool{}
	for _, m := range res.Manifest {
		v, ok := res.Values[m.ConfigPath]
		if m.Outcome != commands.Resolved || m.Source != "" || m.SecretID == "" || !ok || seen[m.SecretID] {
			continue
		}
		seen[m.SecretID] = true
		out = append(out, redact.Secret{Key: m.SecretKey, Value: v.Reveal()})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
