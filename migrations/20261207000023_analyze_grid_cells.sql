-- A new draft copies the whole published plan under a new plan_id. Until autovacuum gets to
-- the table (a minute or more), the statistics say that plan holds about one cell, and the
-- planner answers every neighbour search of the draft's edits, rebalancing and publishing
-- by testing each of the plan's cells against each other instead of asking the spatial
-- index: 200,000 distance tests, 4 to 9 s a statement for one rebalanced township, past
-- the 30 s statement timeout on a slow machine. Creating a draft refreshes them at once.
-- ANALYZE needs the table's owner; the application role asks through this function.
CREATE FUNCTION wangge_analyze_grid_cells() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    ANALYZE grid_cell;
END;
$$;
REVOKE ALL ON FUNCTION wangge_analyze_grid_cells() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION wangge_analyze_grid_cells() TO wangge_app;
