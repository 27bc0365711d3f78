package events

// Event types of incident controls: a company's freeze (stream "company-<company>") and
// a consumer's (its consumer stream, beside its bindings and env).
// WARNING: persisted names.
const (
	CompanyFrozen    = "company.frozen"
	CompanyUnfrozen  = "company.unfrozen"
	ConsumerFrozen   = "consumer.frozen"
	ConsumerUnfrozen = "consumer.unfrozen"
)

// CompanyFrozenV1 stops every resolution of the company until it is unfrozen. Reason is
// the operator's note, never a value.
type CompanyFrozenV1 struct {
	Reason string `json:"reason"`
}

// CompanyUnfrozenV1 lifts a company freeze.
type CompanyUnfrozenV1 struct {
	Reason string `json:"reason,omitempty"`
}

// ConsumerFrozenV1 stops every resolution of one consumer until it is unfrozen.
type ConsumerFrozenV1 struct {
	TargetType string `json:"targetType"`
	TargetID   string `json:"targetId"`
	Reason     string `json:"reason"`
}

// ConsumerUnfrozenV1 lifts a consumer freeze.
type ConsumerUnfrozenV1 struct {
	TargetType string `json:"targetType"`
	TargetID   string `json:"targetId"`
	Reason     string `json:"reason,omitempty"`
}
