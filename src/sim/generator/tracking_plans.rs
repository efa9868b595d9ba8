//! Tracking plans: event rules (with repeated versions), identify/group/global rules, and
//! their connections to sources.

use crate::sim::catalog::{Catalog, SourceType};
use crate::sim::rng::Rng;
use crate::sim::workspace::{EventRule, Source, TrackingPlan, TrackingPlanRules};

use super::clock::{Clock, timestamp};
use super::counts::Counts;
use super::ids::{ksuid, shuffle, sub_rng};
use super::names::Unique;
use super::schemas;

const PLAN_NAMES: &[&str] = &[
    "Web Tracking Plan",
    "Mobile Apps",
    "Checkout Funnel",
    "Growth Experiments",
    "Plan de suivi – Boutique",
    "トラッキングプラン",
    "🧪 Sandbox Plan",
    "Typewriter Tracking Plan",
    "Legacy Plan (2019)",
    "B2B Accounts",
    "Händler-App",
];

const OBJECTS: &[&str] = &[
    "Order",
    "Product",
    "Cart",
    "Checkout",
    "Coupon",
    "Promotion",
    "Account",
    "User",
    "Trial",
    "Subscription",
    "Invoice",
    "Payment",
    "Video",
    "Playlist",
    "Article",
    "Comment",
    "Search",
    "Page",
    "Form",
    "Button",
    "Email",
    "Notification",
    "Feature",
    "Report",
    "Dashboard",
    "Experiment",
    "Invite",
    "Team",
    "Project",
    "File",
    "Ticket",
    "Chat",
    "Review",
    "Wishlist",
    "Address",
    "Shipment",
    "Refund",
    "Lead",
    "Demo",
    "Webinar",
];

const ACTIONS: &[&str] = &[
    "Viewed",
    "Clicked",
    "Created",
    "Updated",
    "Deleted",
    "Completed",
    "Started",
    "Cancelled",
    "Shared",
    "Opened",
    "Closed",
    "Submitted",
    "Failed",
    "Added",
    "Removed",
    "Applied",
    "Denied",
    "Downloaded",
    "Expired",
    "Renewed",
];

/// Names real plans contain and naive code mishandles: non-Latin scripts, emoji, quotes,
/// backslashes and punctuation (the first is from Segment's own Typewriter test plan).
const AWKWARD_NAMES: &[&str] = &[
    "42_--terrible==\\\"event'++name~!3",
    "Commande validée",
    "注文完了",
    "🎉 Confetti Shown",
    "Überweisung gesendet",
    "Заказ оформлен",
    "user.signed_up",
];

/// Event names for one plan: awkward ones sprinkled among "Object Action" pairs in random
/// order, then numbered pairs once those run out (only for plans far beyond real sizes).
struct EventNames {
    pairs: Vec<usize>,
    awkward: Vec<&'static str>,
    issued: usize,
}

impl EventNames {
    fn new(rng: &mut Rng) -> Self {
        let mut pairs: Vec<usize> = (0..OBJECTS.len() * ACTIONS.len()).collect();
        shuffle(rng, &mut pairs);
        let mut awkward = AWKWARD_NAMES.to_vec();
        shuffle(rng, &mut awkward);
        Self {
            pairs,
            awkward,
            issued: 0,
        }
    }

    fn next(&mut self, rng: &mut Rng) -> String {
        if rng.chance(0.05)
            && let Some(name) = self.awkward.pop()
        {
            return name.to_owned();
        }
        let index = self.issued;
        self.issued += 1;
        let pair = self.pairs[index % self.pairs.len()];
        let name = format!(
            "{} {}",
            OBJECTS[pair / ACTIONS.len()],
            ACTIONS[pair % ACTIONS.len()]
        );
        match index / self.pairs.len() {
            0 => name,
            round => format!("{name} {}", round + 1),
        }
    }
}

/// The first `large_plans` plans have more than 200 event rules; the first plan always starts
/// with an event in three versions, and has identify, group and global rules.
pub(super) fn tracking_plans(rng: &Rng, counts: &Counts, clock: &Clock) -> Vec<TrackingPlan> {
    let mut names = Unique::default();
    (0..counts.tracking_plans)
        .map(|p| {
            let mut rng = sub_rng(rng, "plan", p);
            let span = if p < counts.large_plans {
                counts.large_plan_events
            } else {
                counts.events_per_plan
            };
            let rule_count = rng.range(span.min, span.max.max(span.min));
            let created = clock.created(&mut rng);
            let display_name = names.claim(PLAN_NAMES[p % PLAN_NAMES.len()], " ");
            TrackingPlan {
                id: format!("rs_{}", ksuid(&mut rng, created)),
                display_name,
                rules: rules(&mut rng, rule_count, p == 0),
                source_slugs: Vec::new(),
                create_time: timestamp(created),
                update_time: timestamp(clock.updated(&mut rng, created)),
            }
        })
        .collect()
}

fn rules(rng: &mut Rng, rule_count: usize, showcase: bool) -> TrackingPlanRules {
    let mut names = EventNames::new(rng);
    let mut events = Vec::with_capacity(rule_count);
    while events.len() < rule_count {
        let name = names.next(rng);
        let versions: u32 = match rng.below(100) {
            _ if showcase && events.is_empty() => 3,
            0..88 => 1,
            88..95 => 2,
            _ => 3,
        };
        let description = event_description(rng, &name);
        let room = u32::try_from(rule_count - events.len()).unwrap_or(u32::MAX);
        for version in 1..=versions.min(room) {
            events.push(EventRule {
                name: name.clone(),
                description: description.clone(),
                version,
                rules: schemas::event(rng, version),
            });
        }
    }
    events.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
    TrackingPlanRules {
        events,
        global: (showcase || rng.chance(0.25)).then(|| schemas::global(rng)),
        identify: (showcase || rng.chance(0.6)).then(|| schemas::identify(rng)),
        group: (showcase || rng.chance(0.4)).then(|| schemas::group(rng)),
        identify_traits: Vec::new(),
        group_traits: Vec::new(),
    }
}

fn event_description(rng: &mut Rng, name: &str) -> String {
    match rng.below(10) {
        0 | 1 => String::new(),
        _ => format!("Fired when “{name}” happens."),
    }
}

/// Connects each plan to one to four event sources while any are left (object sources sync
/// records, not events, so no plan applies to them). A source joins at most one plan; the
/// sources left over stay unconnected.
pub(super) fn connect(
    rng: &mut Rng,
    plans: &mut [TrackingPlan],
    sources: &[Source],
    catalog: &Catalog,
) {
    let mut eligible: Vec<&str> = sources
        .iter()
        .filter(|s| {
            catalog
                .source(&s.catalog_slug)
                .is_none_or(|item| item.source_type == SourceType::Event)
        })
        .map(|s| s.slug.as_str())
        .collect();
    shuffle(rng, &mut eligible);
    let mut pool = eligible.into_iter();
    for plan in plans.iter_mut() {
        let wanted = rng.range(1, 4);
        plan.source_slugs = pool.by_ref().take(wanted).map(str::to_owned).collect();
    }
}
