-- Deadlines are watched by a running server: its escalation sweep records here when it last
-- ran. At start-up a server gives the cases whose deadline passed while nothing watched (since
-- the last sweep, or ever, on a database no server has swept yet) their tier's time again from
-- the start, instead of escalating the whole backlog at once as if staff had missed it.
CREATE TABLE deadline_watch (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    swept_at timestamptz
);
-- An installation that already holds cases was being swept until this upgrade.
INSERT INTO deadline_watch (swept_at)
SELECT CASE WHEN EXISTS (SELECT 1 FROM incident) THEN now() END;
