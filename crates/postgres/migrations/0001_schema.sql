-- Quarry's PostgreSQL schema (PostgreSQL 13 or later).
--
-- Events and profiles use the snake_case columns of §2.1 with PostgreSQL's own types:
-- timestamptz, jsonb properties, double precision coordinates, bigint durations.
-- Projects, clients and event_meta use OpenPanel's tables and quoted camelCase columns
-- (§2.2), created only when missing, so an existing OpenPanel database is used unchanged:
-- the queries in src/lib.rs accept OpenPanel's column types (a "ClientType" enum, uuid ids,
-- no projects.timezone) as well as the ones created here.

CREATE TABLE IF NOT EXISTS projects (
    id text PRIMARY KEY,
    "organizationId" text NOT NULL DEFAULT '',
    name text NOT NULL DEFAULT '',
    -- Not in OpenPanel's table; read as to_jsonb(projects) ->> 'timezone'.
    timezone text,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS clients (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL DEFAULT '',
    secret text,
    -- OpenPanel declares an enum "ClientType"; every query reads type::text.
    type text NOT NULL DEFAULT 'write' CHECK (type IN ('read', 'write', 'root')),
    "projectId" text,
    "organizationId" text NOT NULL DEFAULT '',
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS event_meta (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    conversion boolean NOT NULL DEFAULT false,
    color text,
    icon text,
    "projectId" text NOT NULL,
    "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- OpenPanel's (Prisma's) name for the same index, so an existing one is reused.
CREATE UNIQUE INDEX IF NOT EXISTS "event_meta_name_projectId_key" ON event_meta (name, "projectId");

CREATE TABLE IF NOT EXISTS events (
    -- "C": the page order is id ascending by code point, whatever the database's locale.
    id text COLLATE "C" PRIMARY KEY,
    name text NOT NULL,
    device_id text NOT NULL DEFAULT '',
    profile_id text NOT NULL DEFAULT '',
    project_id text NOT NULL,
    session_id text NOT NULL DEFAULT '',
    properties jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    country text NOT NULL DEFAULT '',
    city text NOT NULL DEFAULT '',
    region text NOT NULL DEFAULT '',
    longitude double precision,
    latitude double precision,
    os text NOT NULL DEFAULT '',
    os_version text NOT NULL DEFAULT '',
    browser text NOT NULL DEFAULT '',
    browser_version text NOT NULL DEFAULT '',
    device text NOT NULL DEFAULT '',
    brand text NOT NULL DEFAULT '',
    model text NOT NULL DEFAULT '',
    duration bigint NOT NULL DEFAULT 0,
    path text NOT NULL DEFAULT '',
    origin text NOT NULL DEFAULT '',
    referrer text NOT NULL DEFAULT '',
    referrer_name text NOT NULL DEFAULT '',
    referrer_type text NOT NULL DEFAULT '',
    sdk_name text NOT NULL DEFAULT '',
    sdk_version text NOT NULL DEFAULT '',
    imported_at timestamptz
);

-- Every query is scoped to a project and a time window. The page order is
-- created_at DESC, id ASC: this index yields it directly (no sort before LIMIT) and
-- serves the time-range scans of charts and funnels just as well.
CREATE INDEX IF NOT EXISTS events_project_time ON events (project_id, created_at DESC, id);
-- Charts and funnels usually name their events.
CREATE INDEX IF NOT EXISTS events_project_name_time ON events (project_id, name, created_at);

CREATE TABLE IF NOT EXISTS profiles (
    id text NOT NULL,
    project_id text NOT NULL,
    is_external boolean NOT NULL DEFAULT false,
    first_name text NOT NULL DEFAULT '',
    last_name text NOT NULL DEFAULT '',
    email text NOT NULL DEFAULT '',
    avatar text NOT NULL DEFAULT '',
    properties jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, id)
);
