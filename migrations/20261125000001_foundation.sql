-- The foundation schema: administrative units, grid plans and cells, households and residents,
-- facilities, grid workers, incidents and their timeline.
--
-- Conventions:
-- * Every geometry is stored in EPSG:4326 (WGS-84 longitude/latitude, x = longitude). Column
--   type modifiers enforce the SRID and geometry type; CHECK constraints enforce validity and
--   coordinate bounds. Distances and areas are computed on geography or a metric projection.
-- * Every geometry column has a GiST index.
-- * Timestamps are timestamptz (stored in UTC; clients show China Standard Time).
-- * Personal data (residents' names, ID numbers, phones) lives in `resident` only, apart from
--   everything tiles and maps read.

CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- A geometry whose coordinates are plausible longitude/latitude: catches swapped axes and
-- projected coordinates that slipped past the importer.
CREATE FUNCTION wangge_in_lonlat_bounds(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90;

-- Administrative units ------------------------------------------------------------------------

CREATE TYPE admin_level AS ENUM ('city', 'county', 'township', 'village');

CREATE TABLE admin_unit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    level       admin_level NOT NULL,
    -- Official statistics-bureau code: 6 digits for city and county, 9 for township/street,
    -- 12 for village/community.
    code        text NOT NULL,
    name        text NOT NULL CHECK (length(btrim(name)) > 0),
    parent_id   bigint,
    -- The level the parent must have; with the composite foreign key below, a county can only
    -- hang under a city, a township under a county, a village under a township.
    parent_level admin_level GENERATED ALWAYS AS (
        CASE level
            WHEN 'county' THEN 'city'::admin_level
            WHEN 'township' THEN 'county'::admin_level
            WHEN 'village' THEN 'township'::admin_level
        END
    ) STORED,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT admin_unit_code_unique_per_level UNIQUE (level, code),
    CONSTRAINT admin_unit_id_level UNIQUE (id, level),
    CONSTRAINT admin_unit_parent_fk FOREIGN KEY (parent_id, parent_level)
        REFERENCES admin_unit (id, level),
    CONSTRAINT admin_unit_parent_required CHECK ((level = 'city') = (parent_id IS NULL)),
    CONSTRAINT admin_unit_code_format CHECK (
        CASE level
            WHEN 'city' THEN code ~ '^[0-9]{6}$'
            WHEN 'county' THEN code ~ '^[0-9]{6}$'
            WHEN 'township' THEN code ~ '^[0-9]{9}$'
            WHEN 'village' THEN code ~ '^[0-9]{12}$'
        END
    ),
    CONSTRAINT admin_unit_geom_valid CHECK (ST_IsValid(geom)),
    CONSTRAINT admin_unit_geom_lonlat CHECK (wangge_in_lonlat_bounds(geom))
);
CREATE INDEX admin_unit_geom_idx ON admin_unit USING gist (geom);
CREATE INDEX admin_unit_parent_idx ON admin_unit (parent_id);
CREATE INDEX admin_unit_level_idx ON admin_unit (level);

-- Grid plans and cells ------------------------------------------------------------------------

CREATE TYPE grid_plan_status AS ENUM ('draft', 'published', 'archived');

CREATE TABLE grid_plan (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version      integer NOT NULL UNIQUE CHECK (version > 0),
    name         text NOT NULL,
    status       grid_plan_status NOT NULL DEFAULT 'draft',
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    archived_at  timestamptz,
    CONSTRAINT grid_plan_published_at CHECK ((status = 'draft') = (published_at IS NULL)),
    CONSTRAINT grid_plan_archived_at CHECK ((status = 'archived') = (archived_at IS NOT NULL))
);
-- Exactly one plan is the published one (at most one by this index; publishing swaps in a
-- single transaction).
CREATE UNIQUE INDEX grid_plan_single_published ON grid_plan ((true)) WHERE status = 'published';

CREATE TABLE grid_cell (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id       bigint NOT NULL REFERENCES grid_plan (id),
    village_id    bigint NOT NULL,
    village_level admin_level NOT NULL GENERATED ALWAYS AS ('village'::admin_level) STORED,
    code          text NOT NULL CHECK (code ~ '^[0-9A-Za-z-]{1,40}$'),
    name          text NOT NULL CHECK (length(btrim(name)) > 0),
    geom          geometry(MultiPolygon, 4326) NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT grid_cell_code_unique_per_plan UNIQUE (plan_id, code),
    CONSTRAINT grid_cell_village_fk FOREIGN KEY (village_id, village_level)
        REFERENCES admin_unit (id, level),
    CONSTRAINT grid_cell_geom_valid CHECK (ST_IsValid(geom)),
    CONSTRAINT grid_cell_geom_lonlat CHECK (wangge_in_lonlat_bounds(geom))
);
CREATE INDEX grid_cell_geom_idx ON grid_cell USING gist (geom);
CREATE INDEX grid_cell_plan_idx ON grid_cell (plan_id);
CREATE INDEX grid_cell_village_idx ON grid_cell (village_id);

-- Households and residents --------------------------------------------------------------------

CREATE TABLE household (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address       text NOT NULL CHECK (length(btrim(address)) > 0),
    size          smallint NOT NULL CHECK (size BETWEEN 1 AND 60),
    village_id    bigint NOT NULL,
    village_level admin_level NOT NULL GENERATED ALWAYS AS ('village'::admin_level) STORED,
    geom          geometry(Point, 4326) NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT household_village_fk FOREIGN KEY (village_id, village_level)
        REFERENCES admin_unit (id, level),
    CONSTRAINT household_geom_lonlat CHECK (wangge_in_lonlat_bounds(geom) AND NOT ST_IsEmpty(geom))
);
CREATE INDEX household_geom_idx ON household USING gist (geom);
CREATE INDEX household_village_idx ON household (village_id);

-- Personal data: kept apart from everything tiles and maps read. A later migration encrypts
-- id_number and phone and guards reads with audit.
CREATE TABLE resident (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    household_id bigint NOT NULL REFERENCES household (id) ON DELETE CASCADE,
    name         text NOT NULL,
    id_number    text,
    phone        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resident_household_idx ON resident (household_id);

-- Facilities ----------------------------------------------------------------------------------

CREATE TYPE facility_kind AS ENUM (
    'governance_centre',       -- 综治维稳信访中心: township one-stop reception
    'service_station',         -- 为民服务站
    'migrant_service_station', -- 流动人口综合服务站
    'mediation_organisation',  -- 调解组织
    'police_station',          -- 派出所
    'school',                  -- 学校
    'hospital',                -- 医院
    'resettlement_base'        -- 过渡性安置基地
);

CREATE TABLE facility (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          facility_kind NOT NULL,
    name          text NOT NULL CHECK (length(btrim(name)) > 0),
    address       text,
    admin_unit_id bigint NOT NULL REFERENCES admin_unit (id),
    geom          geometry(Point, 4326) NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT facility_geom_lonlat CHECK (wangge_in_lonlat_bounds(geom) AND NOT ST_IsEmpty(geom))
);
CREATE INDEX facility_geom_idx ON facility USING gist (geom);
CREATE INDEX facility_kind_idx ON facility (kind);

-- Grid workers --------------------------------------------------------------------------------

CREATE TYPE worker_status AS ENUM ('available', 'busy', 'off_duty');

CREATE TABLE grid_worker (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (length(btrim(name)) > 0),
    phone         text NOT NULL,
    status        worker_status NOT NULL DEFAULT 'off_duty',
    last_position geometry(Point, 4326),
    last_seen_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT grid_worker_position_seen CHECK ((last_position IS NULL) = (last_seen_at IS NULL)),
    CONSTRAINT grid_worker_geom_lonlat CHECK (
        last_position IS NULL OR (wangge_in_lonlat_bounds(last_position) AND NOT ST_IsEmpty(last_position))
    )
);
CREATE INDEX grid_worker_position_idx ON grid_worker USING gist (last_position);

CREATE TABLE grid_worker_cell (
    worker_id    bigint NOT NULL REFERENCES grid_worker (id) ON DELETE CASCADE,
    grid_cell_id bigint NOT NULL REFERENCES grid_cell (id),
    PRIMARY KEY (worker_id, grid_cell_id)
);
CREATE INDEX grid_worker_cell_cell_idx ON grid_worker_cell (grid_cell_id);

-- Incidents -----------------------------------------------------------------------------------

CREATE TYPE incident_status AS ENUM (
    'reported', 'assigned', 'accepted', 'in_progress', 'resolved', 'closed', 'rejected', 'duplicate'
);
CREATE TYPE incident_tier AS ENUM ('village', 'township', 'county', 'city');
CREATE TYPE incident_severity AS ENUM ('minor', 'moderate', 'major', 'critical');

CREATE TABLE incident_category (
    code    text PRIMARY KEY CHECK (code ~ '^[a-z_]{2,40}$'),
    name_zh text NOT NULL,
    name_en text NOT NULL
);

INSERT INTO incident_category (code, name_zh, name_en) VALUES
    ('neighbour',        '邻里纠纷',     'Neighbour dispute'),
    ('family',           '婚姻家庭纠纷', 'Marriage and family dispute'),
    ('land',             '土地山林权属纠纷', 'Land and forest rights dispute'),
    ('labour',           '劳动争议',     'Labour dispute'),
    ('medical',          '医患纠纷',     'Medical dispute'),
    ('property_mgmt',    '物业纠纷',     'Property management dispute'),
    ('traffic',          '交通事故纠纷', 'Traffic accident dispute'),
    ('demolition',       '征地拆迁纠纷', 'Land requisition and demolition dispute'),
    ('debt',             '合同债务纠纷', 'Contract and debt dispute'),
    ('environment',      '环境污染纠纷', 'Environmental pollution dispute'),
    ('public_security',  '治安隐患',     'Public security hazard'),
    ('public_service',   '公共服务诉求', 'Public service request');

CREATE TABLE incident (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category      text NOT NULL REFERENCES incident_category (code),
    severity      incident_severity NOT NULL,
    status        incident_status NOT NULL DEFAULT 'reported',
    -- The tier now handling the case; starts at the village and moves up on escalation.
    tier          incident_tier NOT NULL DEFAULT 'village',
    -- The tier at which the case was finally resolved (the headline figure).
    resolved_tier incident_tier,
    title         text NOT NULL CHECK (length(btrim(title)) > 0),
    description   text NOT NULL DEFAULT '',
    geom          geometry(Point, 4326) NOT NULL,
    grid_cell_id  bigint REFERENCES grid_cell (id),
    village_id    bigint,
    township_id   bigint,
    county_id     bigint,
    village_level  admin_level NOT NULL GENERATED ALWAYS AS ('village'::admin_level) STORED,
    township_level admin_level NOT NULL GENERATED ALWAYS AS ('township'::admin_level) STORED,
    county_level   admin_level NOT NULL GENERATED ALWAYS AS ('county'::admin_level) STORED,
    reported_at   timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    closed_at     timestamptz,
    CONSTRAINT incident_village_fk FOREIGN KEY (village_id, village_level) REFERENCES admin_unit (id, level),
    CONSTRAINT incident_township_fk FOREIGN KEY (township_id, township_level) REFERENCES admin_unit (id, level),
    CONSTRAINT incident_county_fk FOREIGN KEY (county_id, county_level) REFERENCES admin_unit (id, level),
    CONSTRAINT incident_geom_lonlat CHECK (wangge_in_lonlat_bounds(geom) AND NOT ST_IsEmpty(geom)),
    CONSTRAINT incident_resolution CHECK ((resolved_at IS NULL) = (resolved_tier IS NULL)),
    CONSTRAINT incident_resolved_status CHECK (
        (status IN ('resolved', 'closed')) = (resolved_at IS NOT NULL)
    ),
    CONSTRAINT incident_closed_status CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    CONSTRAINT incident_time_order CHECK (
        updated_at >= reported_at
        AND (resolved_at IS NULL OR resolved_at >= reported_at)
        AND (closed_at IS NULL OR (resolved_at IS NOT NULL AND closed_at >= resolved_at))
    )
);
CREATE INDEX incident_geom_idx ON incident USING gist (geom);
CREATE INDEX incident_status_idx ON incident (status);
CREATE INDEX incident_reported_at_idx ON incident (reported_at);
CREATE INDEX incident_grid_cell_idx ON incident (grid_cell_id);
CREATE INDEX incident_village_idx ON incident (village_id);
CREATE INDEX incident_township_idx ON incident (township_id);
CREATE INDEX incident_county_idx ON incident (county_id);

CREATE TYPE incident_event_kind AS ENUM (
    'reported', 'assigned', 'accepted', 'started', 'escalated', 'resolved', 'closed',
    'rejected', 'marked_duplicate', 'reassigned', 'note'
);

-- The timeline: append-only. Rows are never updated or deleted (the trigger below refuses it,
-- whoever asks; a later migration also revokes the privileges from the application role).
CREATE TABLE incident_event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incident (id),
    at          timestamptz NOT NULL DEFAULT now(),
    kind        incident_event_kind NOT NULL,
    status      incident_status NOT NULL,
    tier        incident_tier NOT NULL,
    actor       text NOT NULL,
    note        text NOT NULL DEFAULT ''
);
CREATE INDEX incident_event_incident_idx ON incident_event (incident_id, at);

CREATE FUNCTION wangge_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER incident_event_append_only
    BEFORE UPDATE OR DELETE ON incident_event
    FOR EACH ROW EXECUTE FUNCTION wangge_refuse_change();
CREATE TRIGGER incident_event_no_truncate
    BEFORE TRUNCATE ON incident_event
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_refuse_change();

-- Data sets loaded into this database (the demo, imports): lets `wangge demo` tell a loaded
-- database from one whose load was interrupted.
CREATE TABLE dataset_load (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}',
    finished_at timestamptz NOT NULL DEFAULT now()
);
