//! Sessions into events: each session plan becomes a visit (who, on what, from where),
//! steps (the pages viewed and what happens on them), then events, which a small heap
//! merges into time order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::iter::FusedIterator;

use quarry_core::event::NewEvent;

use crate::plan::{Planner, SessionPlan};
use crate::profiles::{UserTraits, profile_id, user_device_id};
use crate::rng::Rng;
use crate::tables::{
    CAMPAIGNS, CHECKOUT, Campaign, City, Device, PAGES, PRICING, Page, REFERRERS, Referrer,
    SDK_NAME, SDK_VERSIONS, SIGNUP, currency_of, pick_city, pick_device,
};
use crate::{MINUTE_MS, ORIGIN, SeedOptions};

/// Share of sessions that arrive with utm parameters.
const CAMPAIGN_SHARE: f64 = 0.2;

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

/// What every event of a session shares: who, on what device, where, from where.
#[derive(Debug, Clone)]
struct Visit {
    device: Device,
    device_id: String,
    place: Option<City>,
    currency: &'static str,
    profile_id: String,
    session_id: String,
    campaign: Option<Campaign>,
    referrer: Referrer,
    sdk_version: &'static str,
}

impl Visit {
    /// An identified user comes on one of their two devices, usually from home; an
    /// anonymous visitor anywhere on anything. Then the session's id and where it came from.
    fn draw(rng: &mut Rng, base: u64, plan: &SessionPlan) -> Visit {
        let (device, device_id, place, profile_id) = match plan.profile {
            Some(p) => {
                let traits = UserTraits::of(base, p);
                let which = u64::from(rng.chance(0.25));
                let device = traits.devices[which as usize];
                let place = if rng.chance(0.9) {
                    Some(traits.home)
                } else {
                    pick_city(rng)
                };
                let device_id = user_device_id(base, p, which);
                (device, device_id, place, profile_id(base, p))
            }
            None => {
                let device = pick_device(rng);
                let place = pick_city(rng);
                (device, rng.uuid(), place, String::new())
            }
        };
        let session_id = rng.uuid();
        let campaign = if rng.chance(CAMPAIGN_SHARE) {
            Some(rng.weighted(&CAMPAIGNS))
        } else {
            None
        };
        let referrer = match campaign {
            Some((_, _, _, r)) => r,
            None => rng.weighted(&REFERRERS),
        };
        let sdk_version = rng.weighted(&SDK_VERSIONS);
        Visit {
            device,
            device_id,
            place,
            currency: currency_of(place.map_or("", |c| c.country)),
            profile_id,
            session_id,
            campaign,
            referrer,
            sdk_version,
        }
    }
}

/// Plan the steps of one session as offsets from its start: `session_start` on the
/// landing page, the page views (a new user signs up on the second, a buyer visits the
/// pricing page and then checks out on the last), usually a `session_end`; squeezed into
/// the time left before `now_ms` and cut to the planned number of events.
fn plan_steps(steps: &mut Vec<Step>, rng: &mut Rng, plan: &SessionPlan, now_ms: i64) {
    let views = plan.views.max(1);
    let signup_at = plan.new_user.then(|| 1.min(views - 1));
    let checkout_at = plan.purchase.then_some(views - 1);
    let pricing_at = (plan.purchase && views >= 3).then(|| views - 2);
    let landing = rng.weighted(&PAGES);
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
        let stay = dwell(rng);
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
            steps.push(Step {
                at: t + stay / 2,
                duration: 0,
                page: CHECKOUT,
                kind: purchase(rng),
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
    let room = now_ms.saturating_sub(plan.start).max(0);
    if span > room {
        let f = room as f64 / span as f64;
        for step in steps.iter_mut() {
            step.at = ((step.at as f64 * f) as i64).min(room);
            step.duration = (step.duration as f64 * f) as i64;
        }
    }
    steps.truncate(plan.events as usize);
}

/// What is bought: a plan, a quantity (teams buy seats), and sometimes a coupon.
fn purchase(rng: &mut Rng) -> StepKind {
    let (plan_name, price, quantity) = match rng.weighted(&[(0u8, 45), (1, 40), (2, 15)]) {
        0 => ("starter", 999, 1),
        1 => ("pro", 4999, 1),
        _ => ("team", 1999, rng.between(3, 12) as u32),
    };
    let coupon = rng.chance(0.1).then_some("LAUNCH20");
    let mut cents = price * u64::from(quantity);
    if coupon.is_some() {
        cents = cents * 8 / 10;
    }
    StepKind::Purchase {
        plan: plan_name,
        cents,
        quantity,
        coupon,
    }
}

/// An event's name and properties: the page title on views, what was bought on purchases,
/// and the campaign's utm parameters where the visit lands.
fn name_and_properties(step: &Step, visit: &Visit) -> (&'static str, BTreeMap<String, String>) {
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
            properties.insert("currency".to_string(), visit.currency.to_string());
            properties.insert("plan".to_string(), plan.to_string());
            properties.insert("quantity".to_string(), quantity.to_string());
            if let Some(code) = coupon {
                properties.insert("coupon".to_string(), code.to_string());
            }
            "purchase"
        }
        StepKind::End => "session_end",
    };
    if let (true, Some((source, medium, name, _))) = (utm, visit.campaign) {
        properties.insert("__query.utm_source".to_string(), source.to_string());
        properties.insert("__query.utm_medium".to_string(), medium.to_string());
        properties.insert("__query.utm_campaign".to_string(), name.to_string());
    }
    (name, properties)
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

    /// Draw one session (from its own seed, so sessions never disturb each other's
    /// draws) and queue its events.
    fn emit_session(&mut self, plan: &SessionPlan) {
        let mut rng = Rng::new(plan.detail_seed);
        let visit = Visit::draw(&mut rng, self.base, plan);
        let mut steps = std::mem::take(&mut self.steps);
        plan_steps(&mut steps, &mut rng, plan, self.now_ms);
        for step in &steps {
            let event = self.event(&visit, plan, step, rng.uuid());
            self.push(event);
        }
        self.steps = steps; // keep the buffer for the next session
    }

    fn event(&self, visit: &Visit, plan: &SessionPlan, step: &Step, id: String) -> NewEvent {
        let (name, properties) = name_and_properties(step, visit);
        let (country, city, region, latitude, longitude) = match visit.place {
            Some(c) => (
                c.country,
                c.city,
                c.region,
                Some(c.latitude),
                Some(c.longitude),
            ),
            None => ("", "", "", None, None),
        };
        let device = &visit.device;
        let (referrer, referrer_name, referrer_type) = visit.referrer;
        NewEvent {
            id,
            name: name.to_string(),
            device_id: visit.device_id.clone(),
            profile_id: visit.profile_id.clone(),
            project_id: self.project_id.clone(),
            session_id: visit.session_id.clone(),
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
            sdk_version: visit.sdk_version.to_string(),
            imported_at: None,
        }
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
