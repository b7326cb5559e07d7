-- Open, placed cases by place: what the duplicate suggestion at intake searches (and
-- dispatch will). Most cases are closed, so the full geometry index makes that search
-- visit and discard many closed cases near each report.
CREATE INDEX incident_open_geom_idx ON incident USING gist (geom)
    WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress')
      AND location_method <> 'area';
