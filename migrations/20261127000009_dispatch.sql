-- Dispatch: positions reported by field devices (kept by day, purged after an age), what
-- dispatch must know of a worker (sign-in, skills, capacity, caseload, cover), and the
-- bookkeeping that keeps the server's in-memory dispatch index exactly in step.

-- Skills ----------------------------------------------------------------------------------------

CREATE TABLE worker_skill (
    code    text PRIMARY KEY CHECK (code ~ '^[a-z_]{2,40}$'),
    name_zh text NOT NULL,
    name_en text NOT NULL
);

INSERT INTO worker_skill (code, name_zh, name_en) VALUES
    ('mediation',    '人民调解',     'Mediation'),
    ('medical',      '医患纠纷调处', 'Medical disputes'),
    ('elderly_care', '养老关爱',     'Elderly care'),
    ('legal',        '法律服务',     'Legal aid'),
    ('labour',       '劳动保障',     'Labour and wages'),
    ('land',         '土地山林',     'Land and forest rights'),
    ('safety',       '治安防范',     'Public safety');

-- The skill a category's cases call for: workers who have it rank first within their group.
ALTER TABLE incident_category ADD COLUMN skill text REFERENCES worker_skill (code);
UPDATE incident_category SET skill = CASE code
    WHEN 'neighbour' THEN 'mediation'
    WHEN 'family' THEN 'mediation'
    WHEN 'land' THEN 'land'
    WHEN 'labour' THEN 'labour'
    WHEN 'medical' THEN 'medical'
    WHEN 'property_mgmt' THEN 'mediation'
    WHEN 'traffic' THEN 'legal'
    WHEN 'demolition' THEN 'legal'
    WHEN 'debt' THEN 'legal'
    WHEN 'public_security' THEN 'safety'
    END;

-- Workers ---------------------------------------------------------------------------------------

-- Every committed change to a worker takes a new, larger version: the in-memory index keeps
-- the newest copy of each worker whatever order copies reach it in.
CREATE SEQUENCE grid_worker_version_seq;

ALTER TABLE grid_worker
    -- The worker's own sign-in (role worker), for their device's positions and their cases.
    ADD COLUMN user_id bigint UNIQUE REFERENCES app_user (id),
    ADD COLUMN skills text[] NOT NULL DEFAULT '{}',
    -- Most open cases (assigned, accepted, in progress) the worker may hold at once.
    ADD COLUMN capacity integer NOT NULL DEFAULT 8 CHECK (capacity BETWEEN 0 AND 200),
    -- Open cases held now: kept by the trigger below, never written by the server.
    ADD COLUMN caseload integer NOT NULL DEFAULT 0 CHECK (caseload >= 0),
    -- Who takes this worker's cells' cases while they are away (off duty).
    ADD COLUMN cover_worker_id bigint REFERENCES grid_worker (id),
    ADD COLUMN last_accuracy_m real CHECK (last_accuracy_m >= 0),
    ADD COLUMN version bigint NOT NULL DEFAULT nextval('grid_worker_version_seq'),
    ADD CONSTRAINT grid_worker_not_own_cover CHECK (cover_worker_id <> id);

CREATE FUNCTION wangge_check_worker_skills() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unknown text;
BEGIN
    SELECT s INTO unknown FROM unnest(NEW.skills) AS s
    WHERE NOT EXISTS (SELECT 1 FROM worker_skill k WHERE k.code = s) LIMIT 1;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown skill %', unknown
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'grid_worker_skills_known';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER grid_worker_skills_known BEFORE INSERT OR UPDATE OF skills ON grid_worker
    FOR EACH ROW EXECUTE FUNCTION wangge_check_worker_skills();

CREATE FUNCTION wangge_worker_new_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('grid_worker_version_seq');
    RETURN NEW;
END;
$$;
CREATE TRIGGER grid_worker_version BEFORE UPDATE ON grid_worker
    FOR EACH ROW EXECUTE FUNCTION wangge_worker_new_version();

-- Joining or leaving a cell is a change to the worker (dispatch ranks by cell).
CREATE FUNCTION wangge_touch_workers_of_cells() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    -- Each branch reads only the transition tables its operation has.
    IF TG_OP = 'INSERT' THEN
        UPDATE grid_worker SET version = version WHERE id IN (SELECT worker_id FROM new_rows);
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE grid_worker SET version = version
        WHERE id IN (SELECT worker_id FROM new_rows UNION SELECT worker_id FROM old_rows);
    ELSE
        UPDATE grid_worker SET version = version WHERE id IN (SELECT worker_id FROM old_rows);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER grid_worker_cell_touch_insert AFTER INSERT ON grid_worker_cell
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_touch_workers_of_cells();
CREATE TRIGGER grid_worker_cell_touch_update AFTER UPDATE ON grid_worker_cell
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_touch_workers_of_cells();
CREATE TRIGGER grid_worker_cell_touch_delete AFTER DELETE ON grid_worker_cell
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_touch_workers_of_cells();

-- Caseload: open cases per assignee, counted as cases change, so that assigning beyond a
-- worker's capacity fails on the worker's row (which serialises concurrent assignments to
-- one worker: the second waits for the first, then sees its count).
CREATE FUNCTION wangge_is_open_case(status incident_status) RETURNS boolean
LANGUAGE sql IMMUTABLE
RETURN status IN ('assigned', 'accepted', 'in_progress');

CREATE FUNCTION wangge_count_caseload() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    held_before bigint;
    held_after bigint;
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF TG_OP <> 'INSERT' AND wangge_is_open_case(OLD.status) THEN
        held_before := OLD.assignee_id;
    END IF;
    IF TG_OP <> 'DELETE' AND wangge_is_open_case(NEW.status) THEN
        held_after := NEW.assignee_id;
    END IF;
    IF held_before IS NOT DISTINCT FROM held_after THEN
        RETURN NULL;
    END IF;
    IF held_before IS NOT NULL THEN
        UPDATE grid_worker SET caseload = caseload - 1 WHERE id = held_before;
    END IF;
    IF held_after IS NOT NULL THEN
        UPDATE grid_worker SET caseload = caseload + 1 WHERE id = held_after;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER incident_caseload_insert AFTER INSERT ON incident
    FOR EACH ROW WHEN (NEW.assignee_id IS NOT NULL)
    EXECUTE FUNCTION wangge_count_caseload();
CREATE TRIGGER incident_caseload_update AFTER UPDATE OF assignee_id, status ON incident
    FOR EACH ROW WHEN (OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
                       OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION wangge_count_caseload();
CREATE TRIGGER incident_caseload_delete AFTER DELETE ON incident
    FOR EACH ROW WHEN (OLD.assignee_id IS NOT NULL)
    EXECUTE FUNCTION wangge_count_caseload();

-- Counts every caseload again (after a bulk load, which skips the trigger); a capacity below
-- what a worker already holds is raised to it.
CREATE FUNCTION wangge_recount_caseloads() RETURNS void
LANGUAGE sql
BEGIN ATOMIC
    UPDATE grid_worker w
    SET caseload = c.held, capacity = greatest(w.capacity, c.held)
    FROM (SELECT w2.id, count(i.id) AS held
          FROM grid_worker w2
          LEFT JOIN incident i ON i.assignee_id = w2.id AND wangge_is_open_case(i.status)
          GROUP BY w2.id) c
    WHERE c.id = w.id AND (w.caseload <> c.held OR w.capacity < c.held);
END;

SELECT wangge_recount_caseloads();
ALTER TABLE grid_worker ADD CONSTRAINT grid_worker_within_capacity CHECK (caseload <= capacity);

-- Change notices for workers per statement (a batch of positions is one statement), with
-- the version, so the dispatch index skips re-reading a worker it already holds.
CREATE FUNCTION wangge_worker_notice(id bigint, v bigint, b box2d) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN json_build_object(
           'e', 'worker', 'id', id, 'v', v,
           'b', CASE WHEN b IS NOT NULL
                     THEN json_build_array(ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)) END)::text;

CREATE FUNCTION wangge_notify_workers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_notify('wangge_change', wangge_worker_notice(n.id, n.version, n.last_position::box2d))
        FROM (SELECT * FROM new_rows ORDER BY id) n;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM pg_notify('wangge_change',
                          wangge_worker_notice(n.id, n.version,
                                               ST_CombineBBox(n.last_position::box2d, o.last_position)))
        FROM (SELECT * FROM new_rows ORDER BY id) n JOIN old_rows o ON o.id = n.id;
    ELSE
        PERFORM pg_notify('wangge_change', wangge_worker_notice(o.id, NULL, o.last_position::box2d))
        FROM (SELECT * FROM old_rows ORDER BY id) o;
    END IF;
    RETURN NULL;
END;
$$;
DROP TRIGGER grid_worker_notify ON grid_worker;
DROP FUNCTION wangge_notify_worker();
CREATE TRIGGER grid_worker_notify_insert AFTER INSERT ON grid_worker
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_workers();
CREATE TRIGGER grid_worker_notify_update AFTER UPDATE ON grid_worker
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_workers();
CREATE TRIGGER grid_worker_notify_delete AFTER DELETE ON grid_worker
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_notify_workers();

-- Position history ----------------------------------------------------------------------------

-- Every position a device reported, for replay and audit: one partition per UTC day, so
-- purging old history drops whole tables instead of deleting rows. Append-only for the server.
CREATE TABLE worker_position (
    worker_id   bigint NOT NULL REFERENCES grid_worker (id),
    -- When the device took the fix.
    at          timestamptz NOT NULL,
    geom        geometry(Point, 4326) NOT NULL
        CHECK (wangge_in_lonlat_bounds(geom) AND NOT ST_IsEmpty(geom)),
    accuracy_m  real CHECK (accuracy_m >= 0),
    received_at timestamptz NOT NULL DEFAULT now(),
    -- A device resending a fix it already sent changes nothing.
    PRIMARY KEY (worker_id, at)
) PARTITION BY RANGE (at);

REVOKE UPDATE, DELETE, TRUNCATE ON worker_position FROM wangge_app;

-- Makes sure there is a partition for each UTC day from `keep_days` ago to `ahead_days`
-- ahead, and drops the partitions wholly older than `keep_days`. Runs as the owner (the
-- server may not create or drop tables itself); the server calls it at start and hourly.
CREATE FUNCTION wangge_worker_position_partitions(keep_days integer, ahead_days integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    day date;
    part text;
BEGIN
    IF keep_days < 1 OR ahead_days < 1 THEN
        RAISE EXCEPTION 'keep_days and ahead_days must be at least 1';
    END IF;
    FOR day IN SELECT generate_series(today - keep_days, today + ahead_days, interval '1 day')::date
    LOOP
        part := 'worker_position_' || to_char(day, 'YYYYMMDD');
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF worker_position
                            FOR VALUES FROM (%L) TO (%L)',
                           part, day::timestamp AT TIME ZONE 'UTC',
                           (day + 1)::timestamp AT TIME ZONE 'UTC');
        END IF;
    END LOOP;
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'worker_position'::regclass
          AND c.relname < 'worker_position_' || to_char(today - keep_days, 'YYYYMMDD')
    LOOP
        EXECUTE format('DROP TABLE %I', part);
    END LOOP;
END;
$$;
REVOKE ALL ON FUNCTION wangge_worker_position_partitions(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wangge_worker_position_partitions(integer, integer) TO wangge_app;

SELECT wangge_worker_position_partitions(30, 2);

-- Automatic dispatch --------------------------------------------------------------------------

-- Where (an administrative unit's code: every case inside the unit) and for which category
-- (NULL: all), a new located case nobody has touched within `delay_s` goes to its
-- top-ranked worker. The most specific rule for a case applies (the smallest unit, then a
-- category's own rule before the catch-all). Only cases reported after the rule was
-- made are dispatched: making a rule does not sweep a backlog.
CREATE TABLE auto_dispatch_rule (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category   text REFERENCES incident_category (code),
    area_code  text NOT NULL CHECK (area_code ~ '^[0-9]{6}([0-9]{3}([0-9]{3})?)?$'),
    -- What the codes of cases inside the unit start with: a prefecture-level city's code
    -- ends in 00, and its counties' codes share only its first four digits.
    prefix     text NOT NULL GENERATED ALWAYS AS (
        CASE WHEN area_code ~ '^[0-9]{4}00$' THEN left(area_code, 4) ELSE area_code END) STORED,
    delay_s    integer NOT NULL DEFAULT 300 CHECK (delay_s BETWEEN 0 AND 86400),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT auto_dispatch_rule_once UNIQUE NULLS NOT DISTINCT (category, area_code)
);

ALTER TYPE incident_event_kind ADD VALUE 'declined';
