//! Properties of generated workspaces. This module holds the workspace-wide ones
//! (determinism, uniqueness, timestamps, sizes); the variety checks live in the submodules by
//! resource kind. Variety checks run on `small` for several seeds, since the demo workspace is
//! the smallest in which every case must show.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::Value;

use super::*;
use crate::sim::catalog::{CatalogSetting, SettingType, SourceType};
use crate::sim::workspace::{
    BlockSpelling, ConnectionMode, Destination, FilterAction, FunctionKind, PolicyResource,
    SchemaConfig, Source,
};

mod access;
mod connections;
mod protocols;

const SEEDS: [u64; 3] = [1, 2, 0xdead_beef];

fn catalog() -> &'static Catalog {
    Catalog::embedded()
}

fn small(seed: u64) -> Workspace {
    generate(seed, &Counts::preset(Preset::Small), catalog())
}

/// The small workspaces of [`SEEDS`], generated once for all tests.
fn smalls() -> &'static [Workspace] {
    static WORKSPACES: OnceLock<Vec<Workspace>> = OnceLock::new();
    WORKSPACES.get_or_init(|| SEEDS.iter().map(|&s| small(s)).collect())
}

fn json(workspace: &Workspace) -> String {
    serde_json::to_string(workspace).unwrap()
}

fn is_base62(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn assert_unique<T: std::hash::Hash + Eq + std::fmt::Debug>(
    what: &str,
    items: impl IntoIterator<Item = T>,
) {
    let mut seen = HashSet::new();
    for item in items {
        assert!(
            seen.insert(format!("{item:?}")),
            "duplicate {what}: {item:?}"
        );
    }
}

fn destinations(ws: &Workspace) -> impl Iterator<Item = (&Source, &Destination)> {
    ws.destinations()
}

fn filters(ws: &Workspace) -> impl Iterator<Item = &crate::sim::workspace::Filter> {
    ws.destinations().flat_map(|(_, d)| d.filters.iter())
}

#[test]
fn same_seed_same_workspace_and_other_seeds_differ() {
    assert_eq!(json(&small(7)), json(&small(7)));
    assert_ne!(json(&small(7)), json(&small(8)));
    let tiny = Counts::preset(Preset::Tiny);
    assert_eq!(
        json(&generate(3, &tiny, catalog())),
        json(&generate(3, &tiny, catalog()))
    );
}

#[test]
fn changing_one_count_leaves_other_parts_alone() {
    let base = Counts::preset(Preset::Small);
    let more_tokens = Counts {
        access_tokens: 9,
        invites: 11,
        ..base.clone()
    };
    let a = generate(5, &base, catalog());
    let b = generate(5, &more_tokens, catalog());
    assert_eq!(
        serde_json::to_string(&a.sources).unwrap(),
        serde_json::to_string(&b.sources).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&a.tracking_plans).unwrap(),
        serde_json::to_string(&b.tracking_plans).unwrap()
    );
    assert_eq!(b.access_tokens.len(), 9);
}

#[test]
fn natural_keys_are_unique() {
    let medium = generate(4, &Counts::preset(Preset::Medium), catalog());
    let large = generate(3, &Counts::preset(Preset::Large), catalog());
    for ws in smalls().iter().chain([&medium, &large]) {
        assert_unique("source slug", ws.sources.iter().map(|s| &s.slug));
        assert_unique("source id", ws.sources.iter().map(|s| &s.id));
        assert_unique(
            "destination",
            destinations(ws).map(|(s, d)| (&s.slug, &d.slug)),
        );
        assert_unique(
            "instance name",
            destinations(ws).map(|(s, d)| (&s.slug, &d.instance_name)),
        );
        assert_unique("filter id", filters(ws).map(|f| &f.id));
        assert_unique(
            "filter title and condition",
            destinations(ws).flat_map(|(s, d)| {
                d.filters
                    .iter()
                    .map(move |f| (&s.slug, &d.slug, &f.title, &f.condition))
            }),
        );
        assert_unique("plan id", ws.tracking_plans.iter().map(|p| &p.id));
        assert_unique(
            "plan name",
            ws.tracking_plans.iter().map(|p| &p.display_name),
        );
        for plan in &ws.tracking_plans {
            assert_unique(
                "event rule",
                plan.rules.events.iter().map(|e| (&e.name, e.version)),
            );
        }
        assert_unique("function id", ws.functions.iter().map(|f| &f.id));
        assert_unique(
            "function name",
            ws.functions.iter().map(|f| &f.display_name),
        );
        assert_unique("user id", ws.users.iter().map(|u| &u.id));
        assert_unique(
            "email",
            ws.users
                .iter()
                .map(|u| &u.email)
                .chain(ws.invites.iter().map(|i| &i.email)),
        );
        assert_unique("policy id", ws.policies.iter().map(|p| &p.id));
        assert_unique("invite id", ws.invites.iter().map(|i| &i.id));
        assert_unique("role id", ws.roles.iter().map(|r| &r.id));
        assert_unique("role name", ws.roles.iter().map(|r| &r.display_name));
        assert_unique("token number", ws.access_tokens.iter().map(|t| t.number));
    }
}

#[test]
fn workspace_identity_comes_from_the_seed() {
    let ws = &smalls()[0];
    assert_eq!(ws.id.len(), 10);
    assert!(
        ws.id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert!(is_slug(&ws.slug), "{}", ws.slug);
    assert!(!ws.display_name.is_empty());
    let ids: HashSet<&String> = smalls().iter().map(|w| &w.id).collect();
    assert_eq!(ids.len(), SEEDS.len());
}

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn timestamps_are_rfc3339_millis_and_ordered() {
    for ws in smalls() {
        let mut all: Vec<&String> = vec![&ws.create_time];
        for source in &ws.sources {
            assert!(ws.create_time <= source.create_time);
            all.push(&source.create_time);
            for d in &source.destinations {
                assert!(source.create_time <= d.create_time && d.create_time <= d.update_time);
                all.extend([&d.create_time, &d.update_time]);
            }
        }
        for plan in &ws.tracking_plans {
            assert!(ws.create_time <= plan.create_time && plan.create_time <= plan.update_time);
            all.extend([&plan.create_time, &plan.update_time]);
        }
        all.extend(ws.functions.iter().map(|f| &f.created_at));
        all.extend(
            ws.invites
                .iter()
                .flat_map(|i| [&i.create_time, &i.expire_time]),
        );
        all.extend(ws.access_tokens.iter().map(|t| &t.create_time));
        for t in all {
            assert!(is_timestamp(t), "{t}");
            assert!(t.as_str() >= "2016" && t.as_str() < "2023-07-08", "{t}");
        }
    }
}

fn resources_besides_rules(ws: &Workspace) -> usize {
    ws.counts()
        .iter()
        .filter(|(kind, _)| **kind != "tracking_plan_rules")
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn large_has_at_least_ten_thousand_resources() {
    let ws = generate(1, &Counts::preset(Preset::Large), catalog());
    let total = resources_besides_rules(&ws);
    assert!(total >= 10_000, "{total}");
    assert!(
        ws.tracking_plans
            .iter()
            .filter(|p| p.rules.events.len() > LARGE_PLAN_THRESHOLD)
            .count()
            >= 1
    );
}

#[test]
fn preset_sizes_grow_as_documented() {
    let size = |preset| resources_besides_rules(&generate(9, &Counts::preset(preset), catalog()));
    let tiny = size(Preset::Tiny);
    let small = size(Preset::Small);
    let medium = size(Preset::Medium);
    assert!((20..150).contains(&tiny), "tiny: {tiny}");
    assert!((200..1_000).contains(&small), "small: {small}");
    assert!((1_500..5_000).contains(&medium), "medium: {medium}");
}

#[test]
fn counts_are_honoured() {
    let counts = Counts::preset(Preset::Small)
        .with_overrides(
            &Counts::parse_overrides(
                "sources=13,tracking_plans=3,users=6,access_tokens=4,destinations_per_source=2",
            )
            .unwrap(),
        )
        .unwrap();
    let ws = generate(2, &counts, catalog());
    let measured = ws.counts();
    assert_eq!(measured["sources"], 13);
    assert_eq!(measured["destinations"], 26);
    assert_eq!(measured["tracking_plans"], 3);
    assert_eq!(measured["users"], 6);
    assert_eq!(measured["access_tokens"], 4);
    assert_eq!(measured["functions"], 6);
    assert_eq!(measured["roles"], 12);
}

#[test]
fn degenerate_counts_still_generate() {
    let empty = Counts {
        sources: 0,
        tracking_plans: 0,
        large_plans: 0,
        source_functions: 0,
        destination_functions: 0,
        function_sources: 0,
        users: 0,
        invites: 0,
        access_tokens: 0,
        ..Counts::preset(Preset::Tiny)
    };
    let ws = generate(1, &empty, catalog());
    assert!(ws.sources.is_empty() && ws.policies.is_empty());
    let one_source = Counts {
        sources: 1,
        destinations_per_source: Span::new(0, 0),
        ..Counts::preset(Preset::Tiny)
    };
    let ws = generate(1, &one_source, catalog());
    assert_eq!(ws.sources.len(), 1);
    assert!(
        ws.sources[0]
            .schema_config
            .forwarding_violations_to
            .is_empty()
    );
}
