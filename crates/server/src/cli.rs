//! The `quarry` command line (§9): every command, each a small function over the
//! library. `main.rs` parses and dispatches here.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use quarry_core::catalog::{ClientKind, ClientRecord, ProjectRecord};
use quarry_core::compile::{self, Context};
use quarry_core::decode::{self, Limits};
use quarry_core::event::NewEventMeta;
use quarry_core::sql::Dialect;
use quarry_demo::SeedOptions;

use crate::Error;
use crate::app::{Application, system_clock};
use crate::auth::{generate_secret, hash_secret};
use crate::backends::Databases;
use crate::import::Input;
use crate::settings::{Overrides, SecretUrl, Settings};

/// Quarry: the OpenPanel Export API over ClickHouse, PostgreSQL or SQLite.
#[derive(Debug, Parser)]
#[command(
    name = "quarry",
    version,
    about = "Quarry: the OpenPanel Export API over ClickHouse, PostgreSQL or SQLite"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written (to standard error).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the request's span (and its id) in each.
    Json,
}

/// Configuration shared by every command (flags, then environment, then the file).
#[derive(Debug, Args)]
pub struct Global {
    /// Log lines as text or JSON (levels from `RUST_LOG`, default `warn,quarry_server=info`).
    #[arg(
        long,
        env = "QUARRY_LOG_FORMAT",
        global = true,
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,
    /// A TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "QUARRY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// `sqlite://path` or `postgres://…` (default sqlite://quarry.db).
    #[arg(
        long,
        env = "QUARRY_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<SecretUrl>,
    /// ClickHouse HTTP URL; events and profiles then come from ClickHouse.
    #[arg(
        long,
        env = "QUARRY_CLICKHOUSE_URL",
        global = true,
        hide_env_values = true
    )]
    pub clickhouse_url: Option<SecretUrl>,
    /// ClickHouse database.
    #[arg(long, env = "QUARRY_CLICKHOUSE_DATABASE", global = true)]
    pub clickhouse_database: Option<String>,
    /// Listen address (default 127.0.0.1:3000).
    #[arg(long, env = "QUARRY_BIND", global = true)]
    pub bind: Option<String>,
    /// Largest events page (default 50, at most 10000).
    #[arg(long, env = "QUARRY_MAX_PAGE_SIZE", global = true)]
    pub max_page_size: Option<u64>,
    /// Query timeout in seconds (default 30).
    #[arg(long, env = "QUARRY_QUERY_TIMEOUT", global = true)]
    pub query_timeout: Option<u64>,
    /// Requests per client and window, like `100/10s`, or `off`.
    #[arg(long, env = "QUARRY_RATE_LIMIT", global = true)]
    pub rate_limit: Option<String>,
    /// Failed authentications per peer address and window (default: the rate limit).
    #[arg(long, env = "QUARRY_AUTH_FAILURE_LIMIT", global = true)]
    pub auth_failure_limit: Option<String>,
    /// Budgets and guards (docs/limits.md).
    #[command(flatten)]
    pub limits: crate::settings::LimitOverrides,
    /// Serve the explorer page at `/` (default true).
    #[arg(long, env = "QUARRY_EXPLORER", global = true, value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub explorer: Option<bool>,
    /// Answer `explain=true` requests with the SQL and the engine's plan (default true).
    #[arg(long, env = "QUARRY_EXPLAIN", global = true, value_name = "BOOL",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub explain: Option<bool>,
}

impl Global {
    fn settings(&self) -> Result<Settings, Error> {
        let given = Overrides {
            database_url: self.database_url.clone(),
            clickhouse_url: self.clickhouse_url.clone(),
            clickhouse_database: self.clickhouse_database.clone(),
            bind: self.bind.clone(),
            max_page_size: self.max_page_size,
            query_timeout: self.query_timeout,
            rate_limit: self.rate_limit.clone(),
            auth_failure_limit: self.auth_failure_limit.clone(),
            limits: self.limits.clone(),
            explorer: self.explorer,
            explain: self.explain,
        };
        Settings::load(given, self.config.as_deref()).map_err(Error::Config)
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create ./quarry-demo.db with demo data on first run, then serve it.
    Demo {
        /// The demo database file.
        #[arg(long, default_value = "quarry-demo.db")]
        db: PathBuf,
        /// Events to seed on first run.
        #[arg(long, default_value_t = 200_000)]
        events: usize,
    },
    /// Serve the API with the configured storage.
    Serve,
    /// Create or upgrade the schema of the configured storage.
    Migrate {
        /// ClickHouse: also add a projection of the events table ordered by project, event
        /// name and time (ClickHouse maintains it), so charts and funnels of rare events
        /// read only their own rows. It changes an existing table (an OpenPanel one too)
        /// and takes about the table's size again on disk; remove it with
        /// `ALTER TABLE events DROP PROJECTION quarry_events_by_name`. SQLite and
        /// PostgreSQL have such an index already.
        #[arg(long)]
        events_by_name: bool,
    },
    /// Manage projects.
    #[command(subcommand)]
    Projects(ProjectsCommand),
    /// Manage API clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Load newline-delimited JSON events (or profiles) from a file or `-` (stdin).
    Import {
        /// The file, or `-` for standard input.
        file: String,
        /// Project for lines without `projectId`.
        #[arg(long)]
        project: Option<String>,
        /// The lines are profiles, not events.
        #[arg(long)]
        profiles: bool,
    },
    /// Manage event metadata (`includes=meta`).
    #[command(subcommand, name = "event-meta")]
    EventMeta(EventMetaCommand),
    /// Generate a deterministic, realistic data set.
    Seed {
        /// The project (created if missing).
        #[arg(long)]
        project: String,
        /// How many events.
        #[arg(long)]
        events: usize,
        /// Days before now to spread them over.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Generator seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write every event a request matches as NDJSON, CSV or Parquet, to a file or stdout
    /// (the query string and rows of `GET /export/events?format=…`; docs/export.md).
    Export {
        /// The project.
        #[arg(long)]
        project: String,
        /// The body's format (a `format` in the query string wins).
        #[arg(long, value_enum, default_value = "ndjson")]
        format: FormatArg,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The query string, e.g. 'event=screen_view&start=2024-04-01&fields=createdAt,name'.
        #[arg(default_value = "")]
        query: String,
    },
    /// Print the SQL and parameters a request compiles to.
    Compile {
        /// Target dialect.
        #[arg(long, value_enum)]
        dialect: DialectArg,
        /// Which endpoint the query string is for.
        #[arg(long, value_enum, default_value = "charts")]
        endpoint: Endpoint,
        /// Project the SQL is scoped to.
        #[arg(long, default_value = "project")]
        project: String,
        /// Timezone (IANA); the request's `timezone` wins.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// "Now" as an RFC 3339 instant (default: the clock).
        #[arg(long)]
        now: Option<String>,
        /// The query string, e.g. 'events=[{"name":"screen_view"}]&range=7d'.
        query: String,
    },
    /// Print a shell completion script, e.g.
    /// `quarry completions bash > ~/.local/share/bash-completion/completions/quarry`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `quarry man > ~/.local/share/man/man1/quarry.1`.
    Man,
}

/// `quarry projects …`
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// Create (or update) a project.
    Create {
        /// Project id.
        id: String,
        /// Organization id.
        #[arg(long, default_value = "default")]
        organization: String,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
        /// IANA timezone (default UTC).
        #[arg(long)]
        timezone: Option<String>,
    },
}

/// Client types.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClientType {
    Read,
    Write,
    Root,
}

/// `quarry clients …`
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create a client; prints {"id","secret"} once.
    Create {
        /// read, write or root.
        #[arg(long = "type", value_enum)]
        kind: ClientType,
        /// The client's project (required for read and write).
        #[arg(long)]
        project: Option<String>,
        /// Organization (taken from the project when omitted).
        #[arg(long)]
        organization: Option<String>,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
}

/// `quarry event-meta …`
#[derive(Debug, Subcommand)]
pub enum EventMetaCommand {
    /// Create or update the metadata of an event name.
    Set {
        #[arg(long)]
        project: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        conversion: bool,
        #[arg(long)]
        color: Option<String>,
        #[arg(long)]
        icon: Option<String>,
    },
}

/// `--dialect`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DialectArg {
    Clickhouse,
    Postgres,
    Sqlite,
}

/// `quarry export --format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Ndjson,
    Csv,
    Parquet,
}

impl From<FormatArg> for quarry_core::request::ExportFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Ndjson => quarry_core::request::ExportFormat::Ndjson,
            FormatArg::Csv => quarry_core::request::ExportFormat::Csv,
            FormatArg::Parquet => quarry_core::request::ExportFormat::Parquet,
        }
    }
}

/// `--endpoint`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Endpoint {
    Events,
    Charts,
    Funnel,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> Result<(), Error> {
    // Generated from the definition alone: no settings needed, none can fail them.
    match cli.command {
        Command::Completions { shell } => return completions(shell),
        Command::Man => return man_page(),
        _ => {}
    }
    let settings = cli.global.settings()?;
    match cli.command {
        Command::Demo { db, events } => demo(settings, db, events).await,
        Command::Serve => serve(settings, cli.global.log_format).await,
        Command::Migrate { events_by_name } => migrate(&settings, events_by_name).await,
        Command::Projects(ProjectsCommand::Create {
            id,
            organization,
            name,
            timezone,
        }) => create_project(&settings, id, organization, name, timezone).await,
        Command::Clients(ClientsCommand::Create {
            kind,
            project,
            organization,
            name,
        }) => create_client_command(&settings, kind, project, organization, name).await,
        Command::Import {
            file,
            project,
            profiles,
        } => import(&settings, &file, project.as_deref(), profiles).await,
        Command::EventMeta(EventMetaCommand::Set {
            project,
            name,
            conversion,
            color,
            icon,
        }) => set_event_meta(&settings, project, name, conversion, color, icon).await,
        Command::Seed {
            project,
            events,
            days,
            seed,
        } => seed_command(&settings, project, events, days, seed).await,
        Command::Export {
            project,
            format,
            output,
            query,
        } => {
            let store = catalog_store(&settings).await?;
            let target = crate::export::Target {
                project: &project,
                query: &query,
                format: format.into(),
                output: output.as_deref(),
            };
            let rows = crate::export::export(&settings, &store, target).await?;
            eprintln!("exported {rows} events");
            Ok(())
        }
        Command::Compile {
            dialect,
            endpoint,
            project,
            timezone,
            now,
            query,
        } => compile_command(
            &settings, dialect, endpoint, &project, &timezone, now, &query,
        ),
        Command::Completions { .. } | Command::Man => Ok(()),
    }
}

/// `quarry completions <shell>`.
fn completions(shell: clap_complete::Shell) -> Result<(), Error> {
    use clap::CommandFactory as _;
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "quarry", &mut out);
    print_bytes(&out)
}

/// Write to standard output; a reader that went away early (`| head`) is no failure.
fn print_bytes(bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `quarry man`: the page of `quarry` with a section per command.
fn man_page() -> Result<(), Error> {
    use clap::CommandFactory as _;
    let cmd = Cli::command();
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    // One section per command, with its own options.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_name().to_string();
        let full = format!("quarry {name}");
        let sub = sub.clone().display_name(full.clone()).bin_name(full);
        let page = clap_mangen::Man::new(sub);
        out.extend_from_slice(format!(".SH \"QUARRY {}\"\n", name.to_uppercase()).as_bytes());
        page.render_description_section(&mut out)?;
        page.render_synopsis_section(&mut out)?;
        page.render_options_section(&mut out)?;
        page.render_subcommands_section(&mut out)?;
    }
    // Every setting that is also an environment variable.
    out.extend_from_slice(b".SH ENVIRONMENT\n");
    for arg in cmd.get_arguments() {
        let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let entry = format!(
            ".TP\n\\fB{}\\fR\n\\-\\-{}: {}\n",
            roff(&env.to_string_lossy()),
            roff(long),
            roff(&help)
        );
        out.extend_from_slice(entry.as_bytes());
    }
    man.render_version_section(&mut out)?;
    print_bytes(&out)
}

/// Text for a roff line: backslashes and hyphens escaped, no leading control character.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    match escaped.starts_with(['.', '\'']) {
        true => format!("\\&{escaped}"),
        false => escaped,
    }
}

/// `quarry migrate`.
async fn migrate(settings: &Settings, events_by_name: bool) -> Result<(), Error> {
    let db = Databases::open(settings).await?;
    db.migrate().await?;
    println!("migrated {}", db.describe(settings));
    if events_by_name {
        println!("{}", db.add_events_by_name().await?);
    }
    Ok(())
}

/// `quarry projects create`.
async fn create_project(
    settings: &Settings,
    id: String,
    organization: String,
    name: Option<String>,
    timezone: Option<String>,
) -> Result<(), Error> {
    if let Some(tz) = &timezone {
        tz.parse::<chrono_tz::Tz>()
            .map_err(|_| Error::Config(format!("unknown IANA timezone {tz:?}")))?;
    }
    let store = catalog_store(settings).await?;
    let project = ProjectRecord {
        name: name.unwrap_or_else(|| id.clone()),
        id,
        organization_id: organization,
        timezone,
    };
    store.upsert_project(&project, now_ms()).await?;
    println!(
        "{}",
        serde_json::json!({"id": project.id, "organizationId": project.organization_id, "name": project.name, "timezone": project.timezone.unwrap_or_else(|| "UTC".into())})
    );
    Ok(())
}

/// `quarry clients create`: prints the id and the secret, once.
async fn create_client_command(
    settings: &Settings,
    kind: ClientType,
    project: Option<String>,
    organization: Option<String>,
    name: Option<String>,
) -> Result<(), Error> {
    let store = catalog_store(settings).await?;
    let kind = match kind {
        ClientType::Read => ClientKind::Read,
        ClientType::Write => ClientKind::Write,
        ClientType::Root => ClientKind::Root,
    };
    let (id, secret) = create_client(&store, kind, project, organization, name).await?;
    println!("{}", serde_json::json!({"id": id, "secret": secret}));
    Ok(())
}

/// `quarry import`.
async fn import(
    settings: &Settings,
    file: &str,
    project: Option<&str>,
    profiles: bool,
) -> Result<(), Error> {
    let store = catalog_store(settings).await?;
    let input = Input::from_arg(file);
    let report = if profiles {
        crate::import::import_profiles(&store, &input, project).await?
    } else {
        crate::import::import_events(&store, &input, project).await?
    };
    store.analyze().await?;
    let what = if profiles { "profiles" } else { "events" };
    match report.rows - report.stored {
        0 => eprintln!("imported {} {what}", report.stored),
        skipped => eprintln!(
            "imported {} {what}; {skipped} skipped (their ids were already stored)",
            report.stored
        ),
    }
    Ok(())
}

/// `quarry event-meta set`: prints the metadata as `includes=meta` shows it.
async fn set_event_meta(
    settings: &Settings,
    project: String,
    name: String,
    conversion: bool,
    color: Option<String>,
    icon: Option<String>,
) -> Result<(), Error> {
    let store = catalog_store(settings).await?;
    let meta = NewEventMeta {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.clone(),
        project_id: project.clone(),
        conversion,
        color,
        icon,
        at: now_ms(),
    };
    store.set_event_meta(&meta).await?;
    let (meta_store, dialect) = store.meta_store();
    let q = compile::compile_event_meta(&project, &[name], dialect);
    let rows = meta_store
        .fetch(&q)
        .await
        .map_err(|e| Error::Storage(e.to_string()))?;
    if let Some((_, json)) = rows.into_iter().find_map(quarry_core::shape::shape_meta) {
        println!("{json}");
    }
    Ok(())
}

/// `quarry seed`.
async fn seed_command(
    settings: &Settings,
    project: String,
    events: usize,
    days: u32,
    seed: u64,
) -> Result<(), Error> {
    let store = catalog_store(settings).await?;
    ensure_project(&store, &project, "default", &project, None).await?;
    let opts = SeedOptions {
        project_id: project,
        events,
        days,
        seed,
        now_ms: now_ms(),
    };
    seed_into(&store, &opts).await?;
    eprintln!("seeded {events} events into {}", opts.project_id);
    Ok(())
}

/// `quarry compile`: the SQL and parameters of each statement a request runs.
fn compile_command(
    settings: &Settings,
    dialect: DialectArg,
    endpoint: Endpoint,
    project: &str,
    timezone: &str,
    now: Option<String>,
    query: &str,
) -> Result<(), Error> {
    let dialect = match dialect {
        DialectArg::Clickhouse => Dialect::ClickHouse,
        DialectArg::Postgres => Dialect::Postgres,
        DialectArg::Sqlite => Dialect::Sqlite,
    };
    let tz: chrono_tz::Tz = timezone
        .parse()
        .map_err(|_| Error::Config(format!("unknown IANA timezone {timezone:?}")))?;
    let now = match now {
        Some(n) => quarry_core::time::parse_rfc3339(&n)
            .ok_or_else(|| Error::Config(format!("--now: not an RFC 3339 instant: {n}")))?,
        None => now_ms(),
    };
    // The query string's projectId wins, as on the server (§3.4).
    let ctx = |req_project: Option<String>, req_tz: Option<chrono_tz::Tz>| Context {
        project_id: req_project.unwrap_or_else(|| project.to_string()),
        tz: req_tz.unwrap_or(tz),
        now,
        first_event: None,
    };
    let bad = |e: quarry_core::error::RequestError| Error::Input(format!("invalid request: {e}"));
    let queries = match endpoint {
        Endpoint::Charts => {
            let req = decode::decode_chart(query).map_err(bad)?;
            vec![
                compile::compile_chart(&req, &ctx(req.project_id.clone(), req.timezone), dialect)
                    .map_err(bad)?
                    .query,
            ]
        }
        Endpoint::Funnel => {
            let req = decode::decode_funnel(query).map_err(bad)?;
            let plan =
                compile::compile_funnel(&req, &ctx(req.project_id.clone(), req.timezone), dialect)
                    .map_err(bad)?;
            // Every statement the request runs: the levels, then the previous period's,
            // time to convert and breakdowns when asked for.
            std::iter::once(plan.query)
                .chain(plan.previous.map(|(_, q)| q))
                .chain(plan.time_to_convert)
                .chain(plan.breakdowns)
                .collect()
        }
        Endpoint::Events => {
            let limits = Limits {
                max_page_size: settings.max_page_size,
                ..Limits::default()
            };
            let req = decode::decode_events(query, limits).map_err(bad)?;
            let plan =
                compile::compile_events(&req, &ctx(req.project_id.clone(), req.timezone), dialect)
                    .map_err(bad)?;
            let exact = plan.key_order.map(|k| k.exact);
            std::iter::once(plan.page)
                .chain(exact)
                .chain([plan.count])
                .collect()
        }
    };
    for q in queries {
        println!("{}", q.explain());
    }
    Ok(())
}

/// Open and migrate the configured databases.
/// The configured databases; the embedded file is created and migrated on first use, while
/// database servers are only changed by an explicit `quarry migrate`.
async fn catalog_store(settings: &Settings) -> Result<Databases, Error> {
    let db = Databases::open(settings).await?;
    if db.is_embedded() {
        db.migrate().await?;
    }
    Ok(db)
}

async fn ensure_project(
    store: &Databases,
    id: &str,
    organization: &str,
    name: &str,
    timezone: Option<String>,
) -> Result<ProjectRecord, Error> {
    if let Some(p) = store.project(id).await? {
        return Ok(p);
    }
    let p = ProjectRecord {
        id: id.into(),
        organization_id: organization.into(),
        name: name.into(),
        timezone,
    };
    store.upsert_project(&p, now_ms()).await?;
    Ok(p)
}

/// Create a client (§9): read and write clients need a project; a root client may have
/// none, its organization then given or taken from the project. Returns (id, secret).
pub async fn create_client(
    store: &Databases,
    kind: ClientKind,
    project: Option<String>,
    organization: Option<String>,
    name: Option<String>,
) -> Result<(String, String), Error> {
    let project_row = match &project {
        Some(p) => Some(
            store
                .project(p)
                .await?
                .ok_or_else(|| Error::Config(format!("no such project {p:?}")))?,
        ),
        None if kind == ClientKind::Root => None,
        None => {
            return Err(Error::Config(format!(
                "a {} client needs --project",
                kind.as_str()
            )));
        }
    };
    let organization_id = match (organization, &project_row) {
        (Some(o), Some(p)) if o != p.organization_id => {
            return Err(Error::Config(format!(
                "project {:?} belongs to organization {:?}, not {o:?}",
                p.id, p.organization_id
            )));
        }
        (Some(o), _) => o,
        (None, Some(p)) => p.organization_id.clone(),
        (None, None) => {
            return Err(Error::Config(
                "a root client without a project needs --organization".into(),
            ));
        }
    };
    let secret = generate_secret();
    let id = uuid::Uuid::new_v4().to_string();
    let client = ClientRecord {
        id: id.clone(),
        name: name.unwrap_or_else(|| format!("{} client", kind.as_str())),
        secret: Some(hash_secret(&secret)),
        kind,
        project_id: project,
        organization_id,
    };
    store.insert_client(&client, now_ms()).await?;
    Ok((id, secret.expose().to_string()))
}

/// Generate and store a seeded data set: in one transaction on SQLite and PostgreSQL, in
/// batches of one `INSERT` on ClickHouse.
async fn seed_into(store: &Databases, opts: &SeedOptions) -> Result<(), Error> {
    const BATCH: usize = 5_000;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(opts.events as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let profiles = quarry_demo::profiles(opts);
    crate::import::write_rows(store, &profiles, quarry_demo::events(opts), BATCH, |n| {
        bar.inc(n as u64)
    })
    .await?;
    bar.finish_and_clear();
    store.analyze().await
}

/// Serve; the address goes to standard error, as a log line when logs are JSON (so that
/// every line there is JSON).
async fn serve(settings: Settings, logs: LogFormat) -> Result<(), Error> {
    let db = catalog_store(&settings).await?;
    let app = Application::build_with(settings.clone(), db.backends(system_clock()))?;
    let address = format!("http://{}", bound(&settings.bind, app.port()));
    match logs {
        LogFormat::Json => tracing::info!(%address, "Quarry listening"),
        LogFormat::Text => eprintln!("Quarry listening on {address}"),
    }
    app.run_until_stopped().await.map_err(Error::Io)
}

fn bound(bind: &str, port: u16) -> String {
    let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
    let host = if host == "0.0.0.0" || host.is_empty() {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
}

/// The demo project and organization.
pub const DEMO_PROJECT: &str = "demo";

async fn demo(mut settings: Settings, db: PathBuf, events: usize) -> Result<(), Error> {
    let first_run = !db.exists();
    let url = format!("sqlite://{}", db.display());
    settings.database_url = SecretUrl::new(url.clone());
    settings.clickhouse_url = None;
    let store = catalog_store(&settings).await?;
    ensure_project(&store, DEMO_PROJECT, "demo-org", "Demo", Some("UTC".into())).await?;
    if store.count_events(DEMO_PROJECT).await? == 0 {
        eprintln!(
            "Seeding {events} demo events over the last 90 days into {} …",
            db.display()
        );
        let opts = SeedOptions {
            project_id: DEMO_PROJECT.into(),
            events,
            days: 90,
            seed: 42,
            now_ms: now_ms(),
        };
        seed_into(&store, &opts).await?;
    } else if !first_run {
        eprintln!("Reusing {}", db.display());
    }
    // The secret is shown once per creation; the demo rotates it on every run so it can
    // print working credentials without storing the plain secret anywhere.
    let secret = generate_secret();
    let id = match store.find_client(DEMO_PROJECT, ClientKind::Read).await? {
        Some(id) => {
            store.set_client_secret(&id, &hash_secret(&secret)).await?;
            id
        }
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            let client = ClientRecord {
                id: id.clone(),
                name: "demo read client".into(),
                secret: Some(hash_secret(&secret)),
                kind: ClientKind::Read,
                project_id: Some(DEMO_PROJECT.into()),
                organization_id: "demo-org".into(),
            };
            store.insert_client(&client, now_ms()).await?;
            id
        }
    };
    let backends = store.backends(system_clock());
    let app = Application::build_with(settings.clone(), backends)?;
    let addr = format!("http://{}", bound(&settings.bind, app.port()));
    let auth = format!(
        "-H 'openpanel-client-id: {id}' -H 'openpanel-client-secret: {}'",
        secret.expose()
    );
    // The page first: it is where a newcomer starts.
    println!("Quarry demo is serving {addr}/ : open it in a browser to explore the data");
    println!();
    println!("  client id:     {id}");
    println!("  client secret: {}", secret.expose());
    println!("  project:       {DEMO_PROJECT}");
    println!();
    if !settings.explorer {
        println!("(The explorer page is switched off: --explorer false.)");
    }
    println!("The API is described at {addr}/openapi.json. Try:");
    println!("  curl -s '{addr}/export/events?projectId={DEMO_PROJECT}&limit=3' {auth}");
    println!(
        "  curl -s -G '{addr}/export/charts' --data-urlencode 'projectId={DEMO_PROJECT}' --data-urlencode 'events=[{{\"name\":\"screen_view\"}}]' --data-urlencode 'breakdowns=[{{\"name\":\"country\"}}]' --data-urlencode 'range=7d' --data-urlencode 'limit=3' {auth}"
    );
    println!(
        "  curl -s -G '{addr}/export/funnel' --data-urlencode 'projectId={DEMO_PROJECT}' --data-urlencode 'events=[{{\"name\":\"session_start\"}},{{\"name\":\"sign_up\"}},{{\"name\":\"purchase\"}}]' --data-urlencode 'range=30d' --data-urlencode 'funnelGroup=profile_id' {auth}"
    );
    println!();
    println!("Press Ctrl-C to stop.");
    app.run_until_stopped().await.map_err(Error::Io)
}
