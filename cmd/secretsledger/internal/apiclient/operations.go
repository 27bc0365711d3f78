package apiclient

import "net/http"

// operation is one operation of the document: its operationId, method and path
// template. The contract test holds each to the document.
type operation struct {
	id, method, path string
}

// The operations this client calls, by the document's operationId.
var (
	opListCompanies           = operation{"listCompanies", http.MethodGet, "/api/companies"}
	opLedgerState             = operation{"ledgerState", http.MethodGet, "/api/ledger"}
	opCreateSecret            = operation{"createSecret", http.MethodPost, "/api/companies/{companyId}/secrets"}
	opListSecrets             = operation{"listSecrets", http.MethodGet, "/api/companies/{companyId}/secrets"}
	opPreviewRemoteImport     = operation{"previewRemoteImport", http.MethodPost, "/api/companies/{companyId}/secrets/remote-import/preview"}
	opRemoteImport            = operation{"remoteImport", http.MethodPost, "/api/companies/{companyId}/secrets/remote-import"}
	opListProviders           = operation{"listProviders", http.MethodGet, "/api/companies/{companyId}/secret-providers"}
	opGetSecret               = operation{"getSecret", http.MethodGet, "/api/secrets/{id}"}
	opUpdateSecret            = operation{"updateSecret", http.MethodPatch, "/api/secrets/{id}"}
	opDeleteSecret            = operation{"deleteSecret", http.MethodDelete, "/api/secrets/{id}"}
	opRotateSecret            = operation{"rotateSecret", http.MethodPost, "/api/secrets/{id}/rotate"}
	opRestoreSecret           = operation{"restoreSecret", http.MethodPost, "/api/secrets/{id}/restore"}
	opPurgeSecret             = operation{"purgeSecret", http.MethodPost, "/api/secrets/{id}/purge"}
	opListSecretVersions      = operation{"listSecretVersions", http.MethodGet, "/api/secrets/{id}/versions"}
	opListSecretUsage         = operation{"listSecretUsage", http.MethodGet, "/api/secrets/{id}/usage"}
	opListSecretAccessEvents  = operation{"listSecretAccessEvents", http.MethodGet, "/api/secrets/{id}/access-events"}
	opListCompanyAccessEvents = operation{"listCompanyAccessEvents", http.MethodGet, "/api/companies/{companyId}/access-events"}
	opCreateBinding           = operation{"createBinding", http.MethodPost, "/api/companies/{companyId}/secret-bindings"}
	opListBindings            = operation{"listBindings", http.MethodGet, "/api/companies/{companyId}/secret-bindings"}
	opDeleteBinding           = operation{"deleteBinding", http.MethodDelete, "/api/secret-bindings/{id}"}
	opPutConsumerEnv          = operation{"putConsumerEnv", http.MethodPut, "/api/companies/{companyId}/consumers/{targetType}/{targetId}/env"}
	opGetConsumerEnv          = operation{"getConsumerEnv", http.MethodGet, "/api/companies/{companyId}/consumers/{targetType}/{targetId}/env"}
	opIssueAgentKey           = operation{"issueAgentKey", http.MethodPost, "/api/companies/{companyId}/agent-keys"}
	opListAgentKeys           = operation{"listAgentKeys", http.MethodGet, "/api/companies/{companyId}/agent-keys"}
	opRevokeAgentKey          = operation{"revokeAgentKey", http.MethodDelete, "/api/agent-keys/{id}"}
	opFreezeCompany           = operation{"freezeCompany", http.MethodPost, "/api/companies/{companyId}/freeze"}
	opGetCompanyFreeze        = operation{"getCompanyFreeze", http.MethodGet, "/api/companies/{companyId}/freeze"}
	opUnfreezeCompany         = operation{"unfreezeCompany", http.MethodPost, "/api/companies/{companyId}/unfreeze"}
	opFreezeConsumer          = operation{"freezeConsumer", http.MethodPost, "/api/companies/{companyId}/consumers/{targetType}/{targetId}/freeze"}
	opGetConsumerFreeze       = operation{"getConsumerFreeze", http.MethodGet, "/api/companies/{companyId}/consumers/{targetType}/{targetId}/freeze"}
	opUnfreezeConsumer        = operation{"unfreezeConsumer", http.MethodPost, "/api/companies/{companyId}/consumers/{targetType}/{targetId}/unfreeze"}
	opLeakScan                = operation{"leakScan", http.MethodPost, "/api/companies/{companyId}/leak-scan"}
	opRevokeConsumerAgentKeys = operation{"revokeConsumerAgentKeys", http.MethodPost, "/api/companies/{companyId}/consumers/{targetType}/{targetId}/agent-keys/revoke"}
	opGetExternalPolicy       = operation{"getExternalPolicy", http.MethodGet, "/api/companies/{companyId}/external-policy"}
	opSetExternalPolicy       = operation{"setExternalPolicy", http.MethodPut, "/api/companies/{companyId}/external-policy"}
	opCreateVault             = operation{"createVault", http.MethodPost, "/api/companies/{companyId}/secret-provider-configs"}
	opListVaults              = operation{"listVaults", http.MethodGet, "/api/companies/{companyId}/secret-provider-configs"}
	opUpdateVault             = operation{"updateVault", http.MethodPatch, "/api/secret-provider-configs/{id}"}
	opDisableVault            = operation{"disableVault", http.MethodDelete, "/api/secret-provider-configs/{id}"}
	opSetDefaultVault         = operation{"setDefaultVault", http.MethodPost, "/api/secret-provider-configs/{id}/default"}
	opCheckVaultHealth        = operation{"checkVaultHealth", http.MethodPost, "/api/secret-provider-configs/{id}/health"}
	opIssueEventSubscriber    = operation{"issueEventSubscriber", http.MethodPost, "/api/companies/{companyId}/event-subscribers"}
	opListCompanyEvents       = operation{"listCompanyEvents", http.MethodGet, "/api/companies/{companyId}/events"}
	opSecretExposure          = operation{"secretExposure", http.MethodGet, "/api/secrets/{id}/exposure"}
	opConsumerExposure        = operation{"consumerExposure", http.MethodGet, "/api/companies/{companyId}/consumers/{targetType}/{targetId}/exposure"}
	opAuditState              = operation{"auditState", http.MethodGet, "/api/companies/{companyId}/audit/state"}
	opAuditExport             = operation{"auditExport", http.MethodGet, "/api/companies/{companyId}/audit/export"}
)
