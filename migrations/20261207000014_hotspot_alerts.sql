-- Emerging hot spot alerts (issue 18). A scan classifies every grid cell of the published
-- plan by its emerging hot spot pattern; a cell becoming a new or an intensifying hot spot
-- raises one alert for the operators and dispatchers of its area.

-- Each cell's pattern as the last scan found it: an alert is raised only on a change into
-- an alerting pattern, so each is raised once.
CREATE TABLE grid_cell_pattern (
    grid_cell_id bigint PRIMARY KEY REFERENCES grid_cell (id) ON DELETE CASCADE,
    category     text NOT NULL,
    since        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hotspot_alert (
    id           bigserial PRIMARY KEY,
    grid_cell_id bigint NOT NULL REFERENCES grid_cell (id) ON DELETE CASCADE,
    category     text NOT NULL CHECK (category IN ('new-hot-spot', 'intensifying-hot-spot')),
    -- Why, in words for the map: the counts and the statistic behind the pattern.
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    raised_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hotspot_alert_cell_idx ON hotspot_alert (grid_cell_id, raised_at DESC);

CREATE FUNCTION wangge_notify_hotspot_alert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wangge_change',
                      json_build_object('e', 'hotspot_alert', 'id', NEW.id)::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER hotspot_alert_notify AFTER INSERT ON hotspot_alert
    FOR EACH ROW EXECUTE FUNCTION wangge_notify_hotspot_alert();

-- An alert raised stays as it was raised.
REVOKE UPDATE, TRUNCATE ON hotspot_alert FROM wangge_app;
