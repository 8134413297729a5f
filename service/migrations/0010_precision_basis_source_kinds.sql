-- Location precision, "on or before" dates and source kinds (issue 11), as search columns.
--
-- No stored row is converted: the new fields are optional, plain-name links of
-- `attributed_to` stay valid, and a Quantity's rules only widened, so every stored event
-- and every revision still validates as it was written. Rows written before this
-- migration cannot hold the new fields (the model rejected unknown fields), so each
-- column's default is already right for them: no precision, date basis `on`, no source
-- kinds. Constant defaults need no table rewrite.
ALTER TABLE events
    ADD COLUMN location_precision text,
    ADD COLUMN date_basis text NOT NULL DEFAULT 'on' CHECK (date_basis IN ('on', 'on_or_before')),
    ADD COLUMN source_kinds text[] NOT NULL DEFAULT '{}';

-- Filters: precision=…, date_basis=…, source_kind=… (any link of the chain).
CREATE INDEX events_location_precision_idx ON events (location_precision)
    WHERE deleted_at IS NULL;
CREATE INDEX events_date_basis_idx ON events (date_basis) WHERE deleted_at IS NULL;
CREATE INDEX events_source_kinds_idx ON events USING gin (source_kinds) WHERE deleted_at IS NULL;

-- near=lon,lat,km needs no new index: its bounding box is a prefilter on events_point_idx
-- (0002), and the exact great-circle check runs only on the rows inside the box.
