package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore/actor"
	"github.com/secretsledger/secretsledger/eventstore/ledgererr"
)

// MaxScanBodyBytes bounds the body of a leak scan: the one route whose body may be
// larger than MaxBodyBytes, as a transcript is.
const MaxScanBodyBytes = commands.MaxScanText

// LeakScanCommands is the write side of the leak scan.
type LeakScanCommands interface {
	Scan(ctx context.Context, req commands.Request, s commands.LeakScan) (commands.ScanResult, error)
}

// LeakScans serves the leak scan: which of the company's secret values occur in a text
// an operator pastes. Board tokens only; every scan is recorded.
type LeakScans struct {
	Commands LeakScanCommands
	*gate
}

func (h *LeakScans) routes(r *mux.Router, g *gate) {
	h.gate = g
	r.HandleFunc("/companies/{companyId}/leak-scan", g.admitUpTo(actor.Board, MaxScanBodyBytes, h.scan)).Methods(http.MethodPost)
}

type leakScanBody struct {
	Source          *string `json:"source"`
	Text            *string `json:"text"`
	IncludeExternal bool    `json:"includeExternal"`
}

type leakScanOut struct {
	ScanID          string           `json:"scanId"`
	Position        int64            `json:"position"`
	Source          string           `json:"source"`
	Bytes           int64            `json:"bytes"`
	ValuesChecked   int              `json:"valuesChecked"`
	SkippedShort    int              `json:"skippedShort"`
	ExternalSkipped int              `json:"externalSkipped"`
	DecryptFailed   int              `json:"decryptFailed"`
	Truncated       bool             `json:"truncated"`
	Findings        []leakFindingOut `json:"findings"`
}

type leakFindingOut struct {
	SecretID    string `json:"secretId"`
	Key         string `json:"key"`
	Version     int    `json:"version"`
	Encoding    string `json:"encoding"`
	Occurrences int    `json:"occurrences"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Offset      int64  `json:"offset"`
}

// scan runs one scan. The text is read into memory once (bounded by the body limit)
// and never logged; the answer names secrets, versions, encodings and places only.
func (h *LeakScans) scan(w http.ResponseWriter, r *http.Request, a actor.Actor) error {
	company, err := companyID(r)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(r.Body)
	if tooBig := new(http.MaxBytesError); errors.As(err, &tooBig) {
		return ledgererr.New(ledgererr.TooLarge, "request body is larger than %d bytes", MaxScanBodyBytes)
	} else if err != nil {
		return ledgererr.New(ledgererr.BadRequest, "cannot read the request body")
	}
	var b leakScanBody
	if _, err := decodeBytes(raw, &b); err != nil {
		return err
	}
	switch {
	case b.Source == nil:
		return ledgererr.New(ledgererr.BadRequest, "source: required")
	case b.Text == nil:
		return ledgererr.New(ledgererr.BadRequest, "text: required")
	}
	req, err := h.request(r, a, nil)
	if err != nil {
		return err
	}
	res, err := h.Commands.Scan(r.Context(), req, commands.LeakScan{CompanyID: company, Source: *b.Source,
		Text: []byte(*b.Text), IncludeExternal: b.IncludeExternal})
	if err != nil {
		return err
	}
	setPosition(w, res.Position)
	writeJSON(w, http.StatusOK, leakScanJSON(res))
	return nil
}

func leakScanJSON(res commands.ScanResult) leakScanOut {
	out := leakScanOut{ScanID: res.ScanID, Position: res.Position, Source: res.Source, Bytes: res.Bytes,
		ValuesChecked: res.ValuesChecked, SkippedShort: res.SkippedShort, ExternalSkipped: res.ExternalSkipped,
		DecryptFailed: res.DecryptFailed, Truncated: res.Truncated, Findings: []leakFindingOut{}}
	for _, f := range res.Findings {
		out.Findings = append(out.Findings, leakFindingOut{SecretID: f.SecretID, Key: f.Key, Version: f.Version,
			Encoding: f.Encoding, Occurrences: f.Occurrences, Line: f.Line, Column: f.Column, Offset: f.Offset})
	}
	return out
}
