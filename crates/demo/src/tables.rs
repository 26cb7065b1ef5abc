//! The site, the world and the devices the demo's visitors come from: constant tables
//! with the weights of each choice, and the draws that keep related values together (a
//! city with its country and coordinates, a browser with its OS and hardware).

use crate::rng::Rng;

pub(crate) const SDK_NAME: &str = "web";
pub(crate) const SDK_VERSIONS: [(&str, u32); 3] = [("1.0.1", 15), ("1.0.2", 35), ("1.1.0", 50)];

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Page {
    pub(crate) path: &'static str,
    pub(crate) title: &'static str,
}

const fn page(path: &'static str, title: &'static str) -> Page {
    Page { path, title }
}

pub(crate) const HOME: Page = page("/", "Quarry — analytics you own");
pub(crate) const PRICING: Page = page("/pricing", "Pricing — Quarry");
pub(crate) const SIGNUP: Page = page("/signup", "Sign up — Quarry");
pub(crate) const CHECKOUT: Page = page("/checkout", "Checkout — Quarry");

/// Thirty pages, weights ≈ 1000 / rank^1.1 (Zipf-like).
pub(crate) const PAGES: [(Page, u32); 30] = [
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
pub(crate) struct City {
    pub(crate) country: &'static str,
    pub(crate) city: &'static str,
    pub(crate) region: &'static str,
    pub(crate) latitude: f64,
    pub(crate) longitude: f64,
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
pub(crate) const CITIES: [(City, u32); 30] = [
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
pub(crate) fn pick_city(rng: &mut Rng) -> Option<City> {
    if rng.chance(0.015) {
        None
    } else {
        Some(rng.weighted(&CITIES))
    }
}

pub(crate) fn currency_of(country: &str) -> &'static str {
    match country {
        "DE" | "FR" | "NL" | "ES" => "EUR",
        _ => "USD",
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Device {
    pub(crate) kind: &'static str,
    pub(crate) os: &'static str,
    pub(crate) os_version: &'static str,
    pub(crate) browser: &'static str,
    pub(crate) browser_version: &'static str,
    pub(crate) brand: &'static str,
    pub(crate) model: &'static str,
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

pub(crate) fn pick_device(rng: &mut Rng) -> Device {
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
pub(crate) type Referrer = (&'static str, &'static str, &'static str);

const DIRECT: Referrer = ("", "", "");
const GOOGLE: Referrer = ("https://www.google.com/", "Google", "search");
const TWITTER: Referrer = ("https://t.co/", "Twitter", "social");
const LINKEDIN: Referrer = ("https://www.linkedin.com/", "LinkedIn", "social");
const PRODUCT_HUNT: Referrer = ("https://www.producthunt.com/", "Product Hunt", "unknown");

pub(crate) const REFERRERS: [(Referrer, u32); 11] = [
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
pub(crate) type Campaign = (&'static str, &'static str, &'static str, Referrer);

pub(crate) const CAMPAIGNS: [(Campaign, u32); 6] = [
    (("google", "cpc", "brand_search", GOOGLE), 35),
    (("newsletter", "email", "monthly_digest", DIRECT), 20),
    (("twitter", "social", "launch_week", TWITTER), 15),
    (("producthunt", "referral", "launch_day", PRODUCT_HUNT), 12),
    (("linkedin", "paid_social", "b2b_retargeting", LINKEDIN), 10),
    (("newsletter", "email", "summer \"sale\" ✓", DIRECT), 8),
];

pub(crate) const FIRST_NAMES: [(&str, &str); 30] = [
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

pub(crate) const LAST_NAMES: [(&str, &str); 25] = [
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
