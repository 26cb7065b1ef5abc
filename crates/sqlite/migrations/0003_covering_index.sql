-- Charts and funnels name their events and count profiles or sessions, and country is
-- the most common filter and breakdown: with those columns in the index a chart reads
-- the index alone (a covering index). On 1 M events the file grows by 90 MB and the
-- benchmark's charts and funnel read far less (docs/performance.md, "Covering indexes").
CREATE INDEX IF NOT EXISTS events_project_name_cover
    ON events (project_id, name, created_at, profile_id, session_id, country);
-- Same leading columns: the covering index serves every scan this one did.
DROP INDEX IF EXISTS events_project_name_time;
