-- A draft plan is its planners' alone, so what happens to it is told as a draft's: the
-- notice of a draft's cell, or of a draft appearing, going or archived unpublished, names
-- the draft (`p`, its version). The live maps then drop only that draft's tiles and only
-- planners hear of it; the published grid's tiles, the households' cell codes, sessions and
-- the dispatch index are left alone. Changes to the published grid's cells, and publishing
-- (which announces `{"e":"all"}` itself), are told as before.
CREATE FUNCTION wangge_notify_grid_cell() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    draft integer;
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    SELECT version INTO draft FROM grid_plan
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.plan_id ELSE NEW.plan_id END
       AND status = 'draft';
    PERFORM pg_notify('wangge_change', json_build_object(
        'e', 'grid_cell',
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        'b', wangge_box(CASE WHEN TG_OP <> 'INSERT' THEN OLD.geom END,
                        CASE WHEN TG_OP <> 'DELETE' THEN NEW.geom END),
        'p', draft)::text);
    RETURN NULL;
END;
$$;
DROP TRIGGER grid_cell_notify ON grid_cell;
CREATE TRIGGER grid_cell_notify AFTER INSERT OR UPDATE OR DELETE ON grid_cell
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_grid_cell();

CREATE OR REPLACE FUNCTION wangge_notify_plan() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    draft integer;
BEGIN
    IF wangge_bulk_loading() THEN RETURN NULL; END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.status IS NOT DISTINCT FROM OLD.status THEN RETURN NULL; END IF;
    END IF;
    draft := CASE
        WHEN TG_OP = 'INSERT' AND NEW.status = 'draft' THEN NEW.version
        WHEN TG_OP = 'DELETE' AND OLD.status = 'draft' THEN OLD.version
        WHEN TG_OP = 'UPDATE' AND OLD.status = 'draft' AND NEW.status = 'archived'
            THEN NEW.version
    END;
    PERFORM pg_notify('wangge_change', json_build_object(
        'e', 'grid_plan',
        'id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END,
        'p', draft)::text);
    RETURN NULL;
END;
$$;
