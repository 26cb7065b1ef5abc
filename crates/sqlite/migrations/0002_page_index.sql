-- The events page is ordered created_at DESC, id ASC: an index in exactly that order
-- serves it without a sort of the ties.
CREATE INDEX IF NOT EXISTS events_project_page ON events (project_id, created_at DESC, id);
DROP INDEX IF EXISTS events_project_time;
