package audit

import (
	"context"
	"time"

	"github.com/secretsledger/secretsledger/eventstore/events"
)

// ReportedExposure is one finding of a leak scan about a secret: a version of it
// occurred in a scanned text (Source labels the text) in one encoding. It says where,
// never what.
type ReportedExposure struct {
	At       time.Time
	Position int64
	// Actor is who ran the scan ("board:<id>").
	Actor        string
	ScanID       string
	Source       string
	Version      int
	Encoding     string
	Occurrences  int
	Line, Column int
	Offset       int64
}

// reportedExposures reads the leak scans' findings of secret id up to head within the
// window, oldest first.
func (l Log) reportedExposures(ctx context.Context, id, company string, head int64, w Window) ([]ReportedExposure, error) {
	from, to := w.sqlBounds()
	evs, err := l.readEvents(ctx, `WHERE event_type = $6 AND company_id = $2 AND payload ->> 'secretId' = $1
		AND position <= $3 AND`+windowSQL(4)+` ORDER BY position`, id, company, head, from, to, events.SecretExposureReported)
	if err != nil {
		return nil, err
	}
	var out []ReportedExposure
	for _, e := range evs {
		p, err := events.Decode(e)
		if err != nil {
			return nil, err
		}
		if r, ok := p.(*events.SecretExposureReportedV1); ok {
			out = append(out, ReportedExposure{At: e.RecordedAt, Position: e.Position, Actor: actorOf(e.Metadata),
				ScanID: r.ScanID, Source: r.Source, Version: r.Version, Encoding: r.Encoding, Occurrences: r.Occurrences,
				Line: r.Line, Column: r.Column, Offset: r.Offset})
		}
	}
	return out, nil
}
