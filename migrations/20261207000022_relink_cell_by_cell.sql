-- Re-linking the households under some areas (publishing a plan, a cell written by hand)
-- looked each household's cell up on its own, twice: an unprepared point-in-polygon test
-- per household against outlines that, after a rebalancing, have hundreds of vertices.
-- Publishing a rebalanced township took 12 s on a fast machine and ran past the
-- connection's 30 s statement timeout on a slower one. Now, as for the whole city, it goes
-- cell by cell (each outline prepared once for the points under it), only for the cells
-- and households the areas touch. The rule is unchanged: the published plan's cell in the
-- household's village whose outline holds the point, the first by code on a shared edge,
-- none outside.
CREATE OR REPLACE FUNCTION wangge_relink_households(areas geometry[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF areas IS NULL THEN
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
        WITH touched AS MATERIALIZED (
            SELECT DISTINCT h.id FROM unnest(areas) a (g) JOIN household h ON h.geom && a.g
        ), cells AS MATERIALIZED (
            SELECT DISTINCT g.id, g.code, g.village_id, g.geom
            FROM unnest(areas) a (g)
            JOIN grid_cell g ON g.geom && a.g
            JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
        ), found AS (
            SELECT DISTINCT ON (h.id) h.id, c.code
            FROM cells c
            JOIN household h ON h.village_id = c.village_id AND ST_Intersects(c.geom, h.geom)
            WHERE h.id IN (SELECT id FROM touched)
            ORDER BY h.id, c.code
        )
        UPDATE household t SET grid_cell_code = f.code
        FROM touched LEFT JOIN found f ON f.id = touched.id
        WHERE t.id = touched.id AND t.grid_cell_code IS DISTINCT FROM f.code;
    END IF;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN changed;
END;
$$;
