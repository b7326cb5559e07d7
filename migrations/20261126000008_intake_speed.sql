-- Open, placed cases by category and place: what the duplicate suggestion at intake searches,
-- nearest first (and what dispatch will search). Most cases are closed, so the full geometry
-- index made that search visit and discard many closed cases, and cases of other categories,
-- around each report. btree_gist lets the category lead the GiST index.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE INDEX incident_open_geom_idx ON incident USING gist (category, geom)
    WHERE status IN ('reported', 'assigned', 'accepted', 'in_progress')
      AND location_method <> 'area';

-- The audit chain's head is written once per statement instead of once per row. Rewriting
-- the one-row head for every row left a chain of versions the same transaction had to walk
-- on the next row, so an audited insert of n rows cost O(n²): a group of 64 reports spent
-- more on its audit rows than on the reports. A row now chains onto the newest row of its
-- own statement when there is one (rows a statement inserted earlier are visible to its row
-- triggers), else onto the head, which stays locked from the first row to the commit; the
-- statement's last row becomes the head when the statement ends. Only these triggers write
-- ids and hashes, so the application role still cannot choose them.
CREATE OR REPLACE FUNCTION audit_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    head audit_head;
    last_id bigint;
    last_hash bytea;
BEGIN
    SELECT * INTO head FROM audit_head FOR UPDATE;
    SELECT a.id, a.hash INTO last_id, last_hash
    FROM audit_log a WHERE a.id > head.last_id ORDER BY a.id DESC LIMIT 1;
    IF NOT FOUND THEN
        last_id := head.last_id;
        last_hash := head.last_hash;
    END IF;
    NEW.id := last_id + 1;
    NEW.at := date_trunc('microseconds', coalesce(NEW.at, clock_timestamp()));
    NEW.prev_hash := last_hash;
    NEW.hash := sha256(last_hash || convert_to(audit_canonical(NEW), 'UTF8'));
    RETURN NEW;
END;
$$;

CREATE FUNCTION audit_advance_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE audit_head h SET last_id = n.id, last_hash = n.hash
    FROM (SELECT a.id, a.hash FROM audit_log a, audit_head h0
          WHERE a.id > h0.last_id ORDER BY a.id DESC LIMIT 1) n;
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_log_advance_head AFTER INSERT ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_advance_head();

-- A photo or video of the matter, as Open311's media_url (and the native API) give it: a
-- link the reporter's app uploaded elsewhere.
ALTER TABLE incident ADD COLUMN media_url text
    CHECK (media_url IS NULL OR (length(media_url) <= 2048 AND media_url ~ '^https?://[^[:space:]]+$'));
