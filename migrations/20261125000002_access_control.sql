-- Users, their roles and areas, and their sessions.
--
-- Every user is bound to one area: an administrative unit (the city, a county, a township, a
-- village) or one grid cell. Queries scope reads and writes to that area by the unit's code
-- prefix (official codes nest by prefix) or the grid cell's id.

CREATE TYPE user_role AS ENUM ('operator', 'dispatcher', 'planner', 'worker', 'auditor', 'admin');

CREATE TABLE app_user (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username            text NOT NULL UNIQUE CHECK (username ~ '^[a-z][a-z0-9_.-]{1,39}$'),
    display_name        text NOT NULL DEFAULT '',
    role                user_role NOT NULL,
    area_unit_id        bigint REFERENCES admin_unit (id),
    area_grid_cell_id   bigint REFERENCES grid_cell (id),
    -- An argon2id PHC string; never the password.
    password_hash       text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    failed_logins       integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until        timestamptz,
    disabled_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT app_user_one_area CHECK ((area_unit_id IS NULL) <> (area_grid_cell_id IS NULL))
);

CREATE TYPE session_kind AS ENUM ('cookie', 'bearer');

-- A session is known by the SHA-256 of its token: a copy of this table signs nobody in.
CREATE TABLE auth_session (
    token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id      bigint NOT NULL REFERENCES app_user (id),
    kind         session_kind NOT NULL,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    CONSTRAINT auth_session_expiry CHECK (expires_at > created_at)
);
CREATE INDEX auth_session_user_idx ON auth_session (user_id);

-- Area scoping filters units by code prefix.
CREATE INDEX admin_unit_code_prefix_idx ON admin_unit (code text_pattern_ops);
