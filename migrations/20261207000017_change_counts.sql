-- How many statements have changed a table: a stamp that moves whenever its rows may have.
-- Figures computed from households and village outlines (a grid plan's per-cell workload)
-- are kept in memory under the stamps they were computed at, and thrown away when a stamp
-- moves. Statement-level, so a bulk load moves it once, not once per row.
CREATE TABLE wangge_change_count (
    name text PRIMARY KEY,
    n    bigint NOT NULL DEFAULT 0
);
INSERT INTO wangge_change_count (name) VALUES ('household'), ('admin_unit');

CREATE FUNCTION wangge_count_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE wangge_change_count SET n = n + 1 WHERE name = TG_TABLE_NAME;
    RETURN NULL;
END;
$$;
CREATE TRIGGER household_count_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON household
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_count_change();
CREATE TRIGGER admin_unit_count_change
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON admin_unit
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_count_change();
