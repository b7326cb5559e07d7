-- Residents and facilities get change counts too: the command centre's summary keeps its
-- counts of households, residents, facilities and units in memory while these four stamps
-- stay where they were read (counting 750,000 residents every 15 s for every open map was
-- most of the full demo's database time).
INSERT INTO wangge_change_count (name) VALUES ('resident'), ('facility');

CREATE TRIGGER resident_count_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resident
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_count_change();
CREATE TRIGGER facility_count_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON facility
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_count_change();
