-- Photos of a case ("随手拍"): taken with a report or with its resolution, kept in the
-- database with the case (one backup, one transaction, durable on acknowledgement). The
-- bytes are stored without their location metadata unless the reporter asked to keep it;
-- `thumbnail` is a small upright JPEG (NULL for HEIC, which this server cannot decode).
CREATE TABLE incident_photo (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id   bigint NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
    stage         text NOT NULL CHECK (stage IN ('report', 'resolution')),
    content_type  text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/heic')),
    bytes         bytea NOT NULL,
    thumbnail     bytea,
    width         integer CHECK (width > 0),
    height        integer CHECK (height > 0),
    size          integer NOT NULL CHECK (size > 0),
    -- Of the bytes as sent: the same photo sent again (a retry) is the same photo.
    sha256        bytea NOT NULL CHECK (length(sha256) = 32),
    location_kept boolean NOT NULL,
    uploaded_by   text NOT NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (incident_id, sha256)
);
-- Thumbnails and photos are read by id; the bytes are large and not for the planner.
ALTER TABLE incident_photo ALTER COLUMN bytes SET STORAGE EXTERNAL;
