package apiclient

// RemoteImportPreviewRequest asks for a page of a remote provider's secrets (schema
// RemoteImportPreviewRequest).
type RemoteImportPreviewRequest struct {
	ProviderConfigID string `json:"providerConfigId,omitempty"`
	Query            string `json:"query,omitempty"`
	NextToken        string `json:"nextToken,omitempty"`
	PageSize         *int   `json:"pageSize,omitempty"`
}

// RemoteImportPreview is a page of candidates (schema RemoteImportPreview).
type RemoteImportPreview struct {
	Candidates []RemoteImportCandidate `json:"candidates"`
	NextToken  *string                 `json:"nextToken"`
}

// RemoteImportCandidate is one remote secret and what an import would make of it
// (schema RemoteImportCandidate).
type RemoteImportCandidate struct {
	ExternalRef        string                 `json:"externalRef"`
	RemoteName         string                 `json:"remoteName"`
	Name               string                 `json:"name"`
	Key                string                 `json:"key"`
	ProviderVersionRef *string                `json:"providerVersionRef"`
	ProviderMetadata   RemoteSecretMetadata   `json:"providerMetadata"`
	Status             string                 `json:"status"`
	Importable         bool                   `json:"importable"`
	Conflicts          []RemoteImportConflict `json:"conflicts"`
}

// RemoteSecretMetadata is the allowlisted metadata of a remote secret (schema
// RemoteSecretMetadata).
type RemoteSecretMetadata struct {
	CreatedDate      *string `json:"createdDate"`
	LastAccessedDate *string `json:"lastAccessedDate"`
	LastChangedDate  *string `json:"lastChangedDate"`
	DeletedDate      *string `json:"deletedDate"`
	HasDescription   bool    `json:"hasDescription"`
	HasKMSKey        bool    `json:"hasKmsKey"`
	TagCount         int64   `json:"tagCount"`
}

// RemoteImportConflict is why a row cannot be imported as it is (schema
// RemoteImportConflict).
type RemoteImportConflict struct {
	Type             string `json:"type"`
	ExistingSecretID string `json:"existingSecretId,omitempty"`
	Message          string `json:"message"`
}

// RemoteImportRequest links remote secrets as external references (schema
// RemoteImportRequest).
type RemoteImportRequest struct {
	ProviderConfigID string            `json:"providerConfigId,omitempty"`
	Secrets          []RemoteImportRow `json:"secrets,omitempty"`
}

// RemoteImportRow is one remote secret to link (schema RemoteImportRow).
type RemoteImportRow struct {
	ExternalRef        string `json:"externalRef"`
	Name               string `json:"name,omitempty"`
	Key                string `json:"key,omitempty"`
	Description        string `json:"description,omitempty"`
	ProviderVersionRef string `json:"providerVersionRef,omitempty"`
}

// RemoteImportResult is what became of each row (schema RemoteImportResult).
type RemoteImportResult struct {
	ImportedCount int64                   `json:"importedCount"`
	SkippedCount  int64                   `json:"skippedCount"`
	ErrorCount    int64                   `json:"errorCount"`
	Results       []RemoteImportRowResult `json:"results"`
}

// RemoteImportRowResult is what became of one row (schema RemoteImportRowResult).
type RemoteImportRowResult struct {
	ExternalRef string                 `json:"externalRef"`
	Name        string                 `json:"name"`
	Key         string                 `json:"key"`
	Status      string                 `json:"status"`
	Reason      string                 `json:"reason,omitempty"`
	Message     string                 `json:"message,omitempty"`
	SecretID    string                 `json:"secretId,omitempty"`
	Conflicts   []RemoteImportConflict `json:"conflicts,omitempty"`
}
