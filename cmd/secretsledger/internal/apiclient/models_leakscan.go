package apiclient

// LeakScanRequest is the body of a leak scan (schema LeakScanRequest).
type LeakScanRequest struct {
	Source          string `json:"source"`
	Text            string `json:"text"`
	IncludeExternal bool   `json:"includeExternal,omitempty"`
}

// LeakScan is a recorded leak scan (schema LeakScan): counts and findings, never a value.
type LeakScan struct {
	ScanID          string            `json:"scanId"`
	Position        int64             `json:"position"`
	Source          string            `json:"source"`
	Bytes           int64             `json:"bytes"`
	ValuesChecked   int               `json:"valuesChecked"`
	SkippedShort    int               `json:"skippedShort"`
	ExternalSkipped int               `json:"externalSkipped"`
	DecryptFailed   int               `json:"decryptFailed"`
	Truncated       bool              `json:"truncated"`
	Findings        []LeakScanFinding `json:"findings"`
}

// LeakScanFinding is one (secret, version, encoding) found (schema LeakScanFinding).
type LeakScanFinding struct {
	SecretID    string `json:"secretId"`
	Key         string `json:"key"`
	Version     int    `json:"version"`
	Encoding    string `json:"encoding"`
	Occurrences int    `json:"occurrences"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Offset      int64  `json:"offset"`
}

// AuditReportedExposure is one leak scan's finding of a secret, in its exposure
// (schema AuditReportedExposure).
type AuditReportedExposure struct {
	At          string `json:"at"`
	Position    int64  `json:"position"`
	Actor       string `json:"actor"`
	ScanID      string `json:"scanId"`
	Source      string `json:"source"`
	Version     int    `json:"version"`
	Encoding    string `json:"encoding"`
	Occurrences int    `json:"occurrences"`
	Line        int    `json:"line"`
	Column      int    `json:"column"`
	Offset      int64  `json:"offset"`
}
