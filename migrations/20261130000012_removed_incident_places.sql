-- A deleted case's notice says where it was (its area code and grid cell), so the live feed
-- tells only the clients whose area held it that it is gone (server/src/live.rs). The row is
-- gone by the time the notice is read: nothing else could say where it was.
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
        PERFORM pg_notify('wangge_change',
                          (wangge_incident_notice(o.id, o.b, o.c)::jsonb
                           || jsonb_build_object('a', o.area_code, 'g', o.grid_cell_id))::text)
        FROM (SELECT o.id, o.geom::box2d AS b, g.geom::box2d AS c, o.area_code, o.grid_cell_id
              FROM old_rows o LEFT JOIN grid_cell g ON g.id = o.grid_cell_id
              ORDER BY o.id) o;
    END IF;
    RETURN NULL;
END;
$$;
