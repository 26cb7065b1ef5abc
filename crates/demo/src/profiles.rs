//! The identified users: what stays the same about a user across sessions (home city,
//! devices, name), their ids, and the profiles of those the events reference.

use std::collections::BTreeMap;

use quarry_core::event::NewProfile;

use crate::plan::Planner;
use crate::rng::{GOLDEN, Rng, mix, uuid_from};
use crate::tables::{CITIES, City, Device, FIRST_NAMES, LAST_NAMES, pick_device};
use crate::{DAY_MS, ORIGIN, SeedOptions};

// Tags keep the streams drawn from one base seed apart.
const USER_TAG: u64 = 0x5553_4552_0000_0001;
const PROFILE_TAG: u64 = 0x5052_4f46_0000_0002;
const DEVICE_TAG: u64 = 0x4445_5649_0000_0003;

/// The profiles of the identified users the events of `opts` reference, one per distinct
/// non-empty `profile_id`, in the order users first appear. Deterministic like
/// [`events`](crate::events), and cheap: it replays only the session plan, not the events.
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

/// User `p`'s profile id: derived from the base seed and `p` alone, so that sessions and
/// profiles agree without sharing any state.
pub(crate) fn profile_id(base: u64, p: u32) -> String {
    let h = mix(base ^ mix(u64::from(p) ^ PROFILE_TAG) ^ GOLDEN);
    uuid_from(h, mix(h ^ PROFILE_TAG))
}

/// One of user `p`'s two device ids (`which` is 0 or 1), derived like [`profile_id`].
pub(crate) fn user_device_id(base: u64, p: u32, which: u64) -> String {
    let h = mix(base ^ mix((u64::from(p) << 1 | which) ^ DEVICE_TAG));
    uuid_from(h, mix(h ^ DEVICE_TAG))
}

/// What stays the same about an identified user across sessions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserTraits {
    pub(crate) home: City,
    pub(crate) devices: [Device; 2],
    first_name: (&'static str, &'static str),
    last_name: (&'static str, &'static str),
}

impl UserTraits {
    pub(crate) fn of(base: u64, p: u32) -> UserTraits {
        let mut rng = Rng::new(mix(base ^ mix(u64::from(p) ^ USER_TAG)));
        UserTraits {
            home: rng.weighted(&CITIES),
            devices: [pick_device(&mut rng), pick_device(&mut rng)],
            first_name: rng.pick(&FIRST_NAMES),
            last_name: rng.pick(&LAST_NAMES),
        }
    }
}
