//! Deterministic, realistic demo data for `quarry seed` and `quarry demo` (contract §9).
//!
//! [`events`] streams the traffic of a small SaaS web site (`https://demo.quarry.dev`):
//! visitor sessions made of a `session_start`, a few `screen_view` page views over about
//! thirty paths with a Zipf-like popularity (`/`, `/pricing`, `/docs/…`, `/blog/…`), and
//! usually a `session_end`; a `sign_up` when a new user registers; and `purchase` events
//! carrying a numeric `total` (`"49.99"`) and a `currency` (`USD`/`EUR`). Sessions have a
//! referrer (`Google`/`search`, `Twitter`/`social`, direct `""`, …) and, for about a fifth,
//! `__query.utm_source`/`utm_medium`/`utm_campaign` properties. Country, city, region and
//! coordinates belong together, and so do device (desktop/mobile/tablet), OS, browser, brand
//! and model. About 60% of sessions are anonymous (empty `profile_id`); the others belong to
//! identified users, returned by [`profiles`], who come back over several days on one or two
//! devices. Traffic follows a daily and weekly rhythm (UTC daytime, weekdays), grows mildly
//! and varies from day to day over the last `days` days before `now_ms`, never after it.
//! A few values carry quotes and non-ASCII text (`summer "sale" ✓`, `München`, `O'Brien`),
//! and some events share a timestamp, as real data does.
//!
//! Everything is drawn from a small SplitMix64 generator seeded by the options, never from
//! the OS or the clock: the same project, count, window, seed and `now_ms` always give the
//! same events, ids included, so demos, documentation and benchmarks are reproducible and a
//! data set can be re-created anywhere instead of being shipped. Events are produced
//! session by session and merged through a small heap, so memory stays proportional to the
//! sessions in flight, not to the number of events.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::iter::FusedIterator;

use quarry_core::event::{NewEvent, NewProfile};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The widest window generated (about a century); a larger `days` is clamped to it.
pub const MAX_DAYS: u32 = 36_500;
/// The origin of every generated event.
pub const ORIGIN: &str = "https://demo.quarry.dev";

const SDK_NAME: &str = "web";
const SDK_VERSIONS: [(&str, u32); 3] = [("1.0.1", 15), ("1.0.2", 35), ("1.1.0", 50)];

/// Share of sessions that belong to an identified user.
const IDENTIFIED_SHARE: f64 = 0.4;
/// Share of identified sessions that are a new user's first (with a `sign_up`).
const NEW_USER_SHARE: f64 = 0.22;
/// Share of sessions that arrive with utm parameters.
const CAMPAIGN_SHARE: f64 = 0.2;
/// Roughly the mean number of events per session, to size the pre-existing user base.
const MEAN_SESSION_EVENTS: f64 = 5.0;

/// What to generate. `events` is exact; the window is `[now_ms − days, now_ms]`.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// The project of every event and profile.
    pub project_id: String,
    /// How many events to produce, exactly.
    pub events: usize,
    /// Window length in days before `now_ms` (0 reads as 1; at most [`MAX_DAYS`]).
    pub days: u32,
    /// Seed of the generator: another seed gives another (equally realistic) data set.
    pub seed: u64,
    /// The end of the window, ms since the epoch; no event is later.
    pub now_ms: i64,
}

/// Streams the events of `opts` in chronological order (oldest first, ties in generation
/// order), exactly `opts.events` of them, generating session by session.
pub fn events(opts: &SeedOptions) -> SeedEvents {
    let mut planner = Planner::new(opts);
    let next_plan = planner.next_plan();
    SeedEvents {
        base: planner.base,
        now_ms: planner.now_ms,
        project_id: opts.project_id.clone(),
        planner,
        next_plan,
        heap: BinaryHeap::new(),
        slots: Vec::new(),
        free: Vec::new(),
        seq: 0,
        remaining: opts.events,
        steps: Vec::with_capacity(32),
    }
}

/// The profiles of the identified users the events of `opts` reference, one per distinct
/// non-empty `profile_id`, in the order users first appear. Deterministic like [`events`],
/// and cheap: it replays only the session plan, not the events.
pub fn profiles(opts: &SeedOptions) -> Vec<NewProfile> {
    let mut planner = Planner::new(opts);
    let mut first_seen: Vec<Option<i64>> = Vec::new();
    while let Some(plan) = planner.next_plan() {
        if let Some(p) = plan.profile {
            let i = p as usize;
            if first_seen.len() <= i {
                first_seen.resize(i + 1, None);
            }
            if let Some(slot @ None) = first_seen.get_mut(i) {
                *slot = Some(plan.start);
            }
        }
    }
    let mut seen: Vec<(i64, u32)> = first_seen
        .iter()
        .enumerate()
        .filter_map(|(i, at)| at.map(|at| (at, i as u32)))
        .collect();
    seen.sort_unstable();
    seen.into_iter()
        .map(|(at, p)| make_profile(&planner, &opts.project_id, p, at))
        .collect()
}

fn make_profile(planner: &Planner, project_id: &str, p: u32, first_seen: i64) -> NewProfile {
    let traits = UserTraits::of(planner.base, p);
    let mut rng = Rng::new(mix(planner.base ^ mix(u64::from(p) ^ PROFILE_TAG)));
    let created_at = if p < planner.pre_users {
        // Signed up before the window.
        planner.from_ms - rng.between(DAY_MS, 400 * DAY_MS)
    } else {
        first_seen
    };
    let (first, first_ascii) = traits.first_name;
    let (last, last_ascii) = traits.last_name;
    let domain = rng.pick(&["example.com", "example.org", "example.net"]);
    let id = profile_id(planner.base, p);
    let avatar = if rng.chance(0.3) {
        format!("{ORIGIN}/avatars/{}.png", &id[..8])
    } else {
        String::new()
    };
    let mut properties = BTreeMap::new();
    let newsletter = rng.chance(0.35);
    let role = rng.weighted(&[
        ("developer", 45),
        ("product", 20),
        ("marketing", 20),
        ("founder", 15),
    ]);
    let size = rng.weighted(&[("1-10", 40), ("11-50", 30), ("51-200", 20), ("201+", 10)]);
    properties.insert("newsletter".to_string(), newsletter.to_string());
    properties.insert("role".to_string(), role.to_string());
    properties.insert("company_size".to_string(), size.to_string());
    properties.insert("home_country".to_string(), traits.home.country.to_string());
    NewProfile {
        email: format!("{first_ascii}.{last_ascii}{p}@{domain}"),
        id,
        project_id: project_id.to_string(),
        is_external: true,
        first_name: first.to_string(),
        last_name: last.to_string(),
        avatar,
        properties,
        created_at,
    }
}

// ---------------------------------------------------------------------------------------
// Randomness: SplitMix64 (Steele, Lea & Flood), small, fast and good enough for demo data.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const USER_TAG: u64 = 0x5553_4552_0000_0001;
const PROFILE_TAG: u64 = 0x5052_4f46_0000_0002;
const DEVICE_TAG: u64 = 0x4445_5649_0000_0003;
const DAY_TAG: u64 = 0x4441_5953_0000_0004;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn unit_of(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        unit_of(self.next_u64())
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (`lo <= hi`).
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi.abs_diff(lo) + 1) as i64
    }

    /// A standard normal draw (Irwin–Hall approximation, no tails beyond ±3.5).
    fn normal(&mut self) -> f64 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 3f64.sqrt()
    }

    /// Uniform pick from a non-empty list.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// Weighted pick from a non-empty list of `(item, weight)`.
    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u64 = items.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut r = self.below(total);
        for &(item, w) in items {
            if r < u64::from(w) {
                return item;
            }
            r -= u64::from(w);
        }
        items[items.len() - 1].0
    }

    fn uuid(&mut self) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        uuid_from(hi, lo)
    }
}

/// Format 128 random bits as a version-4 (random), RFC 4122 variant UUID.
fn uuid_from(hi: u64, lo: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    let bytes = ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes();
    let mut text = Vec::with_capacity(36);
    for (i, byte) in bytes.into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push(b'-');
        }
        text.push(HEX[usize::from(byte >> 4)]);
        text.push(HEX[usize::from(byte & 0xF)]);
    }
    // Always ASCII, so never empty.
    String::from_utf8(text).unwrap_or_default()
}

fn profile_id(base: u64, p: u32) -> String {
    let h = mix(base ^ mix(u64::from(p) ^ PROFILE_TAG) ^ GOLDEN);
    uuid_from(h, mix(h ^ PROFILE_TAG))
}

fn user_device_id(base: u64, p: u32, which: u64) -> String {
    let h = mix(base ^ mix((u64::from(p) << 1 | which) ^ DEVICE_TAG));
    uuid_from(h, mix(h ^ DEVICE_TAG))
}

// ---------------------------------------------------------------------------------------
// The site, the world and the devices.

#[derive(Debug, Clone, Copy, PartialEq)]
struct Page {
    path: &'static str,
    title: &'static str,
}

const fn page(path: &'static str, title: &'static str) -> Page {
    Page { path, title }
}

const HOME: Page = page("/", "Quarry — analytics you own");
const PRICING: Page = page("/pricing", "Pricing — Quarry");
const SIGNUP: Page = page("/signup", "Sign up — Quarry");
const CHECKOUT: Page = page("/checkout", "Checkout — Quarry");

/// Thirty pages, weights ≈ 1000 / rank^1.1 (Zipf-like).
const PAGES: [(Page, u32); 30] = [
    (HOME, 1000),
    (PRICING, 467),
    (
        page("/docs/getting-started", "Getting started — Quarry docs"),
        299,
    ),
    (page("/features", "Features — Quarry"), 218),
    (page("/blog", "Blog — Quarry"), 170),
    (page("/docs", "Documentation — Quarry"), 139),
    (page("/docs/api/export", "Export API — Quarry docs"), 118),
    (page("/login", "Log in — Quarry"), 102),
    (SIGNUP, 89),
    (
        page(
            "/blog/launching-quarry",
            "Launching Quarry: \"analytics you own\"",
        ),
        79,
    ),
    (page("/docs/api/charts", "Charts API — Quarry docs"), 71),
    (page("/docs/self-hosting", "Self-hosting — Quarry docs"), 65),
    (page("/integrations", "Integrations — Quarry"), 59),
    (
        page(
            "/blog/openpanel-compatible-export-api",
            "An OpenPanel-compatible export API",
        ),
        55,
    ),
    (page("/changelog", "Changelog — Quarry"), 51),
    (page("/about", "About us — Quarry"), 47),
    (page("/docs/api/funnel", "Funnel API — Quarry docs"), 44),
    (
        page(
            "/blog/clickhouse-vs-postgres",
            "ClickHouse vs PostgreSQL: 10× faster?",
        ),
        42,
    ),
    (page("/customers", "Customers — Quarry ♥"), 39),
    (
        page("/docs/sdks/javascript", "JavaScript SDK — Quarry docs"),
        37,
    ),
    (CHECKOUT, 35),
    (page("/docs/filters", "Filters — Quarry docs"), 33),
    (
        page(
            "/blog/privacy-first-analytics",
            "Privacy-first analytics, explained",
        ),
        32,
    ),
    (page("/contact", "Contact — Quarry"), 30),
    (page("/security", "Security — Quarry"), 29),
    (
        page("/docs/api/authentication", "Authentication — Quarry docs"),
        28,
    ),
    (page("/careers", "Careers — Quarry"), 27),
    (page("/status", "Status — Quarry"), 26),
    (page("/privacy", "Privacy policy — Quarry"), 25),
    (page("/terms", "Terms of service — Quarry"), 24),
];

#[derive(Debug, Clone, Copy, PartialEq)]
struct City {
    country: &'static str,
    city: &'static str,
    region: &'static str,
    latitude: f64,
    longitude: f64,
}

const fn city(
    country: &'static str,
    city: &'static str,
    region: &'static str,
    latitude: f64,
    longitude: f64,
) -> City {
    City {
        country,
        city,
        region,
        latitude,
        longitude,
    }
}

/// Cities weighted so that countries get US 29, SE 10, DE 10, GB 9, IN 9, FR 7, BR 6,
/// JP 5, CA 4, NO 4, NL 3, AU 3, ES 2.
const CITIES: [(City, u32); 30] = [
    (city("US", "New York", "New York", 40.7128, -74.006), 9),
    (
        city("US", "San Francisco", "California", 37.7749, -122.4194),
        7,
    ),
    (city("US", "Chicago", "Illinois", 41.8781, -87.6298), 5),
    (city("US", "Austin", "Texas", 30.2672, -97.7431), 4),
    (city("US", "Seattle", "Washington", 47.6062, -122.3321), 4),
    (city("SE", "Stockholm", "Stockholm", 59.3293, 18.0686), 6),
    (
        city("SE", "Göteborg", "Västra Götaland", 57.7089, 11.9746),
        2,
    ),
    (city("SE", "Malmö", "Skåne", 55.605, 13.0038), 2),
    (city("DE", "Berlin", "Berlin", 52.52, 13.405), 5),
    (city("DE", "München", "Bavaria", 48.1351, 11.582), 3),
    (city("DE", "Hamburg", "Hamburg", 53.5511, 9.9937), 2),
    (city("GB", "London", "England", 51.5074, -0.1278), 6),
    (city("GB", "Manchester", "England", 53.4808, -2.2426), 2),
    (city("GB", "Edinburgh", "Scotland", 55.9533, -3.1883), 1),
    (city("IN", "Bengaluru", "Karnataka", 12.9716, 77.5946), 4),
    (city("IN", "Mumbai", "Maharashtra", 19.076, 72.8777), 3),
    (city("IN", "New Delhi", "Delhi", 28.6139, 77.209), 2),
    (city("FR", "Paris", "Île-de-France", 48.8566, 2.3522), 5),
    (
        city("FR", "Lyon", "Auvergne-Rhône-Alpes", 45.764, 4.8357),
        2,
    ),
    (city("BR", "São Paulo", "São Paulo", -23.5505, -46.6333), 4),
    (
        city("BR", "Rio de Janeiro", "Rio de Janeiro", -22.9068, -43.1729),
        2,
    ),
    (city("JP", "Tokyo", "Tokyo", 35.6762, 139.6503), 4),
    (city("JP", "Osaka", "Osaka", 34.6937, 135.5023), 1),
    (city("CA", "Toronto", "Ontario", 43.6532, -79.3832), 3),
    (
        city("CA", "Vancouver", "British Columbia", 49.2827, -123.1207),
        1,
    ),
    (city("NO", "Oslo", "Oslo", 59.9139, 10.7522), 3),
    (city("NO", "Bergen", "Vestland", 60.3913, 5.3221), 1),
    (city("NL", "Amsterdam", "North Holland", 52.3676, 4.9041), 3),
    (
        city("AU", "Sydney", "New South Wales", -33.8688, 151.2093),
        3,
    ),
    (city("ES", "Madrid", "Madrid", 40.4168, -3.7038), 2),
];

/// A city, or `None` for the small share of visitors that geolocation cannot place.
fn pick_city(rng: &mut Rng) -> Option<City> {
    if rng.chance(0.015) {
        None
    } else {
        Some(rng.weighted(&CITIES))
    }
}

fn currency_of(country: &str) -> &'static str {
    match country {
        "DE" | "FR" | "NL" | "ES" => "EUR",
        _ => "USD",
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Device {
    kind: &'static str,
    os: &'static str,
    os_version: &'static str,
    browser: &'static str,
    browser_version: &'static str,
    brand: &'static str,
    model: &'static str,
}

/// An operating system: its versions, its browsers and the hardware it runs on.
type Os = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, u32)],
    &'static [(&'static str, &'static str)],
);

const DESKTOP: [(Os, u32); 3] = [
    (
        (
            "Windows",
            &["10", "11"],
            &[("Chrome", 65), ("Edge", 22), ("Firefox", 13)],
            &[("", "")],
        ),
        55,
    ),
    (
        (
            "macOS",
            &["10.15.7", "14.6", "15.1"],
            &[("Chrome", 55), ("Safari", 35), ("Firefox", 10)],
            &[("Apple", "Macintosh")],
        ),
        35,
    ),
    (
        (
            "Linux",
            &[""],
            &[("Chrome", 50), ("Firefox", 50)],
            &[("", "")],
        ),
        10,
    ),
];

const MOBILE: [(Os, u32); 2] = [
    (
        (
            "iOS",
            &["17.6.1", "18.0", "18.1", "18.2"],
            &[("Safari", 82), ("Chrome", 18)],
            &[("Apple", "iPhone")],
        ),
        50,
    ),
    (
        (
            "Android",
            &["13", "14", "15"],
            &[("Chrome", 82), ("Samsung Internet", 10), ("Firefox", 8)],
            &[
                ("Samsung", "Galaxy S24"),
                ("Samsung", "Galaxy A54"),
                ("Google", "Pixel 8"),
                ("Google", "Pixel 7a"),
                ("Xiaomi", "Redmi Note 13"),
                ("OnePlus", "12"),
            ],
        ),
        50,
    ),
];

const TABLET: [(Os, u32); 2] = [
    (
        (
            "iOS",
            &["17.6.1", "18.1"],
            &[("Safari", 90), ("Chrome", 10)],
            &[("Apple", "iPad")],
        ),
        65,
    ),
    (
        (
            "Android",
            &["14"],
            &[("Chrome", 100)],
            &[("Samsung", "Galaxy Tab S9"), ("Lenovo", "Tab P11")],
        ),
        35,
    ),
];

fn browser_version(rng: &mut Rng, browser: &str) -> &'static str {
    match browser {
        "Chrome" => rng.weighted(&[
            ("126.0.0.0", 10),
            ("127.0.0.0", 15),
            ("128.0.0.0", 25),
            ("129.0.0.0", 30),
            ("130.0.0.0", 20),
        ]),
        "Edge" => rng.pick(&["128.0.0.0", "129.0.0.0", "130.0.0.0"]),
        "Firefox" => rng.pick(&["129.0", "130.0", "131.0"]),
        "Safari" => rng.pick(&["17.6", "18.0", "18.1"]),
        "Samsung Internet" => rng.pick(&["25.0", "26.0"]),
        _ => "",
    }
}

fn pick_device(rng: &mut Rng) -> Device {
    let (kind, table): (&str, &[(Os, u32)]) = rng.weighted(&[
        (("desktop", &DESKTOP[..]), 55),
        (("mobile", &MOBILE[..]), 40),
        (("tablet", &TABLET[..]), 5),
    ]);
    let (os, versions, browsers, hardware) = rng.weighted(table);
    let browser = rng.weighted(browsers);
    let (brand, model) = rng.pick(hardware);
    let os_version = rng.pick(versions);
    let browser_version = if browser == "Safari" && os == "iOS" {
        // Mobile Safari ships with the OS: 17.6.1 runs Safari 17.6.
        os_version
            .match_indices('.')
            .nth(1)
            .map_or(os_version, |(i, _)| &os_version[..i])
    } else {
        browser_version(rng, browser)
    };
    Device {
        kind,
        os,
        os_version,
        browser,
        browser_version,
        brand,
        model,
    }
}

/// `(referrer, referrerName, referrerType)`.
type Referrer = (&'static str, &'static str, &'static str);

const DIRECT: Referrer = ("", "", "");
const GOOGLE: Referrer = ("https://www.google.com/", "Google", "search");
const TWITTER: Referrer = ("https://t.co/", "Twitter", "social");
const LINKEDIN: Referrer = ("https://www.linkedin.com/", "LinkedIn", "social");
const PRODUCT_HUNT: Referrer = ("https://www.producthunt.com/", "Product Hunt", "unknown");

const REFERRERS: [(Referrer, u32); 11] = [
    (DIRECT, 40),
    (GOOGLE, 28),
    (("https://www.bing.com/", "Bing", "search"), 4),
    (("https://duckduckgo.com/", "DuckDuckGo", "search"), 3),
    (TWITTER, 6),
    (LINKEDIN, 3),
    (("https://www.reddit.com/", "Reddit", "social"), 4),
    (
        ("https://news.ycombinator.com/", "Hacker News", "social"),
        4,
    ),
    (("https://github.com/", "GitHub", "unknown"), 5),
    (PRODUCT_HUNT, 2),
    (("https://mail.google.com/", "Gmail", "email"), 1),
];

/// `(utm_source, utm_medium, utm_campaign, referrer)`.
type Campaign = (&'static str, &'static str, &'static str, Referrer);

const CAMPAIGNS: [(Campaign, u32); 6] = [
    (("google", "cpc", "brand_search", GOOGLE), 35),
    (("newsletter", "email", "monthly_digest", DIRECT), 20),
    (("twitter", "social", "launch_week", TWITTER), 15),
    (("producthunt", "referral", "launch_day", PRODUCT_HUNT), 12),
    (("linkedin", "paid_social", "b2b_retargeting", LINKEDIN), 10),
    (("newsletter", "email", "summer \"sale\" ✓", DIRECT), 8),
];

const FIRST_NAMES: [(&str, &str); 30] = [
    ("Emma", "emma"),
    ("Liam", "liam"),
    ("Olivia", "olivia"),
    ("Noah", "noah"),
    ("Åsa", "asa"),
    ("Björn", "bjorn"),
    ("Sofía", "sofia"),
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("François", "francois"),
    ("Jürgen", "jurgen"),
    ("Søren", "soren"),
    ("Priya", "priya"),
    ("Arjun", "arjun"),
    ("Yuki", "yuki"),
    ("Haruto", "haruto"),
    ("Lucas", "lucas"),
    ("Mia", "mia"),
    ("Ingrid", "ingrid"),
    ("Mateus", "mateus"),
    ("Chloé", "chloe"),
    ("Aarav", "aarav"),
    ("Hannah", "hannah"),
    ("Oliver", "oliver"),
    ("Amelia", "amelia"),
    ("Ana", "ana"),
    ("Léa", "lea"),
    ("Max", "max"),
    ("Nora", "nora"),
    ("Erik", "erik"),
];

const LAST_NAMES: [(&str, &str); 25] = [
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Lindqvist", "lindqvist"),
    ("Andersson", "andersson"),
    ("Müller", "muller"),
    ("Schmidt", "schmidt"),
    ("García", "garcia"),
    ("Silva", "silva"),
    ("Dubois", "dubois"),
    ("Martin", "martin"),
    ("Tanaka", "tanaka"),
    ("Sato", "sato"),
    ("Sharma", "sharma"),
    ("Patel", "patel"),
    ("Brown", "brown"),
    ("Wilson", "wilson"),
    ("Nilsen", "nilsen"),
    ("Hansen", "hansen"),
    ("O'Brien", "obrien"),
    ("Rossi", "rossi"),
    ("Kowalski", "kowalski"),
    ("Nguyen", "nguyen"),
    ("Kim", "kim"),
    ("Ødegaard", "odegaard"),
    ("Novák", "novak"),
];

/// What stays the same about an identified user across sessions.
#[derive(Debug, Clone, Copy)]
struct UserTraits {
    home: City,
    devices: [Device; 2],
    first_name: (&'static str, &'static str),
    last_name: (&'static str, &'static str),
}

impl UserTraits {
    fn of(base: u64, p: u32) -> UserTraits {
        let mut rng = Rng::new(mix(base ^ mix(u64::from(p) ^ USER_TAG)));
        UserTraits {
            home: rng.weighted(&CITIES),
            devices: [pick_device(&mut rng), pick_device(&mut rng)],
            first_name: rng.pick(&FIRST_NAMES),
            last_name: rng.pick(&LAST_NAMES),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Time: how busy each hour of the window is.

/// Relative traffic per UTC hour: quiet nights, a plateau while Europe and the Americas
/// overlap.
const HOURLY: [f64; 24] = [
    0.35, 0.28, 0.24, 0.22, 0.24, 0.30, 0.42, 0.58, 0.75, 0.88, 0.95, 1.0, 1.0, 1.02, 1.05, 1.08,
    1.05, 0.98, 0.90, 0.82, 0.74, 0.64, 0.54, 0.44,
];
/// Relative traffic per weekday, Monday first.
const WEEKLY: [f64; 7] = [1.0, 1.05, 1.04, 1.0, 0.92, 0.62, 0.58];

/// The relative traffic of hour `b` of `n` in a window starting at `from`.
fn hour_weight(base: u64, from: i64, b: u64, n: u64) -> f64 {
    let mid = from + b as i64 * HOUR_MS + HOUR_MS / 2;
    let day = mid.div_euclid(DAY_MS);
    let hour = (mid.rem_euclid(DAY_MS) / HOUR_MS) as usize;
    let weekday = (day + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let h = mix(base ^ mix(day as u64 ^ DAY_TAG));
    let mut noise = 0.85 + 0.3 * unit_of(h);
    if h % 29 == 0 {
        noise *= 2.2; // a launch, a newsletter, a post that did well
    }
    let growth = 1.0 + 0.35 * (b as f64 + 0.5) / n as f64;
    HOURLY[hour % 24] * WEEKLY[weekday % 7] * noise * growth
}

// ---------------------------------------------------------------------------------------
// The session plan: when sessions start, who they belong to, how many events they have.

#[derive(Debug, Clone, Copy)]
struct SessionPlan {
    start: i64,
    /// Events to emit (the planned ones, cut short only for the very last session).
    events: u32,
    profile: Option<u32>,
    new_user: bool,
    views: u32,
    purchase: bool,
    end: bool,
    detail_seed: u64,
}

/// Hands out session plans in start order. Each hour of the window gets a share of the
/// events proportional to its weight (cumulative targets, so rounding never drifts), and
/// sessions are spread over the hour by the events already placed in it.
#[derive(Debug, Clone)]
struct Planner {
    rng: Rng,
    base: u64,
    now_ms: i64,
    from_ms: i64,
    buckets: u64,
    total_weight: f64,
    total: u64,
    generated: u64,
    bucket: u64,
    cum_weight: f64,
    target: u64,
    bucket_first: u64,
    last_start: i64,
    users: u32,
    pre_users: u32,
}

impl Planner {
    fn new(opts: &SeedOptions) -> Planner {
        let base = mix(opts.seed ^ mix(fnv1a(&opts.project_id)));
        let days = opts.days.clamp(1, MAX_DAYS);
        let now_ms = opts.now_ms;
        let from_ms = now_ms.saturating_sub(i64::from(days) * DAY_MS);
        let buckets = u64::from(days) * 24;
        let total_weight: f64 = (0..buckets)
            .map(|b| hour_weight(base, from_ms, b, buckets))
            .sum();
        let total = opts.events as u64;
        let identified = total as f64 / MEAN_SESSION_EVENTS * IDENTIFIED_SHARE;
        let pre_users = ((identified * 0.06) as u32).max(1);
        let mut planner = Planner {
            rng: Rng::new(mix(base ^ GOLDEN)),
            base,
            now_ms,
            from_ms,
            buckets,
            total_weight,
            total,
            generated: 0,
            bucket: 0,
            cum_weight: 0.0,
            target: 0,
            bucket_first: 0,
            last_start: from_ms,
            users: pre_users,
            pre_users,
        };
        planner.enter_bucket(0);
        planner
    }

    fn enter_bucket(&mut self, b: u64) {
        self.bucket = b;
        self.cum_weight += hour_weight(self.base, self.from_ms, b, self.buckets);
        self.target = if b + 1 >= self.buckets || self.total_weight <= 0.0 {
            self.total
        } else {
            let share = self.total as f64 * self.cum_weight / self.total_weight;
            (share.round() as u64).min(self.total)
        };
        self.bucket_first = self.generated;
    }

    /// A user for an identified session: a new one (who signs up) or a returning one,
    /// either a loyal early user or someone seen recently.
    fn pick_user(&mut self) -> (u32, bool) {
        if self.users == 0 || self.rng.chance(NEW_USER_SHARE) {
            let id = self.users;
            self.users = self.users.saturating_add(1);
            return (id, true);
        }
        let users = self.users;
        if self.rng.chance(0.5) {
            let u = self.rng.unit();
            (((f64::from(users) * u * u) as u32).min(users - 1), false)
        } else {
            let recent = u64::from(users.min(60));
            (users - 1 - self.rng.below(recent) as u32, false)
        }
    }

    fn next_plan(&mut self) -> Option<SessionPlan> {
        if self.generated >= self.total {
            return None;
        }
        while self.generated >= self.target && self.bucket + 1 < self.buckets {
            self.enter_bucket(self.bucket + 1);
        }
        let rng = &mut self.rng;
        let identified = rng.chance(IDENTIFIED_SHARE);
        let (profile, new_user) = if identified {
            let (p, new) = self.pick_user();
            (Some(p), new)
        } else {
            (None, false)
        };
        let rng = &mut self.rng;
        let purchase = identified && rng.chance(if new_user { 0.06 } else { 0.1 });
        let bounce = !new_user && !purchase && rng.chance(0.32);
        let mut views = 1;
        if !bounce {
            views = 2;
            while views < 16 && !rng.chance(0.33) {
                views += 1;
            }
        }
        if new_user && purchase {
            views = views.max(3);
        }
        let mut end = rng.chance(0.78);
        let detail_seed = rng.next_u64();
        let u = rng.unit();

        let planned =
            |end: bool| 1 + views + u32::from(new_user) + u32::from(purchase) + u32::from(end);
        let in_bucket = (self.target.saturating_sub(self.bucket_first)).max(1) as f64;
        let placed = (self.generated - self.bucket_first) as f64;
        let frac = ((placed + u * f64::from(planned(end))) / in_bucket).min(1.0);
        let bucket_start = self.from_ms + self.bucket as i64 * HOUR_MS;
        let offset = ((HOUR_MS - 1) as f64 * frac) as i64;
        let start = (bucket_start + offset)
            .max(self.last_start)
            .min(self.now_ms);
        self.last_start = start;
        if start > self.now_ms - 30 * MINUTE_MS {
            end = false; // still browsing
        }
        let events = u64::from(planned(end)).min(self.total - self.generated);
        self.generated += events;
        Some(SessionPlan {
            start,
            events: events as u32,
            profile,
            new_user,
            views,
            purchase,
            end,
            detail_seed,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Sessions into events, merged in time order.

#[derive(Debug, Clone, Copy)]
enum StepKind {
    Start,
    View {
        first: bool,
    },
    SignUp {
        method: &'static str,
    },
    Purchase {
        plan: &'static str,
        cents: u64,
        quantity: u32,
        coupon: Option<&'static str>,
    },
    End,
}

#[derive(Debug, Clone, Copy)]
struct Step {
    /// Offset from the session start, ms.
    at: i64,
    duration: i64,
    page: Page,
    kind: StepKind,
}

/// Time spent on a page: log-normal around 20 s, between 1.5 s and 15 min.
fn dwell(rng: &mut Rng) -> i64 {
    let ms = (20_000f64.ln() + 1.0 * rng.normal()).exp();
    (ms as i64).clamp(1_500, 15 * MINUTE_MS)
}

/// The iterator [`events`] returns: exactly `events` items, oldest first.
#[derive(Debug)]
pub struct SeedEvents {
    planner: Planner,
    next_plan: Option<SessionPlan>,
    project_id: String,
    base: u64,
    now_ms: i64,
    /// Pending events keyed by `(created_at, generation order, slot)`.
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    slots: Vec<Option<NewEvent>>,
    free: Vec<usize>,
    seq: u64,
    remaining: usize,
    steps: Vec<Step>,
}

impl SeedEvents {
    fn push(&mut self, event: NewEvent) {
        let key = (event.created_at, self.seq);
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.slots.get_mut(slot) {
                    *s = Some(event);
                }
                slot
            }
            None => {
                self.slots.push(Some(event));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse((key.0, key.1, slot)));
    }

    /// Plan the steps of one session (offsets from its start), then turn them into events.
    fn emit_session(&mut self, plan: &SessionPlan) {
        let mut rng = Rng::new(plan.detail_seed);
        let (device, device_id, place, profile_id) = match plan.profile {
            Some(p) => {
                let traits = UserTraits::of(self.base, p);
                let which = u64::from(rng.chance(0.25));
                let device = traits.devices[which as usize];
                let place = if rng.chance(0.9) {
                    Some(traits.home)
                } else {
                    pick_city(&mut rng)
                };
                let device_id = user_device_id(self.base, p, which);
                (device, device_id, place, profile_id(self.base, p))
            }
            None => {
                let device = pick_device(&mut rng);
                let place = pick_city(&mut rng);
                (device, rng.uuid(), place, String::new())
            }
        };
        let session_id = rng.uuid();
        let campaign = if rng.chance(CAMPAIGN_SHARE) {
            Some(rng.weighted(&CAMPAIGNS))
        } else {
            None
        };
        let (referrer, referrer_name, referrer_type) = match campaign {
            Some((_, _, _, r)) => r,
            None => rng.weighted(&REFERRERS),
        };
        let sdk_version = rng.weighted(&SDK_VERSIONS);
        let currency = currency_of(place.map_or("", |c| c.country));

        // The steps.
        let views = plan.views.max(1);
        let signup_at = plan.new_user.then(|| 1.min(views - 1));
        let checkout_at = plan.purchase.then_some(views - 1);
        let pricing_at = (plan.purchase && views >= 3).then(|| views - 2);
        let landing = rng.weighted(&PAGES);
        let steps = &mut self.steps;
        steps.clear();
        steps.push(Step {
            at: 0,
            duration: 0,
            page: landing,
            kind: StepKind::Start,
        });
        // Usually a few hundred ms after session_start, sometimes the very same instant.
        let mut t = if rng.chance(0.08) {
            0
        } else {
            rng.between(40, 900)
        };
        let mut prev = landing;
        let mut last_view = 0;
        for i in 0..views {
            let page = if i == 0 {
                landing
            } else if signup_at == Some(i) {
                SIGNUP
            } else if checkout_at == Some(i) {
                CHECKOUT
            } else if pricing_at == Some(i) {
                PRICING
            } else {
                let mut page = rng.weighted(&PAGES);
                if page == prev {
                    page = rng.weighted(&PAGES);
                }
                page
            };
            let stay = dwell(&mut rng);
            last_view = steps.len();
            steps.push(Step {
                at: t,
                duration: stay,
                page,
                kind: StepKind::View { first: i == 0 },
            });
            if signup_at == Some(i) {
                let method = rng.weighted(&[("email", 55), ("google", 30), ("github", 15)]);
                steps.push(Step {
                    at: t + stay / 2,
                    duration: 0,
                    page: SIGNUP,
                    kind: StepKind::SignUp { method },
                });
            }
            if checkout_at == Some(i) {
                let (plan_name, price, quantity) =
                    match rng.weighted(&[(0u8, 45), (1, 40), (2, 15)]) {
                        0 => ("starter", 999, 1),
                        1 => ("pro", 4999, 1),
                        _ => ("team", 1999, rng.between(3, 12) as u32),
                    };
                let coupon = rng.chance(0.1).then_some("LAUNCH20");
                let mut cents = price * u64::from(quantity);
                if coupon.is_some() {
                    cents = cents * 8 / 10;
                }
                steps.push(Step {
                    at: t + stay / 2,
                    duration: 0,
                    page: CHECKOUT,
                    kind: StepKind::Purchase {
                        plan: plan_name,
                        cents,
                        quantity,
                        coupon,
                    },
                });
            }
            prev = page;
            t += stay;
        }
        if plan.end {
            steps.push(Step {
                at: t,
                duration: t,
                page: prev,
                kind: StepKind::End,
            });
        } else if let Some(step) = steps.get_mut(last_view) {
            step.duration = 0; // the page is still open
        }
        // Squeeze a session that would run past now into the time left.
        let span = steps.last().map_or(0, |s| s.at);
        let room = self.now_ms.saturating_sub(plan.start).max(0);
        if span > room {
            let f = room as f64 / span as f64;
            for step in steps.iter_mut() {
                step.at = ((step.at as f64 * f) as i64).min(room);
                step.duration = (step.duration as f64 * f) as i64;
            }
        }
        steps.truncate(plan.events as usize);

        // The events.
        let (country, city, region, latitude, longitude) = match place {
            Some(c) => (
                c.country,
                c.city,
                c.region,
                Some(c.latitude),
                Some(c.longitude),
            ),
            None => ("", "", "", None, None),
        };
        let steps = std::mem::take(&mut self.steps);
        for &step in &steps {
            let mut properties = BTreeMap::new();
            let utm = matches!(step.kind, StepKind::Start | StepKind::View { first: true });
            let name = match step.kind {
                StepKind::Start => "session_start",
                StepKind::View { .. } => {
                    properties.insert("__title".to_string(), step.page.title.to_string());
                    "screen_view"
                }
                StepKind::SignUp { method } => {
                    properties.insert("method".to_string(), method.to_string());
                    "sign_up"
                }
                StepKind::Purchase {
                    plan,
                    cents,
                    quantity,
                    coupon,
                } => {
                    let total = format!("{}.{:02}", cents / 100, cents % 100);
                    properties.insert("total".to_string(), total);
                    properties.insert("currency".to_string(), currency.to_string());
                    properties.insert("plan".to_string(), plan.to_string());
                    properties.insert("quantity".to_string(), quantity.to_string());
                    if let Some(code) = coupon {
                        properties.insert("coupon".to_string(), code.to_string());
                    }
                    "purchase"
                }
                StepKind::End => "session_end",
            };
            if let (true, Some((source, medium, name, _))) = (utm, campaign) {
                properties.insert("__query.utm_source".to_string(), source.to_string());
                properties.insert("__query.utm_medium".to_string(), medium.to_string());
                properties.insert("__query.utm_campaign".to_string(), name.to_string());
            }
            let event = NewEvent {
                id: rng.uuid(),
                name: name.to_string(),
                device_id: device_id.clone(),
                profile_id: profile_id.clone(),
                project_id: self.project_id.clone(),
                session_id: session_id.clone(),
                properties,
                created_at: plan.start + step.at,
                country: country.to_string(),
                city: city.to_string(),
                region: region.to_string(),
                longitude,
                latitude,
                os: device.os.to_string(),
                os_version: device.os_version.to_string(),
                browser: device.browser.to_string(),
                browser_version: device.browser_version.to_string(),
                device: device.kind.to_string(),
                brand: device.brand.to_string(),
                model: device.model.to_string(),
                duration: step.duration,
                path: step.page.path.to_string(),
                origin: ORIGIN.to_string(),
                referrer: referrer.to_string(),
                referrer_name: referrer_name.to_string(),
                referrer_type: referrer_type.to_string(),
                sdk_name: SDK_NAME.to_string(),
                sdk_version: sdk_version.to_string(),
                imported_at: None,
            };
            self.push(event);
        }
        self.steps = steps; // keep the buffer for the next session
    }
}

impl Iterator for SeedEvents {
    type Item = NewEvent;

    fn next(&mut self) -> Option<NewEvent> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            // An event is due once no session still to be generated can start before it.
            let due = match (self.heap.peek(), &self.next_plan) {
                (Some(Reverse((at, _, _))), Some(plan)) => *at <= plan.start,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return None,
            };
            if due {
                let Reverse((_, _, slot)) = self.heap.pop()?;
                let event = self.slots.get_mut(slot)?.take()?;
                self.free.push(slot);
                self.remaining -= 1;
                return Some(event);
            }
            if let Some(plan) = self.next_plan.take() {
                self.emit_session(&plan);
                self.next_plan = self.planner.next_plan();
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for SeedEvents {}

impl FusedIterator for SeedEvents {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::{BTreeSet, HashMap, HashSet};

    use super::*;

    /// 2024-06-15T12:34:56.789Z, a Saturday.
    const NOW: i64 = 1_718_454_896_789;

    fn opts(events: usize, days: u32, seed: u64) -> SeedOptions {
        SeedOptions {
            project_id: "demo".to_string(),
            events,
            days,
            seed,
            now_ms: NOW,
        }
    }

    fn is_number(s: &str) -> bool {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let mut parts = digits.splitn(2, '.');
        let int = parts.next().unwrap_or("");
        let frac = parts.next();
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    }

    fn is_v4_uuid(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 36
            && b.iter().enumerate().all(|(i, &c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
            })
            && b[14] == b'4'
            && matches!(b[19], b'8' | b'9' | b'a' | b'b')
    }

    #[test]
    fn seed_is_deterministic() {
        let a: Vec<NewEvent> = events(&opts(3_000, 14, 7)).collect();
        let b: Vec<NewEvent> = events(&opts(3_000, 14, 7)).collect();
        assert_eq!(a, b);
        assert_eq!(profiles(&opts(3_000, 14, 7)), profiles(&opts(3_000, 14, 7)));

        let c: Vec<NewEvent> = events(&opts(3_000, 14, 8)).collect();
        assert_ne!(a, c);
        let ids: HashSet<&str> = a.iter().map(|e| e.id.as_str()).collect();
        assert!(c.iter().all(|e| !ids.contains(e.id.as_str())));

        // Another project gets other ids, so two demo projects can share a database.
        let mut other = opts(3_000, 14, 7);
        other.project_id = "other".to_string();
        let d: Vec<NewEvent> = events(&other).collect();
        assert!(d.iter().all(|e| !ids.contains(e.id.as_str())));
    }

    #[test]
    fn seed_produces_exactly_the_requested_count() {
        for n in [0, 1, 2, 7, 100, 1_234, 20_001] {
            let it = events(&opts(n, 30, 1));
            assert_eq!(it.len(), n);
            assert_eq!(it.count(), n, "events = {n}");
        }
        // Many events in a short window, and few events in a long one.
        assert_eq!(events(&opts(5_000, 1, 3)).count(), 5_000);
        assert_eq!(events(&opts(3, 365, 3)).count(), 3);
        assert_eq!(events(&opts(10, 0, 3)).count(), 10);
        let mut it = events(&opts(2, 1, 3));
        assert!(it.next().is_some() && it.next().is_some());
        assert!(it.next().is_none() && it.next().is_none());
    }

    #[test]
    fn seed_is_chronological_and_within_the_window() {
        for (n, days) in [(20_000, 30), (5_000, 1), (50, 90), (10, 0)] {
            let from = NOW - i64::from(days.max(1)) * DAY_MS;
            let all: Vec<NewEvent> = events(&opts(n, days, 11)).collect();
            assert!(all.windows(2).all(|w| w[0].created_at <= w[1].created_at));
            assert!(all.iter().all(|e| (from..=NOW).contains(&e.created_at)));
            assert!(all.iter().all(|e| e.project_id == "demo"));
        }
        // The data spans the window rather than bunching at one end.
        let all: Vec<NewEvent> = events(&opts(20_000, 30, 11)).collect();
        assert!(all[0].created_at < NOW - 29 * DAY_MS);
        assert!(all[all.len() - 1].created_at > NOW - HOUR_MS);
        // A few events share their timestamp.
        let equal = all
            .windows(2)
            .filter(|w| w[0].created_at == w[1].created_at)
            .count();
        assert!(
            equal > 0 && equal < all.len() / 20,
            "{equal} equal timestamps"
        );
    }

    #[test]
    fn seed_sessions_are_consistent() {
        let all: Vec<NewEvent> = events(&opts(20_000, 30, 5)).collect();
        let mut sessions: HashMap<&str, Vec<&NewEvent>> = HashMap::new();
        for e in &all {
            sessions.entry(e.session_id.as_str()).or_default().push(e);
        }
        let mut ids = HashSet::new();
        for e in &all {
            assert!(is_v4_uuid(&e.id), "{}", e.id);
            assert!(is_v4_uuid(&e.session_id) && is_v4_uuid(&e.device_id));
            assert!(ids.insert(e.id.as_str()), "duplicate id");
            assert_ne!(e.device_id, e.profile_id);
            assert_eq!(e.origin, ORIGIN);
            assert!(e.path.starts_with('/'));
            assert_eq!(e.sdk_name, "web");
            assert!(!e.sdk_version.is_empty() && e.duration >= 0);
        }
        for events in sessions.values() {
            let first = events[0];
            assert_eq!(first.name, "session_start");
            for e in events {
                assert_eq!(e.device_id, first.device_id);
                assert_eq!(e.profile_id, first.profile_id);
                assert_eq!((&e.country, &e.city), (&first.country, &first.city));
                assert_eq!(
                    (&e.browser, &e.os, &e.device),
                    (&first.browser, &first.os, &first.device)
                );
                assert_eq!(e.referrer, first.referrer);
            }
            assert!(events[1..].iter().all(|e| e.name != "session_start"));
            if let Some(end) = events.iter().position(|e| e.name == "session_end") {
                assert_eq!(end, events.len() - 1);
                let last = events[end];
                assert_eq!(last.duration, last.created_at - first.created_at);
            }
        }
        // A session's first page view carries the landing page of session_start.
        let views: usize = sessions
            .values()
            .filter(|s| s.len() > 1)
            .filter(|s| s[1].name == "screen_view" && s[1].path == s[0].path)
            .count();
        assert!(views * 10 > sessions.len() * 9);
    }

    #[test]
    fn seed_shares_look_like_real_traffic() {
        let all: Vec<NewEvent> = events(&opts(50_000, 30, 42)).collect();
        let starts: Vec<&NewEvent> = all.iter().filter(|e| e.name == "session_start").collect();
        let identified = starts.iter().filter(|e| !e.profile_id.is_empty()).count();
        let share = identified as f64 / starts.len() as f64;
        assert!((0.3..=0.5).contains(&share), "identified share {share}");
        let per_session = all.len() as f64 / starts.len() as f64;
        assert!(
            (3.5..=7.0).contains(&per_session),
            "{per_session} events per session"
        );

        let count = |name: &str| all.iter().filter(|e| e.name == name).count();
        let views = count("screen_view");
        assert!(views > all.len() / 2);
        assert!(count("session_end") > starts.len() / 2);
        let signups = count("sign_up");
        assert!(signups > starts.len() / 50 && signups < starts.len() / 5);

        let purchases: Vec<&NewEvent> = all.iter().filter(|e| e.name == "purchase").collect();
        assert!(
            purchases.len() > starts.len() / 100,
            "{} purchases",
            purchases.len()
        );
        for p in &purchases {
            let total = &p.properties["total"];
            assert!(is_number(total) && total.contains('.'), "total {total}");
            assert!(["USD", "EUR"].contains(&p.properties["currency"].as_str()));
            assert!(!p.profile_id.is_empty());
            assert_eq!(p.path, "/checkout");
            assert!(["starter", "pro", "team"].contains(&p.properties["plan"].as_str()));
        }
        let currencies: BTreeSet<&str> = purchases
            .iter()
            .map(|p| p.properties["currency"].as_str())
            .collect();
        assert_eq!(currencies.len(), 2);

        // Page popularity is skewed: `/` leads, and about thirty paths appear.
        let mut paths: HashMap<&str, usize> = HashMap::new();
        for e in all.iter().filter(|e| e.name == "screen_view") {
            *paths.entry(e.path.as_str()).or_default() += 1;
        }
        assert!((25..=30).contains(&paths.len()), "{} paths", paths.len());
        let top = paths.iter().max_by_key(|(_, n)| **n).unwrap();
        assert_eq!(*top.0, "/");
        assert!(paths["/"] > 5 * paths["/terms"]);
        assert!(
            all.iter()
                .any(|e| e.duration > 0 && e.name == "screen_view")
        );

        let distinct = |f: fn(&NewEvent) -> &str| -> BTreeSet<String> {
            starts.iter().map(|e| f(e).to_string()).collect()
        };
        assert!(distinct(|e| e.country.as_str()).len() >= 9);
        assert!(distinct(|e| e.city.as_str()).len() >= 20);
        let browsers = distinct(|e| e.browser.as_str());
        for b in ["Chrome", "Safari", "Firefox", "Edge"] {
            assert!(browsers.contains(b), "{b}");
        }
        assert_eq!(distinct(|e| e.device.as_str()).len(), 3);
        assert_eq!(distinct(|e| e.os.as_str()).len(), 5);
        let us = starts.iter().filter(|e| e.country == "US").count();
        assert!(us * 100 > starts.len() * 20 && us * 100 < starts.len() * 40);

        // Device, OS, hardware and place agree.
        for e in &starts {
            match e.device.as_str() {
                "desktop" => assert!(["Windows", "macOS", "Linux"].contains(&e.os.as_str())),
                "mobile" | "tablet" => {
                    assert!(["iOS", "Android"].contains(&e.os.as_str()));
                    assert!(!e.brand.is_empty() && !e.model.is_empty());
                }
                other => panic!("device {other}"),
            }
            if e.browser == "Safari" {
                assert!(["macOS", "iOS"].contains(&e.os.as_str()));
            }
            if e.browser == "Edge" {
                assert_eq!(e.os, "Windows");
            }
            assert!(!e.browser_version.is_empty());
            if e.country.is_empty() {
                assert!(e.city.is_empty() && e.latitude.is_none() && e.longitude.is_none());
            } else {
                let c = CITIES.iter().find(|(c, _)| c.city == e.city).unwrap().0;
                assert_eq!(
                    (c.country, c.region),
                    (e.country.as_str(), e.region.as_str())
                );
                assert_eq!(
                    (e.latitude, e.longitude),
                    (Some(c.latitude), Some(c.longitude))
                );
            }
        }

        // Referrers and campaigns.
        let types = distinct(|e| e.referrer_type.as_str());
        for t in ["", "search", "social"] {
            assert!(types.contains(t), "referrer type {t:?}");
        }
        let direct = starts.iter().filter(|e| e.referrer.is_empty()).count();
        assert!(direct * 100 > starts.len() * 25 && direct * 100 < starts.len() * 60);
        let utm = starts
            .iter()
            .filter(|e| e.properties.contains_key("__query.utm_source"))
            .count();
        assert!(utm * 100 > starts.len() * 10 && utm * 100 < starts.len() * 30);
        assert!(starts.iter().any(|e| {
            e.properties.get("__query.utm_campaign").map(String::as_str)
                == Some("summer \"sale\" ✓")
                && e.properties["__query.utm_medium"] == "email"
        }));
        assert!(all.iter().any(|e| e.city == "München"));
    }

    #[test]
    fn seed_follows_daily_and_weekly_rhythm() {
        let all: Vec<NewEvent> = events(&opts(100_000, 56, 9)).collect();
        let mut by_hour = [0usize; 24];
        let mut by_weekday = [0usize; 7];
        for e in &all {
            by_hour[(e.created_at.rem_euclid(DAY_MS) / HOUR_MS) as usize] += 1;
            by_weekday[((e.created_at.div_euclid(DAY_MS) + 3).rem_euclid(7)) as usize] += 1;
        }
        let night: usize = by_hour[1..5].iter().sum();
        let afternoon: usize = by_hour[13..17].iter().sum();
        assert!(afternoon > 3 * night, "{afternoon} vs {night}");
        let weekday = by_weekday[..5].iter().sum::<usize>() as f64 / 5.0;
        let weekend = by_weekday[5..].iter().sum::<usize>() as f64 / 2.0;
        assert!(weekday > 1.3 * weekend, "{weekday} vs {weekend}");
        // Mild growth: the last four weeks are busier than the first four.
        let mid = NOW - 28 * DAY_MS;
        let late = all.iter().filter(|e| e.created_at >= mid).count();
        assert!(late as f64 > 1.05 * (all.len() - late) as f64);
    }

    #[test]
    fn seed_profiles_cover_identified_users() {
        let o = opts(30_000, 30, 21);
        let all: Vec<NewEvent> = events(&o).collect();
        let profiles = profiles(&o);
        let referenced: BTreeSet<&str> = all
            .iter()
            .filter(|e| !e.profile_id.is_empty())
            .map(|e| e.profile_id.as_str())
            .collect();
        let ids: BTreeSet<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), profiles.len(), "duplicate profile ids");
        assert_eq!(referenced, ids);
        let devices: HashSet<&str> = all.iter().map(|e| e.device_id.as_str()).collect();
        for p in &profiles {
            assert!(is_v4_uuid(&p.id));
            assert!(!devices.contains(p.id.as_str()));
            assert_eq!(p.project_id, "demo");
            assert!(p.is_external);
            assert!(!p.first_name.is_empty() && !p.last_name.is_empty());
            assert!(p.email.is_ascii() && p.email.contains('@'));
            assert!(p.created_at <= NOW);
            assert!(p.properties.contains_key("role"));
        }
        assert!(profiles.iter().any(|p| p.created_at < NOW - 30 * DAY_MS));
        assert!(profiles.iter().any(|p| p.created_at > NOW - 30 * DAY_MS));

        // Users come back: many have sessions on several days.
        let mut days: HashMap<&str, BTreeSet<i64>> = HashMap::new();
        for e in all
            .iter()
            .filter(|e| e.name == "session_start" && !e.profile_id.is_empty())
        {
            days.entry(e.profile_id.as_str())
                .or_default()
                .insert(e.created_at.div_euclid(DAY_MS));
        }
        let returning = days.values().filter(|d| d.len() >= 2).count();
        assert!(
            returning * 4 > days.len(),
            "{returning} of {} users return",
            days.len()
        );
        // New users sign up in their first session, and a user keeps their devices.
        let signups: Vec<&NewEvent> = all.iter().filter(|e| e.name == "sign_up").collect();
        assert!(
            signups
                .iter()
                .all(|e| !e.profile_id.is_empty() && e.path == "/signup")
        );
        let mut user_devices: HashMap<&str, HashSet<&str>> = HashMap::new();
        for e in all.iter().filter(|e| !e.profile_id.is_empty()) {
            user_devices
                .entry(e.profile_id.as_str())
                .or_default()
                .insert(e.device_id.as_str());
        }
        assert!(user_devices.values().all(|d| d.len() <= 2));
        assert!(super::profiles(&opts(0, 30, 21)).is_empty());
    }

    #[test]
    fn seed_uuid_format() {
        assert_eq!(uuid_from(0, 0), "00000000-0000-4000-8000-000000000000");
        assert_eq!(
            uuid_from(u64::MAX, u64::MAX),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert!(is_number("49.99") && is_number("199") && !is_number("1e3"));
    }

    /// `cargo test --release -p quarry-server seed_speed -- --ignored --nocapture`
    #[test]
    #[ignore = "timing, run in release"]
    fn seed_speed() {
        let start = std::time::Instant::now();
        let n = events(&opts(1_000_000, 30, 1)).count();
        let events_time = start.elapsed();
        let start = std::time::Instant::now();
        let p = profiles(&opts(1_000_000, 30, 1)).len();
        println!(
            "{n} events in {events_time:?}, {p} profiles in {:?}",
            start.elapsed()
        );
    }
}
