-- `one_event_per_user` keeps each profile's latest event of a name: with the profile
-- before the time in the key, SQLite reads the profiles in order and takes their
-- latest time without sorting the window's rows (SQLite has no hash aggregate). On the
-- benchmark's 1 M events the file grows by 50 MB (9 %) and a large import rebuilds it in
-- about 1.5 s; the chart takes 0.46x the time over 30 days and 0.35x over 45, but 1.19x
-- over 7 days, where the planner prefers it to sorting a sixth of the rows
-- (docs/performance.md, "SQLite: the latest event per profile").
CREATE INDEX IF NOT EXISTS events_project_name_profile
    ON events (project_id, name, profile_id, created_at);
-- Statistics for it at once: with the other indexes' statistics from an earlier ANALYZE
-- and none for this one, the planner would take it for any window, even one day.
ANALYZE events_project_name_profile;
