-- Quarry's embedded schema. Events and profiles use the snake_case columns of §2.1;
-- projects, clients and event_meta use OpenPanel's quoted camelCase names so the same
-- queries serve SQLite and PostgreSQL. Timestamps are INTEGER epoch milliseconds.

CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY NOT NULL,
    "organizationId" TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    timezone TEXT,
    "createdAt" INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    secret TEXT,
    type TEXT NOT NULL CHECK (type IN ('read', 'write', 'root')),
    "projectId" TEXT,
    "organizationId" TEXT NOT NULL DEFAULT '',
    "createdAt" INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS event_meta (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    conversion INTEGER NOT NULL DEFAULT 0,
    color TEXT,
    icon TEXT,
    "projectId" TEXT NOT NULL,
    "createdAt" INTEGER NOT NULL,
    "updatedAt" INTEGER NOT NULL,
    UNIQUE ("projectId", name)
);

CREATE TABLE IF NOT EXISTS events (
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    device_id TEXT NOT NULL DEFAULT '',
    profile_id TEXT NOT NULL DEFAULT '',
    project_id TEXT NOT NULL,
    session_id TEXT NOT NULL DEFAULT '',
    properties TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    country TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    region TEXT NOT NULL DEFAULT '',
    longitude REAL,
    latitude REAL,
    os TEXT NOT NULL DEFAULT '',
    os_version TEXT NOT NULL DEFAULT '',
    browser TEXT NOT NULL DEFAULT '',
    browser_version TEXT NOT NULL DEFAULT '',
    device TEXT NOT NULL DEFAULT '',
    brand TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    duration INTEGER NOT NULL DEFAULT 0,
    path TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT '',
    referrer TEXT NOT NULL DEFAULT '',
    referrer_name TEXT NOT NULL DEFAULT '',
    referrer_type TEXT NOT NULL DEFAULT '',
    sdk_name TEXT NOT NULL DEFAULT '',
    sdk_version TEXT NOT NULL DEFAULT '',
    imported_at INTEGER
);

-- Every query is scoped to a project and a time window; the page order is
-- created_at DESC, id ASC.
CREATE INDEX IF NOT EXISTS events_project_time ON events (project_id, created_at, id);
-- Charts and funnels usually name their events.
CREATE INDEX IF NOT EXISTS events_project_name_time ON events (project_id, name, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS events_id ON events (id);

CREATE TABLE IF NOT EXISTS profiles (
    id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    is_external INTEGER NOT NULL DEFAULT 0,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    avatar TEXT NOT NULL DEFAULT '',
    properties TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
);
