-- Incidents in and through: intake (native and Open311), idempotent retries, geocoding against
-- the address register, lifecycle, tiered escalation with per-category deadlines, leaders who
-- own major cases.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Where an incident is, and how we know -----------------------------------------------------

-- device: the reporter's GPS; geocoded: matched in the address register; manual: placed by a
-- dispatcher; area: only the administrative unit is known, the point is that unit's centre
-- and the case waits for a dispatcher to place it.
CREATE TYPE location_method AS ENUM ('device', 'geocoded', 'manual', 'area');

ALTER TABLE incident
    ADD COLUMN address text CHECK (address IS NULL OR length(address) BETWEEN 1 AND 300),
    ADD COLUMN location_method location_method NOT NULL DEFAULT 'device',
    -- Radius (metres) within which the true place lies, as far as we know.
    ADD COLUMN location_precision_m real CHECK (location_precision_m >= 0),
    -- The finest administrative unit holding the case (a village once placed): what area
    -- scoping reads, so a case known only to its township is still seen by that township.
    ADD COLUMN area_code text,
    ADD COLUMN channel text NOT NULL DEFAULT 'api'
        CHECK (channel IN ('api', 'open311', 'demo', 'simulator')),
    ADD COLUMN reported_by bigint REFERENCES app_user (id),
    -- Open311's token for the request, answered by GET /open311/v2/tokens/{token}.
    ADD COLUMN open311_token uuid UNIQUE,
    -- A named leader who owns a major case until it is solved (包案).
    ADD COLUMN leader text CHECK (leader IS NULL OR length(btrim(leader)) BETWEEN 1 AND 100),
    ADD COLUMN duplicate_of bigint REFERENCES incident (id),
    -- Marking a duplicate names the original (older cases, loaded without it, may not).
    ADD CONSTRAINT incident_duplicate_status CHECK (duplicate_of IS NULL OR status = 'duplicate'),
    ADD CONSTRAINT incident_not_own_duplicate CHECK (duplicate_of <> id);

ALTER TABLE incident ALTER COLUMN village_id DROP NOT NULL;

-- Writers that route a case set area_code themselves; the trigger fills it in for the rest
-- (bulk loads, hand-written SQL) from the finest unit given.
CREATE FUNCTION wangge_incident_area_code() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP = 'INSERT' AND NEW.area_code IS NOT NULL)
       OR (TG_OP = 'UPDATE' AND NEW.area_code IS DISTINCT FROM OLD.area_code) THEN
        RETURN NEW;
    END IF;
    IF num_nonnulls(NEW.village_id, NEW.township_id, NEW.county_id) > 0 THEN
        NEW.area_code := (SELECT code FROM admin_unit
                          WHERE id = coalesce(NEW.village_id, NEW.township_id, NEW.county_id));
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER incident_area_code BEFORE INSERT OR UPDATE OF village_id, township_id, county_id
    ON incident FOR EACH ROW EXECUTE FUNCTION wangge_incident_area_code();

UPDATE incident i SET area_code = a.code FROM admin_unit a WHERE a.id = i.village_id;
ALTER TABLE incident ALTER COLUMN area_code SET NOT NULL;
CREATE INDEX incident_area_code_idx ON incident (area_code text_pattern_ops);
CREATE INDEX incident_category_idx ON incident (category, reported_at);
CREATE INDEX incident_resolved_at_idx ON incident (resolved_at) WHERE resolved_at IS NOT NULL;

-- New timeline entries: placed by hand, a leader named, a resolved case reopened.
ALTER TYPE incident_event_kind ADD VALUE 'located';
ALTER TYPE incident_event_kind ADD VALUE 'leader_assigned';
ALTER TYPE incident_event_kind ADD VALUE 'reopened';

-- Duplicates: a report this close, in space and time, to an open one of the same category is
-- shown as a possible duplicate. Each category has its own reach.
ALTER TABLE incident_category
    ADD COLUMN duplicate_radius_m integer NOT NULL DEFAULT 300
        CHECK (duplicate_radius_m BETWEEN 1 AND 50000),
    ADD COLUMN duplicate_window_hours integer NOT NULL DEFAULT 72
        CHECK (duplicate_window_hours BETWEEN 1 AND 8760);
UPDATE incident_category SET duplicate_radius_m = r, duplicate_window_hours = h
FROM (VALUES ('neighbour', 150, 168), ('family', 50, 720), ('land', 500, 720),
             ('labour', 300, 336), ('medical', 200, 168), ('property_mgmt', 200, 168),
             ('traffic', 300, 24), ('demolition', 1000, 720), ('debt', 100, 720),
             ('environment', 2000, 168), ('public_security', 300, 48),
             ('public_service', 300, 72)) AS v (code, r, h)
WHERE incident_category.code = v.code;

-- Deadlines per tier: the defaults by severity (category NULL), refined per category.
ALTER TABLE incident_deadline DROP CONSTRAINT incident_deadline_pkey;
ALTER TABLE incident_deadline ADD COLUMN category text REFERENCES incident_category (code);
CREATE UNIQUE INDEX incident_deadline_rule_idx
    ON incident_deadline (coalesce(category, ''), severity, tier);
-- Medical disputes and public-security hazards cannot wait as long as the default.
INSERT INTO incident_deadline (category, severity, tier, hours)
SELECT c.category, d.severity, d.tier, greatest(1, d.hours / 2)
FROM incident_deadline d, (VALUES ('medical'), ('public_security')) AS c (category)
WHERE d.category IS NULL;

-- How long a tier has for a case: its category's rule, else the default for its severity.
CREATE FUNCTION wangge_deadline(category text, severity incident_severity, tier incident_tier)
RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
RETURN (
    SELECT make_interval(hours => d.hours) FROM incident_deadline d
    WHERE d.severity = wangge_deadline.severity AND d.tier = wangge_deadline.tier
      AND (d.category = wangge_deadline.category OR d.category IS NULL)
    ORDER BY d.category IS NULL
    LIMIT 1
);

-- Idempotent intake ---------------------------------------------------------------------------
-- A report sent with an Idempotency-Key is stored with its key in the same transaction, so a
-- retry (even one racing the first) gets the first answer back and never a second incident.
CREATE TABLE idempotency_key (
    user_id      bigint NOT NULL REFERENCES app_user (id),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- SHA-256 of the method, path and body: the same key with another request is refused.
    request_hash bytea NOT NULL,
    status       smallint NOT NULL,
    content_type text NOT NULL,
    body         bytea NOT NULL,
    location     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_key_created_idx ON idempotency_key (created_at);

-- The address register ----------------------------------------------------------------------
-- One row per distinct address in a village (households and facilities sharing an address are
-- one place), with the canonical detail the geocoder matches by trigram similarity.
CREATE TABLE address_point (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    village_id    bigint NOT NULL,
    village_level admin_level NOT NULL GENERATED ALWAYS AS ('village'::admin_level) STORED,
    address       text NOT NULL CHECK (length(btrim(address)) > 0),
    detail        text NOT NULL,
    households    integer NOT NULL CHECK (households >= 0),
    geom          geometry(Point, 4326) NOT NULL,
    CONSTRAINT address_point_village_fk FOREIGN KEY (village_id, village_level)
        REFERENCES admin_unit (id, level),
    CONSTRAINT address_point_geom_lonlat CHECK (wangge_in_lonlat_bounds(geom) AND NOT ST_IsEmpty(geom)),
    UNIQUE (village_id, address)
);
CREATE INDEX address_point_village_detail_idx ON address_point (village_id, detail);
CREATE INDEX address_point_detail_trgm_idx ON address_point USING gin (detail gin_trgm_ops);
CREATE INDEX address_point_geom_idx ON address_point USING gist (geom);

-- Change notifications for incidents, cheaper: boxes straight from the geometries' stored
-- bounding boxes, where the first version aggregated over the geometries themselves and so
-- cost three times an incident's own insert.
CREATE OR REPLACE FUNCTION wangge_notify_incident() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    b box2d;
    c box2d;
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF TG_OP <> 'DELETE' THEN
        b := NEW.geom::box2d;
        c := (SELECT geom::box2d FROM grid_cell WHERE id = NEW.grid_cell_id);
    END IF;
    IF TG_OP <> 'INSERT' THEN
        b := ST_CombineBBox(b, OLD.geom);
        c := ST_CombineBBox(c, (SELECT geom FROM grid_cell WHERE id = OLD.grid_cell_id));
    END IF;
    PERFORM pg_notify('wangge_change', json_build_object(
        'e', 'incident',
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        'b', CASE WHEN b IS NOT NULL
                  THEN json_build_array(ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)) END,
        'c', CASE WHEN c IS NOT NULL
                  THEN json_build_array(ST_XMin(c), ST_YMin(c), ST_XMax(c), ST_YMax(c)) END)::text);
    RETURN NULL;
END;
$$;
