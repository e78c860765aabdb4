-- FilterAuditEvents and CountAuditOutcomes: the console's audit filters
-- and the dashboard's logins per hour.
CREATE INDEX audit_events_type_time ON audit_events (type, time DESC NULLS LAST);
CREATE INDEX audit_events_identity_time ON audit_events (identity_id, time DESC NULLS LAST);
