//! Protocols schema configurations: most sources keep the defaults; some connected to a plan
//! block or omit what violates it and forward blocked events and violations to another source.

use std::collections::HashSet;

use crate::sim::catalog::{Catalog, SourceType};
use crate::sim::rng::Rng;
use crate::sim::workspace::{SchemaConfig, Source, TrackingPlan, ViolationAction};

use super::ids::sub_rng;

/// The first connected source forwards both blocked events and violations, so any workspace
/// with a connected source and a second source has both forwarding references.
pub(super) fn configure(
    rng: &Rng,
    sources: &mut [Source],
    plans: &[TrackingPlan],
    catalog: &Catalog,
) {
    let connected: HashSet<&str> = plans
        .iter()
        .flat_map(|p| p.source_slugs.iter().map(String::as_str))
        .collect();
    let targets = ForwardingTargets::new(sources, catalog);
    let mut showcased = false;
    for (i, source) in sources.iter_mut().enumerate() {
        let mut rng = sub_rng(rng, "schema-config", i);
        let is_connected = connected.contains(source.slug.as_str());
        let can_forward = targets.exist_besides(&source.slug);
        let showcase = is_connected && !showcased && can_forward;
        let chance = if is_connected { 0.25 } else { 0.03 };
        if showcase || rng.chance(chance) {
            showcased |= showcase;
            let other = |rng: &mut Rng| targets.pick(rng, &source.slug);
            source.schema_config = enforcing(&mut rng, showcase, can_forward, other);
        }
    }
}

/// Sources that can receive forwarded events: event sources (a cloud object source receives
/// no tracked events), or any source in a workspace without another event source.
struct ForwardingTargets {
    slugs: Vec<String>,
}

impl ForwardingTargets {
    fn new(sources: &[Source], catalog: &Catalog) -> Self {
        let is_event_source = |s: &&Source| {
            catalog
                .source(&s.catalog_slug)
                .is_none_or(|item| item.source_type == SourceType::Event)
        };
        let event_sources: Vec<String> = sources
            .iter()
            .filter(is_event_source)
            .map(|s| s.slug.clone())
            .collect();
        let slugs = if event_sources.len() > 1 {
            event_sources
        } else {
            sources.iter().map(|s| s.slug.clone()).collect()
        };
        Self { slugs }
    }

    fn exist_besides(&self, slug: &str) -> bool {
        self.slugs.iter().any(|s| s != slug)
    }

    fn pick(&self, rng: &mut Rng, besides: &str) -> String {
        let others: Vec<&String> = self.slugs.iter().filter(|s| *s != besides).collect();
        (*rng.pick(&others)).clone()
    }
}

fn action(rng: &mut Rng) -> ViolationAction {
    *rng.pick(&[
        ViolationAction::Allow,
        ViolationAction::Omit,
        ViolationAction::Block,
    ])
}

/// A configuration that enforces the plan. Forwarding targets are other sources (`other`);
/// they only exist when the workspace has another source (`can_forward`).
fn enforcing(
    rng: &mut Rng,
    forward_both: bool,
    can_forward: bool,
    other: impl Fn(&mut Rng) -> String,
) -> SchemaConfig {
    let forward = |rng: &mut Rng| {
        if can_forward && (forward_both || rng.chance(0.4)) {
            other(rng)
        } else {
            String::new()
        }
    };
    SchemaConfig {
        allow_unplanned_track_events: rng.chance(0.3),
        allow_unplanned_identify_traits: rng.chance(0.5),
        allow_unplanned_group_traits: rng.chance(0.5),
        forwarding_blocked_events_to: forward(rng),
        allow_unplanned_track_event_properties: rng.chance(0.5),
        allow_track_event_on_violations: rng.chance(0.3),
        allow_identify_traits_on_violations: rng.chance(0.5),
        allow_group_traits_on_violations: rng.chance(0.5),
        forwarding_violations_to: forward(rng),
        allow_track_properties_on_violations: rng.chance(0.5),
        common_track_event_on_violations: if forward_both {
            ViolationAction::Block
        } else {
            action(rng)
        },
        common_identify_event_on_violations: action(rng),
        common_group_event_on_violations: action(rng),
    }
}
