//! Validated requests: what the decoder produces and the compiler consumes.
//!
//! Everything here has passed validation; user text that survives (event names, filter
//! values, property keys) is only ever carried to SQL as a bound parameter.

use chrono_tz::Tz;

use crate::time::{Interval, RangeName};

/// A string or numeric column of the events table (§4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Name,
    Path,
    Origin,
    Referrer,
    ReferrerName,
    ReferrerType,
    Country,
    City,
    Region,
    Os,
    OsVersion,
    Browser,
    BrowserVersion,
    Device,
    Brand,
    Model,
    DeviceId,
    ProfileId,
    SessionId,
    SdkName,
    SdkVersion,
    Duration,
    Longitude,
    Latitude,
}

impl Column {
    /// Every column, for lookups.
    pub const ALL: [Column; 24] = [
        Column::Name,
        Column::Path,
        Column::Origin,
        Column::Referrer,
        Column::ReferrerName,
        Column::ReferrerType,
        Column::Country,
        Column::City,
        Column::Region,
        Column::Os,
        Column::OsVersion,
        Column::Browser,
        Column::BrowserVersion,
        Column::Device,
        Column::Brand,
        Column::Model,
        Column::DeviceId,
        Column::ProfileId,
        Column::SessionId,
        Column::SdkName,
        Column::SdkVersion,
        Column::Duration,
        Column::Longitude,
        Column::Latitude,
    ];

    /// The SQL column name (a whitelisted identifier).
    pub fn sql(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Path => "path",
            Column::Origin => "origin",
            Column::Referrer => "referrer",
            Column::ReferrerName => "referrer_name",
            Column::ReferrerType => "referrer_type",
            Column::Country => "country",
            Column::City => "city",
            Column::Region => "region",
            Column::Os => "os",
            Column::OsVersion => "os_version",
            Column::Browser => "browser",
            Column::BrowserVersion => "browser_version",
            Column::Device => "device",
            Column::Brand => "brand",
            Column::Model => "model",
            Column::DeviceId => "device_id",
            Column::ProfileId => "profile_id",
            Column::SessionId => "session_id",
            Column::SdkName => "sdk_name",
            Column::SdkVersion => "sdk_version",
            Column::Duration => "duration",
            Column::Longitude => "longitude",
            Column::Latitude => "latitude",
        }
    }

    /// The camelCase alias accepted beside the snake_case name.
    pub fn camel(self) -> &'static str {
        match self {
            Column::ReferrerName => "referrerName",
            Column::ReferrerType => "referrerType",
            Column::OsVersion => "osVersion",
            Column::BrowserVersion => "browserVersion",
            Column::DeviceId => "deviceId",
            Column::ProfileId => "profileId",
            Column::SessionId => "sessionId",
            Column::SdkName => "sdkName",
            Column::SdkVersion => "sdkVersion",
            other => other.sql(),
        }
    }

    /// Numeric columns compare numerically and take numeric filter values.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Column::Duration | Column::Longitude | Column::Latitude
        )
    }

    /// Look a column up by its snake_case name or camelCase alias.
    pub fn parse(s: &str) -> Option<Column> {
        Column::ALL
            .into_iter()
            .find(|c| c.sql() == s || c.camel() == s)
    }
}

/// What a filter, breakdown or property segment reads (§4.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// A column of the events table.
    Column(Column),
    /// `properties.<key>`: the key is user text and travels as a bound parameter.
    Property(String),
    /// `has_profile` (filters only).
    HasProfile,
}

impl Field {
    /// Whether values of this field are numbers.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Field::Column(c) if c.is_numeric())
    }
}

/// Filter operators of §4.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Is,
    IsNot,
    Contains,
    DoesNotContain,
    StartsWith,
    EndsWith,
    Regex,
    IsNull,
    IsNotNull,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Operator {
    /// Every operator with its wire name.
    pub const ALL: [(Operator, &'static str); 13] = [
        (Operator::Is, "is"),
        (Operator::IsNot, "isNot"),
        (Operator::Contains, "contains"),
        (Operator::DoesNotContain, "doesNotContain"),
        (Operator::StartsWith, "startsWith"),
        (Operator::EndsWith, "endsWith"),
        (Operator::Regex, "regex"),
        (Operator::IsNull, "isNull"),
        (Operator::IsNotNull, "isNotNull"),
        (Operator::Gt, "gt"),
        (Operator::Gte, "gte"),
        (Operator::Lt, "lt"),
        (Operator::Lte, "lte"),
    ];

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Operator> {
        Operator::ALL.iter().find(|(_, n)| *n == s).map(|(o, _)| *o)
    }

    /// Negative operators AND their values ("none of them").
    pub fn is_negative(self) -> bool {
        matches!(self, Operator::IsNot | Operator::DoesNotContain)
    }

    /// Operators that take no values.
    pub fn takes_no_values(self) -> bool {
        matches!(self, Operator::IsNull | Operator::IsNotNull)
    }
}

/// The values of one filter, already converted to what the field compares against.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValues {
    /// Text comparisons (§4.5 conversion rules applied).
    Text(Vec<String>),
    /// Numeric comparisons: numeric columns, and `gt`/`gte`/`lt`/`lte`.
    Numbers(Vec<f64>),
    /// `has_profile is true|false`.
    Bools(Vec<bool>),
    /// `isNull` / `isNotNull`.
    None,
}

/// One validated filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The field compared.
    pub field: Field,
    /// The operator.
    pub operator: Operator,
    /// The values, ORed (ANDed for negative operators).
    pub values: FilterValues,
}

/// What `count` means in a bucket (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Event,
    User,
    Session,
    UserAverage,
    OneEventPerUser,
    PropertySum,
    PropertyAverage,
    PropertyMin,
    PropertyMax,
}

impl Segment {
    /// Every segment with its wire name.
    pub const ALL: [(Segment, &'static str); 9] = [
        (Segment::Event, "event"),
        (Segment::User, "user"),
        (Segment::Session, "session"),
        (Segment::UserAverage, "user_average"),
        (Segment::OneEventPerUser, "one_event_per_user"),
        (Segment::PropertySum, "property_sum"),
        (Segment::PropertyAverage, "property_average"),
        (Segment::PropertyMin, "property_min"),
        (Segment::PropertyMax, "property_max"),
    ];

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Segment> {
        Segment::ALL.iter().find(|(_, n)| *n == s).map(|(o, _)| *o)
    }

    /// Segments that aggregate a numeric `property`.
    pub fn needs_property(self) -> bool {
        matches!(
            self,
            Segment::PropertySum
                | Segment::PropertyAverage
                | Segment::PropertyMin
                | Segment::PropertyMax
        )
    }

    /// Segments whose bucket values are integers.
    pub fn is_integral(self) -> bool {
        matches!(
            self,
            Segment::Event | Segment::User | Segment::Session | Segment::OneEventPerUser
        )
    }
}

/// Which events a config or step matches by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventName {
    /// `*`: every event.
    Any,
    /// One event name (user text, bound as a parameter).
    Named(String),
}

impl EventName {
    /// The name as the request wrote it.
    pub fn as_str(&self) -> &str {
        match self {
            EventName::Any => "*",
            EventName::Named(n) => n,
        }
    }
}

/// One chart event config (§6).
#[derive(Debug, Clone, PartialEq)]
pub struct EventConfig {
    /// Which events.
    pub name: EventName,
    /// Shown in `names[0]` and `event.displayName`; defaults to the name.
    pub display_name: String,
    /// ANDed filters.
    pub filters: Vec<Filter>,
    /// What a bucket counts.
    pub segment: Segment,
    /// The field that property segments aggregate.
    pub property: Option<Field>,
}

/// One breakdown: the field and the key it is reported under (as the request wrote it).
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// The field grouped by.
    pub field: Field,
    /// The key in the series' `breakdowns` object.
    pub label: String,
}

/// The time window a chart or funnel asks for, before the timezone and clock are known.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeSpec {
    /// A named range (§6.1).
    Range(RangeName),
    /// `startDate` with an optional `endDate` (raw text, parsed in the request timezone).
    Dates {
        /// `startDate` as written.
        start: String,
        /// `endDate` as written; `None` runs to now.
        end: Option<String>,
    },
}

/// Chart types (§6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartType {
    Linear,
    Area,
    Bar,
    Histogram,
    Pie,
    Metric,
    Map,
}

impl ChartType {
    /// Every chart type with its wire name.
    pub const ALL: [(ChartType, &'static str); 7] = [
        (ChartType::Linear, "linear"),
        (ChartType::Area, "area"),
        (ChartType::Bar, "bar"),
        (ChartType::Histogram, "histogram"),
        (ChartType::Pie, "pie"),
        (ChartType::Metric, "metric"),
        (ChartType::Map, "map"),
    ];
}

/// Which metric sorts the series (§6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Sum,
    Average,
    Min,
    Max,
}

impl Metric {
    /// Every metric with its wire name.
    pub const ALL: [(Metric, &'static str); 4] = [
        (Metric::Sum, "sum"),
        (Metric::Average, "average"),
        (Metric::Min, "min"),
        (Metric::Max, "max"),
    ];
}

/// `GET /export/charts`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartRequest {
    /// `projectId` / `project_id` if given.
    pub project_id: Option<String>,
    /// 1 to 20 event configs.
    pub events: Vec<EventConfig>,
    /// At most 3 breakdowns.
    pub breakdowns: Vec<Breakdown>,
    /// Bucket width.
    pub interval: Interval,
    /// The window.
    pub time: TimeSpec,
    /// Add the previous period.
    pub previous: bool,
    /// The chart type (decides the sort metric).
    pub chart_type: ChartType,
    /// The requested metric.
    pub metric: Metric,
    /// Series returned (1..=1000).
    pub limit: usize,
    /// Series skipped.
    pub offset: usize,
    /// `timezone` override.
    pub timezone: Option<Tz>,
    /// The budget of points the chart may keep ([`crate::decode::Limits::max_chart_points`]),
    /// checked by the compiler once the buckets are known.
    pub max_points: usize,
}

impl ChartRequest {
    /// The metric that orders series: linear, area and histogram always sort by sum.
    pub fn sort_metric(&self) -> Metric {
        match self.chart_type {
            ChartType::Linear | ChartType::Area | ChartType::Histogram => Metric::Sum,
            ChartType::Bar | ChartType::Pie | ChartType::Metric | ChartType::Map => self.metric,
        }
    }
}

/// What one funnel entrant is (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunnelGroup {
    /// One session.
    Session,
    /// One profile.
    Profile,
}

impl FunnelGroup {
    /// The grouping column.
    pub fn column(self) -> Column {
        match self {
            FunnelGroup::Session => Column::SessionId,
            FunnelGroup::Profile => Column::ProfileId,
        }
    }
}

/// What an event must be to match a funnel step, an alternative of one, or an exclusion:
/// its name and ANDed filters.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMatch {
    /// Which events.
    pub name: EventName,
    /// ANDed filters.
    pub filters: Vec<Filter>,
}

/// One funnel step.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStep {
    /// Which events: one config, or several alternatives (`anyOf`) of which any matches.
    pub matches: Vec<StepMatch>,
    /// Shown in `event.displayName`.
    pub display_name: String,
    /// The longest time this step may follow the previous one (`window`, in ms).
    pub window_ms: Option<i64>,
}

impl FunnelStep {
    /// A step of one event config.
    pub fn single(name: EventName, display_name: String, filters: Vec<Filter>) -> FunnelStep {
        FunnelStep {
            matches: vec![StepMatch { name, filters }],
            display_name,
            window_ms: None,
        }
    }

    /// `event.name` in the response: the name, or the alternatives' names joined by
    /// `" or "`.
    pub fn name(&self) -> String {
        let names: Vec<&str> = self.matches.iter().map(|m| m.name.as_str()).collect();
        names.join(" or ")
    }
}

/// How the steps of a chain follow each other (`funnelOrder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunnelOrder {
    /// Each step strictly later than the previous one (§7, the default).
    #[default]
    Ordered,
    /// As `Ordered`, and no other event of the entrant at or between two consecutive
    /// steps' times.
    Strict,
    /// The steps in any order (ties included): distinct events, one per step, all within
    /// the funnel window of each other.
    Any,
}

/// What the date range bounds (`funnelRange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunnelRange {
    /// Every step of a chain (§7, the default).
    #[default]
    All,
    /// The first step only: later steps may follow up to the funnel window after the end.
    Entry,
}

/// Events that disqualify a chain when they happen at or between the times of two of its
/// steps (`exclusions`).
#[derive(Debug, Clone, PartialEq)]
pub struct Exclusion {
    /// Which events.
    pub matcher: StepMatch,
    /// The first step (1-based).
    pub from: usize,
    /// The last step (1-based, > `from`).
    pub to: usize,
}

/// `GET /export/funnel`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelRequest {
    /// `projectId` / `project_id` if given.
    pub project_id: Option<String>,
    /// 2 to 20 steps.
    pub steps: Vec<FunnelStep>,
    /// The window.
    pub time: TimeSpec,
    /// `timezone` override.
    pub timezone: Option<Tz>,
    /// Conversion window in milliseconds.
    pub window_ms: i64,
    /// What one entrant is.
    pub group: FunnelGroup,
    /// `funnelOrder`.
    pub order: FunnelOrder,
    /// `exclusions`.
    pub exclusions: Vec<Exclusion>,
    /// `funnelRange`.
    pub range: FunnelRange,
    /// `previous`: the same funnel over the previous period too.
    pub previous: bool,
    /// `interval`: conversion over time by entry bucket.
    pub interval: Option<Interval>,
    /// `timeToConvert` / `timeToConvertBins`: the histogram's bin edges (ms, increasing)
    /// when the time to convert is asked for.
    pub time_to_convert: Option<Vec<i64>>,
    /// `breakdowns` with their attribution and page, when asked for.
    pub breakdowns: Option<FunnelBreakdowns>,
}

/// Which event of an entrant gives its breakdown values (`breakdownAttribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Attribution {
    /// The entry: the earliest step-1 event (the default).
    #[default]
    First,
    /// The earliest completion of the deepest step reached.
    Last,
    /// The earliest completion of this step (1-based), or of the deepest step reached
    /// when that is before it.
    Step(usize),
}

/// A funnel's breakdowns (docs/funnels.md): up to 3 text fields, which event gives an
/// entrant's values, and which combinations (ranked by entrants) are shown; the rest are
/// one `Other` group.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelBreakdowns {
    pub fields: Vec<Breakdown>,
    pub attribution: Attribution,
    pub limit: usize,
    pub offset: usize,
}

impl FunnelRequest {
    /// Whether a chain is §7's: ordered steps, no exclusions, the range bounding every
    /// step, no step windows. Alternatives (a step's condition is any of its configs),
    /// `previous`, `interval`, time to convert and breakdowns do not change what a chain
    /// is, so an engine's funnel aggregate can still find the levels.
    pub fn has_plain_chains(&self) -> bool {
        self.has_ordered_chains() && self.range == FunnelRange::All
    }

    /// Whether the chains are §7's but for `funnelRange=entry`, which only bounds step 1
    /// and lengthens the scan: ordered, no exclusions, no step windows.
    pub fn has_ordered_chains(&self) -> bool {
        self.order == FunnelOrder::Ordered
            && self.exclusions.is_empty()
            && self.steps.iter().all(|s| self.step_window(s).is_none())
    }

    /// A step's window when it can fail: consecutive steps are never further apart than
    /// the chain's first and last, which the funnel window bounds, so a step window at
    /// least as long as the funnel window changes nothing and is treated as absent (the
    /// request keeps §7's chains and their statement).
    pub fn step_window(&self, step: &FunnelStep) -> Option<i64> {
        step.window_ms.filter(|&w| w < self.window_ms)
    }

    /// Whether the request is §7's but for alternatives and `previous`: its statement is
    /// §7's on every engine that has a funnel aggregate.
    pub fn is_plain(&self) -> bool {
        self.has_plain_chains() && self.interval.is_none() && self.time_to_convert.is_none()
    }
}

/// Extra parts of an exported event (§5 `includes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Include {
    /// An Event field beyond the defaults.
    Field(crate::event::EventField),
    /// The event's profile.
    Profile,
    /// The event name's metadata.
    Meta,
}

/// `GET /export/events`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsRequest {
    /// `projectId` / `project_id` if given.
    pub project_id: Option<String>,
    /// Only these event names (empty: all).
    pub events: Vec<String>,
    /// `start` as written (inclusive).
    pub start: Option<String>,
    /// `end` as written (inclusive; a date means through the end of that day).
    pub end: Option<String>,
    /// Page, from 1.
    pub page: u64,
    /// Page size after clamping.
    pub limit: u64,
    /// Requested extras.
    pub includes: Vec<Include>,
    /// ANDed filters.
    pub filters: Vec<Filter>,
    /// Only this profile's events.
    pub profile_id: Option<String>,
    /// `timezone` override.
    pub timezone: Option<Tz>,
    /// `fields`: the chosen columns, in order; `None` means §5's defaults plus `includes`.
    pub fields: Option<Vec<ExportColumn>>,
    /// `cursor`: keyset paging (empty text asks for the first page); `None` is §5's
    /// offset paging.
    pub cursor: Option<String>,
    /// `count=true`: add `totalCount` to a cursor page.
    pub count: bool,
    /// `format`, when given: `json` (a page) or a streamed export of every matching row.
    /// When absent, the server may choose by the `Accept` header.
    pub format: Option<Format>,
}

/// One exported column: an Event field, or one property as a column of its own
/// (`fields=properties.plan`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExportColumn {
    /// An Event field.
    Field(crate::event::EventField),
    /// `properties.<key>`: the property's text, empty when the event lacks it (§4.4).
    Property(String),
}

impl ExportColumn {
    /// The column's name in JSON objects and CSV headers.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        match self {
            ExportColumn::Field(f) => f.json().into(),
            ExportColumn::Property(key) => format!("properties.{key}").into(),
        }
    }
}

/// The body an events request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// §5's JSON page (or a keyset page).
    Json,
    /// Every matching row, streamed.
    Stream(ExportFormat),
}

/// A streamed export's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON Event object per line (`application/x-ndjson`).
    Ndjson,
    /// RFC 4180 with a header row (`text/csv`).
    Csv,
    /// Apache Parquet, typed columns (`application/vnd.apache.parquet`).
    Parquet,
}

impl ExportFormat {
    /// The media type of the body.
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Parquet => "application/vnd.apache.parquet",
        }
    }

    /// Parse a `format=` value.
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s {
            "ndjson" => Some(ExportFormat::Ndjson),
            "csv" => Some(ExportFormat::Csv),
            "parquet" => Some(ExportFormat::Parquet),
            _ => None,
        }
    }

    /// The streamed format an `Accept` header asks for, if any: the first of its media
    /// types (parameters and weights ignored) that names one.
    pub fn from_accept(accept: &str) -> Option<ExportFormat> {
        accept.split(',').find_map(|item| {
            let media = item.split(';').next().unwrap_or("").trim();
            match media.to_ascii_lowercase().as_str() {
                "application/x-ndjson" | "application/ndjson" => Some(ExportFormat::Ndjson),
                "text/csv" => Some(ExportFormat::Csv),
                "application/vnd.apache.parquet" => Some(ExportFormat::Parquet),
                _ => None,
            }
        })
    }
}
