-- Open, placed cases by category and place: what the duplicate suggestion at intake searches,
-- nearest first (and what dispatch will search). Most cases are closed, so the full geometry
-- index made that search visit and discard many closed cases, and cases of other categories,
-- around each report. btree_gist lets the category lead the GiST index.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE INDEX incident_open_geom_idx ON incident USING gist (category, geom)
    WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress')
      AND location_method <> 'area';

-- The audit chain's head is written once per statement instead of once per row. Rewriting
-- the one-row head for every row left a chain of versions the same transaction had to walk
-- on the next row, so an audited insert of n rows cost O(n²): a group of 64 reports spent
-- more on its audit rows than on the reports. A row now chains onto the newest row of its
-- own statement when there is one (rows a statement inserted earlier are visible to its row
-- triggers), else onto the head, which stays locked from the first row to the commit; the
-- statement's last row becomes the head when the statement ends. Only these triggers write
-- ids and hashes, so the application role still cannot choose them.
CREATE OR REPLACE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head audit_head;
    last_id bigint;
    last_hash bytea;
BEGIN
    SELECT * INTO head FROM audit_head FOR UPDATE;
    SELECT a.id, a.hash INTO last_id, last_hash
    FROM audit_log a WHERE a.id > head.last_id ORDER BY a.id DESC LIMIT 1;
    IF NOT FOUND THEN
        last_id := head.last_id;
        last_hash := head.last_hash;
    END IF;
    NEW.id := last_id + 1;
    NEW.at := date_trunc('microseconds', coalesce(NEW.at, clock_timestamp()));
    NEW.prev_hash := last_hash;
    NEW.hash := sha256(last_hash || convert_to(audit_canonical(NEW), 'UTF8'));
    RETURN NEW;
END;
$$;

CREATE FUNCTION audit_advance_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE audit_head h SET last_id = n.id, last_hash = n.hash
    FROM (SELECT a.id, a.hash FROM audit_log a, audit_head h0
          WHERE a.id > h0.last_id ORDER BY a.id DESC LIMIT 1) n;
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_log_advance_head AFTER INSERT ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_advance_head();

-- A photo or video of the matter, as Open311's media_url (and the native API) give it: a
-- link the reporter's app uploaded elsewhere.
ALTER TABLE incident ADD COLUMN media_url text
    CHECK (media_url IS NULL OR (length(media_url) <= 2048 AND media_url ~ '^https?://[^[:space:]]+$'));

-- One notice: the case, the box its place changed in, and its grid cells' box.
CREATE FUNCTION wangge_incident_notice(id bigint, b box2d, c box2d) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN json_build_object(
           'e', 'incident', 'id', id,
           'b', json_build_array(ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)),
           'c', CASE WHEN c IS NOT NULL
                     THEN json_build_array(ST_XMin(c), ST_YMin(c), ST_XMax(c), ST_YMax(c)) END)::text;

-- Change notices for incidents per statement rather than per row: one call reads the
-- statement's rows (a group of reports is one insert) instead of one trigger call for each.
-- The notices are the same, one per row.
CREATE OR REPLACE FUNCTION wangge_notify_incidents() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('wangge_change', wangge_incident_notice(n.id, n.b, n.c))
        FROM (SELECT n.id, n.geom::box2d AS b, g.geom::box2d AS c
              FROM new_rows n LEFT JOIN grid_cell g ON g.id = n.grid_cell_id
              ORDER BY n.id) n;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM pg_notify('wangge_change', wangge_incident_notice(x.id, x.b, x.c))
        FROM (SELECT n.id, ST_CombineBBox(n.geom::box2d, o.geom) AS b,
                     ST_CombineBBox(gn.geom::box2d, go.geom) AS c
              FROM new_rows n JOIN old_rows o ON o.id = n.id
              LEFT JOIN grid_cell gn ON gn.id = n.grid_cell_id
              LEFT JOIN grid_cell go ON go.id = o.grid_cell_id
              ORDER BY n.id) x;
    ELSE
        PERFORM pg_notify('wangge_change', wangge_incident_notice(o.id, o.b, o.c))
        FROM (SELECT o.id, o.geom::box2d AS b, g.geom::box2d AS c
              FROM old_rows o LEFT JOIN grid_cell g ON g.id = o.grid_cell_id
              ORDER BY o.id) o;
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER incident_notify ON incident;
DROP FUNCTION wangge_notify_incident();
CREATE TRIGGER incident_notify_insert AFTER INSERT ON incident
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_incidents();
CREATE TRIGGER incident_notify_update AFTER UPDATE ON incident
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_incidents();
CREATE TRIGGER incident_notify_delete AFTER DELETE ON incident
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_incidents();

-- Fewer indexes for each new case to update. No query looks cases up by status alone (the
-- open ones have their partial indexes) or by county, township or village id (areas are
-- read through area_code); units are never deleted, so their foreign keys need no index on
-- this side. Only assigned cases are looked up by assignee. Open311 tokens are now made in
-- time order (UUIDv7), so their index grows at one end.
DROP INDEX incident_status_idx;
DROP INDEX incident_county_idx;
DROP INDEX incident_township_idx;
DROP INDEX incident_village_idx;
DROP INDEX incident_assignee_idx;
CREATE INDEX incident_assignee_idx ON incident (assignee_id) WHERE assignee_id IS NOT NULL;
