-- As-of search rebuilds the events updated or deleted after a moment. This finds them
-- (index-only) without reading through the creations since, which as-of search needs
-- no revision for: an event created after the moment is simply left out.
CREATE INDEX event_revisions_changed_idx ON event_revisions (recorded_at) INCLUDE (event_id)
    WHERE operation <> 'create';
