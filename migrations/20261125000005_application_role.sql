-- The role the server runs its requests as. Migrations, imports and the demo loader run as
-- the database owner; the server's pool switches every connection to `wangge_app`, which may
-- read and write the domain tables but may not alter the audit trail or the incident
-- timeline (no UPDATE, DELETE or TRUNCATE), nor touch the schema.
--
-- Roles belong to the whole cluster, so several wangge databases share this one; creating it
-- races when test databases are built in parallel, hence the exception handler.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'wangge_app') THEN
        CREATE ROLE wangge_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The session owner must be a member to switch to it (a superuser already may).
DO $$
BEGIN
    EXECUTE format('GRANT wangge_app TO %I', current_user);
EXCEPTION WHEN duplicate_object OR unique_violation OR invalid_grant_operation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO wangge_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO wangge_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO wangge_app;

-- Append-only: rows may be added and read, never changed or removed.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, incident_event FROM wangge_app;
-- The chain's head is moved only by the chaining trigger, which runs as the owner.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_head FROM wangge_app;
ALTER FUNCTION audit_chain() SECURITY DEFINER SET search_path = public, pg_temp;
-- Bookkeeping the server only reads.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations, dataset_load, spatial_ref_sys
    FROM wangge_app;

-- Tables later migrations create get the same defaults; each migration revokes what it must.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO wangge_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO wangge_app;
