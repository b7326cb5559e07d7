-- Grid plans that planners draft, edit, rebalance and publish.
--
-- A draft is a copy of another plan (its `based_on`), owned by the area of the planner who
-- made it: only planners whose area holds that area see it. Every change to a draft is one
-- `grid_plan_edit` row holding the cells as they were before and after it, so each edit
-- can be undone and redone; `revision` counts the plan's changes, and each cell carries the
-- revision that last changed it, so two planners editing the same cells are told apart from
-- two editing different ones.

ALTER TABLE grid_plan
    ADD COLUMN based_on     bigint REFERENCES grid_plan (id),
    ADD COLUMN area_unit_id bigint REFERENCES admin_unit (id),
    ADD COLUMN created_by   bigint REFERENCES app_user (id),
    ADD COLUMN revision     integer NOT NULL DEFAULT 0 CHECK (revision >= 0),
    ADD COLUMN updated_at   timestamptz NOT NULL DEFAULT now();

-- A draft set aside unpublished is archived without ever having been published.
ALTER TABLE grid_plan DROP CONSTRAINT grid_plan_published_at,
    ADD CONSTRAINT grid_plan_published_at CHECK (
        (status <> 'draft' OR published_at IS NULL)
        AND (status <> 'published' OR published_at IS NOT NULL));

ALTER TABLE grid_cell
    ADD COLUMN revision integer NOT NULL DEFAULT 0 CHECK (revision >= 0);

CREATE TYPE grid_plan_edit_kind AS ENUM (
    'move_vertex', 'split', 'merge', 'move_boundary', 'add_cell', 'remove_cell', 'rename',
    'rebalance'
);

CREATE TABLE grid_plan_edit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id     bigint NOT NULL REFERENCES grid_plan (id) ON DELETE CASCADE,
    -- The plan's revision this edit made.
    revision    integer NOT NULL CHECK (revision > 0),
    kind        grid_plan_edit_kind NOT NULL,
    summary     text NOT NULL,
    -- The cells the edit touched, as they were and as they became: arrays of
    -- {id, code, name, village_id, revision, geom (hex EWKB)}.
    before      jsonb NOT NULL,
    after       jsonb NOT NULL,
    user_id     bigint REFERENCES app_user (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Set while the edit is undone; cleared when it is redone.
    undone_at   timestamptz,
    CONSTRAINT grid_plan_edit_revision_unique UNIQUE (plan_id, revision)
);
CREATE INDEX grid_plan_edit_plan_idx ON grid_plan_edit (plan_id, id DESC);

-- Cells of a draft are deleted with it; a published or archived plan's cells stay.
ALTER TABLE grid_cell DROP CONSTRAINT grid_cell_plan_id_fkey,
    ADD CONSTRAINT grid_cell_plan_id_fkey FOREIGN KEY (plan_id) REFERENCES grid_plan (id)
        ON DELETE CASCADE;

-- Drafts come and go without the live maps hearing of every cell copied or deleted (the
-- copy and the delete run as bulk loads); what they hear of is a plan appearing, changing
-- status or going away: a deleted draft's tiles must leave the caches. Publishing announces
-- `{"e":"all"}` itself, since households, workers and open cases are re-linked with it.
CREATE OR REPLACE FUNCTION wangge_notify_plan() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.status IS NOT DISTINCT FROM OLD.status THEN RETURN NULL; END IF;
    END IF;
    PERFORM pg_notify('wangge_change', json_build_object(
        'e', 'grid_plan',
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    RETURN NULL;
END;
$$;
DROP TRIGGER grid_plan_notify ON grid_plan;
CREATE TRIGGER grid_plan_notify AFTER INSERT OR UPDATE OR DELETE ON grid_plan
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_plan();
