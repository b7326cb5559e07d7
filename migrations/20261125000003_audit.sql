-- The audit trail: one row per write and per read of personal data, written in the same
-- transaction as what it records. Rows are append-only (a trigger refuses UPDATE, DELETE and
-- TRUNCATE) and hash-chained: each row's hash covers its content and the previous row's
-- hash, and ids have no gaps, so `wangge audit verify` finds an altered, deleted or inserted
-- row.

CREATE TABLE audit_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id   bigint NOT NULL,
    last_hash bytea NOT NULL
);
INSERT INTO audit_head (last_id, last_hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    id          bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    user_id     bigint,
    username    text NOT NULL,
    role        text NOT NULL,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL,
    area_code   text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    request_id  text NOT NULL,
    client_addr text NOT NULL,
    prev_hash   bytea NOT NULL,
    hash        bytea NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_user_idx ON audit_log (username, at);
CREATE INDEX audit_log_object_idx ON audit_log (object_type, object_id);
CREATE INDEX audit_log_area_idx ON audit_log (area_code text_pattern_ops);

-- The text a row's hash covers; `wangge audit verify` rebuilds it independently.
CREATE FUNCTION audit_canonical(r audit_log) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN concat_ws(E'\x1f', r.id::text,
                 to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                 coalesce(r.user_id::text, ''), r.username, r.role, r.action, r.object_type,
                 r.object_id, r.area_code, r.outcome, r.request_id, r.client_addr);

-- Numbers and chains each new row under a lock on the head, so concurrent writers line up.
CREATE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head audit_head;
BEGIN
    SELECT * INTO head FROM audit_head FOR UPDATE;
    NEW.id := head.last_id + 1;
    NEW.at := date_trunc('microseconds', coalesce(NEW.at, clock_timestamp()));
    NEW.prev_hash := head.last_hash;
    NEW.hash := sha256(head.last_hash || convert_to(audit_canonical(NEW), 'UTF8'));
    UPDATE audit_head SET last_id = NEW.id, last_hash = NEW.hash;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_chain();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION wangge_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_refuse_change();
