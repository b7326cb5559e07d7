-- Personal data is stored sealed (AES-256-GCM, nonce || ciphertext || tag) under a key kept
-- outside the database. The plaintext columns of the foundation are retired: nothing may be
-- written to them any more (NOT VALID: rows from before this migration are not checked).

ALTER TABLE resident
    ADD COLUMN id_number_enc bytea,
    ADD COLUMN phone_enc bytea;
ALTER TABLE resident
    ADD CONSTRAINT resident_no_plaintext CHECK (id_number IS NULL AND phone IS NULL) NOT VALID;

ALTER TABLE grid_worker
    ALTER COLUMN phone DROP NOT NULL,
    ADD COLUMN phone_enc bytea;
ALTER TABLE grid_worker
    ADD CONSTRAINT grid_worker_no_plaintext_phone CHECK (phone IS NULL) NOT VALID;
