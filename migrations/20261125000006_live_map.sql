-- The live map: what operators watch (assignee, deadline, overdue), and change notifications
-- that keep cached tiles fresh and feed the live WebSocket.

-- Who has a case, and by when the tier now holding it must finish it.
ALTER TABLE incident ADD COLUMN assignee_id bigint REFERENCES grid_worker (id);
ALTER TABLE incident ADD COLUMN due_at timestamptz;
CREATE INDEX incident_assignee_idx ON incident (assignee_id);
CREATE INDEX incident_open_due_idx ON incident (due_at)
    WHERE status NOT IN ('resolved', 'closed', 'rejected', 'duplicate');

-- The reporter, sealed like residents' data (AES-256-GCM, key outside the database) and shown
-- only to roles that need to call them back.
ALTER TABLE incident ADD COLUMN reporter_name_enc bytea;
ALTER TABLE incident ADD COLUMN reporter_phone_enc bytea;

-- Hours each tier has to finish a case, by severity. Issue-level configuration per category
-- can refine this later; the tiers and severities are fixed by the domain.
CREATE TABLE incident_deadline (
    severity incident_severity NOT NULL,
    tier     incident_tier NOT NULL,
    hours    integer NOT NULL CHECK (hours > 0),
    PRIMARY KEY (severity, tier)
);
INSERT INTO incident_deadline (severity, tier, hours)
SELECT s.severity::incident_severity, t.tier::incident_tier, s.base * t.factor
FROM (VALUES ('minor', 72), ('moderate', 48), ('major', 24), ('critical', 8)) AS s (severity, base),
     (VALUES ('village', 1), ('township', 2), ('county', 3), ('city', 4)) AS t (tier, factor);

-- Cases already loaded get their deadline from when they last changed hands.
UPDATE incident i SET due_at = i.updated_at + make_interval(hours => d.hours)
FROM incident_deadline d
WHERE d.severity = i.severity AND d.tier = i.tier;

-- Change notifications ----------------------------------------------------------------------
-- Every committed change to something the map shows sends one notification on channel
-- `wangge_change`: the kind, the id, and the lon/lat box the change touches (old and new
-- geometry together), so the server can drop exactly the cached tiles it touches and push the
-- change to live clients. PostgreSQL delivers notifications after commit, in commit order,
-- whoever wrote (the server, the command line, psql). Bulk loads set `wangge.bulk_load` and
-- announce one `{"e":"all"}` instead of a notification per row.

CREATE FUNCTION wangge_box(a geometry, b geometry) RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT CASE WHEN e IS NULL THEN NULL
                ELSE json_build_array(ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)) END
    FROM (SELECT ST_Extent(g)::box2d AS e FROM (VALUES (a), (b)) AS v (g)) AS x
);

CREATE FUNCTION wangge_bulk_loading() RETURNS boolean
LANGUAGE sql STABLE
RETURN coalesce(current_setting('wangge.bulk_load', true), '') = 'on';

CREATE FUNCTION wangge_notify_incident() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_cell geometry;
    new_cell geometry;
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF TG_OP <> 'INSERT' THEN
        SELECT geom INTO old_cell FROM grid_cell WHERE id = OLD.grid_cell_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT geom INTO new_cell FROM grid_cell WHERE id = NEW.grid_cell_id;
    END IF;
    PERFORM pg_notify('wangge_change', json_build_object(
        'e', 'incident',
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        'b', wangge_box(CASE WHEN TG_OP <> 'INSERT' THEN OLD.geom END,
                        CASE WHEN TG_OP <> 'DELETE' THEN NEW.geom END),
        'c', wangge_box(old_cell, new_cell))::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER incident_notify AFTER INSERT OR UPDATE OR DELETE ON incident
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_incident();

CREATE FUNCTION wangge_notify_worker() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    PERFORM pg_notify('wangge_change', json_build_object(
        'e', 'worker',
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        'b', wangge_box(CASE WHEN TG_OP <> 'INSERT' THEN OLD.last_position END,
                        CASE WHEN TG_OP <> 'DELETE' THEN NEW.last_position END))::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER grid_worker_notify AFTER INSERT OR UPDATE OR DELETE ON grid_worker
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_worker();

-- A worker joining or leaving a cell changes that cell's worker count on the map.
CREATE FUNCTION wangge_notify_worker_cell() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    PERFORM pg_notify('wangge_change', json_build_object(
        'e', 'grid_cell',
        'id', g.id,
        'b', wangge_box(g.geom, NULL))::text)
    FROM grid_cell g
    WHERE g.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.grid_cell_id ELSE NEW.grid_cell_id END;
    RETURN NULL;
END;
$$;
CREATE TRIGGER grid_worker_cell_notify AFTER INSERT OR UPDATE OR DELETE ON grid_worker_cell
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_worker_cell();

-- Areas, households and facilities: the same shape, by table.
CREATE FUNCTION wangge_notify_geometry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    PERFORM pg_notify('wangge_change', json_build_object(
        'e', TG_TABLE_NAME,
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        'b', wangge_box(CASE WHEN TG_OP <> 'INSERT' THEN OLD.geom END,
                        CASE WHEN TG_OP <> 'DELETE' THEN NEW.geom END))::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER grid_cell_notify AFTER INSERT OR UPDATE OR DELETE ON grid_cell
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_geometry();
CREATE TRIGGER admin_unit_notify AFTER INSERT OR UPDATE OR DELETE ON admin_unit
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_geometry();
CREATE TRIGGER household_notify AFTER INSERT OR UPDATE OR DELETE ON household
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_geometry();
CREATE TRIGGER facility_notify AFTER INSERT OR UPDATE OR DELETE ON facility
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_geometry();

-- Publishing another plan changes every grid cell on the map at once.
CREATE FUNCTION wangge_notify_plan() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    PERFORM pg_notify('wangge_change', json_build_object('e', 'grid_plan', 'id', NEW.id)::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER grid_plan_notify AFTER INSERT OR UPDATE ON grid_plan
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_plan();
