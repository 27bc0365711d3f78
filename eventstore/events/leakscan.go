package events

// Event types of leak scans: an operator's scan of a text for the company's secret
// values, and what it found. A scan is one append to its own stream
// ("leak-scan-<company>/<scanId>"): the scan event, then one exposure report per
// finding, which names its secret in the payload (as secret.accessed does on an access
// stream), so that the scan and its findings are recorded together or not at all, and
// a report never moves the secret's own stream (no secret command has to decide again
// because of a scan). No event of a scan carries a value or any part of one.
// WARNING: persisted names.
const (
	LeakScanRecorded       = "leak_scan.recorded"
	SecretExposureReported = "secret.exposure_reported"
)

// LeakScanRecordedV1 is one scan. Source is the operator's label of the text (checked
// to hold no value of the company's); the text itself is never recorded. The actor is
// the envelope's.
type LeakScanRecordedV1 struct {
	ScanID          string `json:"scanId"`
	Source          string `json:"source"`
	Bytes           int64  `json:"bytes"`
	ValuesChecked   int    `json:"valuesChecked"`
	SkippedShort    int    `json:"skippedShort"`
	ExternalSkipped int    `json:"externalSkipped"`
	DecryptFailed   int    `json:"decryptFailed"`
	IncludeExternal bool   `json:"includeExternal"`
	Findings        int    `json:"findings"`
	Truncated       bool   `json:"truncated"`
}

// SecretExposureReportedV1 is one finding of a scan: a version of a secret occurred in
// the scanned text in one encoding, Occurrences times, first at Line/Column (1-based)
// and byte Offset.
type SecretExposureReportedV1 struct {
	SecretID    string `json:"secretId"`
	Version     int    `json:"version"`
	Encoding    string `json:"encoding"`
	ScanID      string `json:"scanId"`
	Source      string `json:"source"`
	Occurrences int    `json:"occurrences"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Offset      int64  `json:"offset"`
}
