-- Each household's grid cell in the published plan, stored rather than found by
-- point-in-polygon for every household of every household tile (most of such a tile's cost).
-- The cell is named by code: codes outlive plan versions, so publishing re-links only the
-- households where cells were redrawn, not every household of the city.
--
-- The rule is the one the household tiles used: the published plan's cell in the household's
-- village whose outline holds the point, the first by code on a shared edge, none outside.
-- Kept so by
--  - a household written row by row: the trigger below;
--  - a grid cell of the published plan written row by row (psql, a script): its trigger
--    re-links the households around its old and new outline; a plan published or
--    unpublished by hand, those around its cells;
--  - bulk writes (the demo's load, imports, publishing), which turn the triggers off: they
--    call wangge_relink_households themselves, for everything or for the areas they changed.

-- Linking a city's households once takes longer than the connection's statement timeout.
SET LOCAL statement_timeout = 0;

ALTER TABLE household ADD COLUMN grid_cell_code text;

CREATE FUNCTION wangge_household_cell(village bigint, point geometry) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT g.code FROM grid_cell g
    JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
    WHERE g.village_id = village AND ST_Intersects(g.geom, point)
    ORDER BY g.code
    LIMIT 1
$$;

-- Re-links the households inside any of `areas` (their boxes), or all households when
-- `areas` is NULL; writes only those whose cell changed, and answers how many.
CREATE FUNCTION wangge_relink_households(areas geometry[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF areas IS NULL THEN
        -- Cell by cell (each outline prepared once for the points under it), which for a
        -- whole city is several times faster than household by household.
        WITH found AS (
            SELECT DISTINCT ON (h.id) h.id, g.code
            FROM grid_cell g
            JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
            JOIN household h ON h.village_id = g.village_id AND ST_Intersects(g.geom, h.geom)
            ORDER BY h.id, g.code
        )
        UPDATE household t SET grid_cell_code = f.code
        FROM household h LEFT JOIN found f ON f.id = h.id
        WHERE t.id = h.id AND t.grid_cell_code IS DISTINCT FROM f.code;
    ELSE
        UPDATE household t SET grid_cell_code = wangge_household_cell(t.village_id, t.geom)
        WHERE t.id IN (SELECT h.id FROM unnest(areas) a (g) JOIN household h ON h.geom && a.g)
          AND t.grid_cell_code IS DISTINCT FROM wangge_household_cell(t.village_id, t.geom);
    END IF;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed;
END;
$$;

CREATE FUNCTION wangge_household_set_cell() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT wangge_bulk_loading() THEN
        NEW.grid_cell_code := wangge_household_cell(NEW.village_id, NEW.geom);
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER household_set_cell BEFORE INSERT OR UPDATE OF geom, village_id ON household
    FOR EACH ROW EXECUTE FUNCTION wangge_household_set_cell();

CREATE FUNCTION wangge_grid_cell_relink() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    areas geometry[] := '{}';
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF TG_OP <> 'INSERT' AND EXISTS (
        SELECT 1 FROM grid_plan WHERE id = OLD.plan_id AND status = 'published') THEN
        areas := areas || OLD.geom;
    END IF;
    IF TG_OP <> 'DELETE' AND EXISTS (
        SELECT 1 FROM grid_plan WHERE id = NEW.plan_id AND status = 'published') THEN
        areas := areas || NEW.geom;
    END IF;
    IF cardinality(areas) > 0 THEN
        PERFORM wangge_relink_households(areas);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER grid_cell_relink AFTER INSERT OR UPDATE OR DELETE ON grid_cell
    FOR EACH ROW EXECUTE FUNCTION wangge_grid_cell_relink();

-- A plan published or unpublished by hand (psql, a script): the households under its cells.
-- (Publishing through wangge is a bulk write and re-links only where cells were redrawn.)
CREATE FUNCTION wangge_grid_plan_relink() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF (OLD.status = 'published') <> (NEW.status = 'published') THEN
        PERFORM wangge_relink_households(array(SELECT geom FROM grid_cell WHERE plan_id = NEW.id));
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER grid_plan_relink AFTER UPDATE OF status ON grid_plan
    FOR EACH ROW EXECUTE FUNCTION wangge_grid_plan_relink();

-- The households already there.
SELECT wangge_relink_households(NULL);
