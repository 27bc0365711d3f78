-- agent_keys by company: a company's page of agent keys (company_id, then id) and the
-- list of companies, which reads the distinct company ids of every read model from an
-- index led by company_id. The other read models have one already.
CREATE INDEX agent_keys_company ON agent_keys (company_id, id);
