-- The audit trail's request_id is the server's own from now on; the id a client sends in
-- `x-request-id` is kept apart in `client_request_id` (NULL when none was sent), so no client
-- can choose, repeat or forge the id that ties an audit row to the server's log.
--
-- The hash covers the new column only when it holds a value: concat_ws skips NULLs, so every
-- row written before this migration (NULL here) keeps the canonical text, and the hash, it
-- was chained with. `wangge audit verify` (audit.rs) builds the same text.
ALTER TABLE audit_log ADD COLUMN client_request_id text
    CHECK (client_request_id ~ '^[!-~]{1,64}$');

CREATE OR REPLACE FUNCTION audit_canonical(r audit_log) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN concat_ws(E'\x1f', r.id::text,
                 to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                 coalesce(r.user_id::text, ''), r.username, r.role, r.action, r.object_type,
                 r.object_id, r.area_code, r.outcome, r.request_id, r.client_addr,
                 r.client_request_id);
