-- External-reference policies: a company links external references only under what an
-- instance operator approved for it. So that what companies linked before keeps
-- resolving, this records, once, what each company held when policies came: every
-- external reference it linked (by name or ARN, as linked), and the region and namespace
-- of each of its AWS provider vaults. At start, serve writes for each company listed here
-- that has no policy yet a policy approving exactly these (external_policy.set with
-- upgrade: true, by the actor system); a company that has a policy keeps its own. The
-- runtime role may only read the table.
-- WARNING: table and column names are part of the product contract.
CREATE TABLE ledger_external_policy_upgrade (
    company_id text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('reference', 'region', 'namespace')),
    value      text NOT NULL,
    PRIMARY KEY (company_id, kind, value)
);

INSERT INTO ledger_external_policy_upgrade (company_id, kind, value)
SELECT DISTINCT company_id, 'reference', payload->>'externalRef' FROM ledger_events
WHERE event_type IN ('secret.created', 'secret.version_added') AND coalesce(payload->>'externalRef', '') <> ''
UNION
SELECT DISTINCT company_id, 'region', config->>'region' FROM company_secret_provider_configs
WHERE provider = 'aws_secrets_manager' AND coalesce(config->>'region', '') <> ''
UNION
SELECT DISTINCT company_id, 'namespace', config->>'namespace' FROM company_secret_provider_configs
WHERE provider = 'aws_secrets_manager' AND coalesce(config->>'namespace', '') <> '';
