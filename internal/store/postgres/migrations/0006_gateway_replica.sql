-- Gatehouse schema, version 6: which server replica holds a gateway's
-- connection (its internal URL, --replica-url; '' for a single server or
-- none), so that any replica can open streams to the gateway through the
-- holder.

ALTER TABLE gateways ADD COLUMN replica text NOT NULL DEFAULT '';
