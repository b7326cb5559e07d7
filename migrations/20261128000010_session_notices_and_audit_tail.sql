-- Notices for the server's session cache (server/src/auth/cache.rs). A server answers most
-- requests from sessions it looked up moments ago; whatever ends or changes a session or its
-- user elsewhere (the command line, another server, an administrator's SQL) must reach every
-- server at once, so it drops what it holds for that user. Each notice names the user.
--
-- Row triggers: these tables change rarely (a column list keeps the idle clock's touches,
-- a minute apart per busy session, from firing them), and a transaction's identical notices
-- are sent once.
CREATE FUNCTION wangge_notify_session_users() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    user_id bigint;
BEGIN
    IF TG_TABLE_NAME = 'auth_session' THEN
        user_id := OLD.user_id;
    ELSE
        user_id := OLD.id;
    END IF;
    PERFORM pg_notify('wangge_change', json_build_object('e', 'auth', 'id', user_id)::text);
    RETURN NULL;
END;
$$;

-- Revocation and expiry.
CREATE TRIGGER auth_session_notify_update AFTER UPDATE OF revoked_at, expires_at, user_id
    ON auth_session FOR EACH ROW EXECUTE FUNCTION wangge_notify_session_users();
CREATE TRIGGER auth_session_notify_delete AFTER DELETE ON auth_session
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_session_users();
-- Disabling, renaming, a new role or area; not sign-in bookkeeping (failed attempts, lockout).
CREATE TRIGGER app_user_notify_update
    AFTER UPDATE OF username, role, area_unit_id, area_grid_cell_id, disabled_at, password_hash
    ON app_user FOR EACH ROW EXECUTE FUNCTION wangge_notify_session_users();
CREATE TRIGGER app_user_notify_delete AFTER DELETE ON app_user
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_session_users();

-- The audit chain's tail is kept for the rest of the transaction once its first row has
-- locked the head. Locking the head again and finding the statement's newest row cost two
-- queries for every audit row, a fifth of a report's insert at intake. While this
-- transaction holds the head's lock nobody else can append, so the tail it last wrote is the
-- chain's tail. The setting is transaction-local and is undone with a rolled-back savepoint,
-- as are the rows it describes and the lock. Ids and hashes come out exactly as before.
CREATE OR REPLACE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head audit_head;
    tail text := current_setting('wangge.audit_tail', true);
    last_id bigint;
    last_hash bytea;
BEGIN
    IF coalesce(tail, '') <> '' THEN
        last_id := split_part(tail, ':', 1)::bigint;
        last_hash := decode(split_part(tail, ':', 2), 'hex');
    ELSE
        SELECT * INTO head FROM audit_head FOR UPDATE;
        SELECT a.id, a.hash INTO last_id, last_hash
        FROM audit_log a WHERE a.id > head.last_id ORDER BY a.id DESC LIMIT 1;
        IF NOT FOUND THEN
            last_id := head.last_id;
            last_hash := head.last_hash;
        END IF;
    END IF;
    NEW.id := last_id + 1;
    NEW.at := date_trunc('microseconds', coalesce(NEW.at, clock_timestamp()));
    NEW.prev_hash := last_hash;
    NEW.hash := sha256(last_hash || convert_to(audit_canonical(NEW), 'UTF8'));
    PERFORM set_config('wangge.audit_tail', NEW.id || ':' || encode(NEW.hash, 'hex'), true);
    RETURN NEW;
END;
$$;
