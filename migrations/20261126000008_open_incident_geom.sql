-- Open, placed cases by category and place: what the duplicate suggestion at intake searches,
-- nearest first (and what dispatch will search). Most cases are closed, so the full geometry
-- index made that search visit and discard many closed cases, and cases of other categories,
-- around each report. btree_gist lets the category lead the GiST index.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE INDEX incident_open_geom_idx ON incident USING gist (category, geom)
    WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress')
      AND location_method <> 'area';
