//! Destination filters: every action type, multi-action filters, and conditions from one atom
//! to well over a kilobyte.

use crate::sim::rng::Rng;
use crate::sim::workspace::{BlockSpelling, FieldSets, Filter, FilterAction};

use super::clock::between;
use super::counts::Span;
use super::fql::{condition, long_condition};
use super::ids::ksuid;

/// The shapes a filter can take. The first filters of a workspace take them in this order
/// (see [`FilterShowcase`]), so every shape exists whenever there are enough filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    DropLong,
    SampleWithPath,
    SampleWithoutPath,
    Allow,
    BlockBlacklist,
    BlockBlocklist,
    SampleThenBlock,
    AllowThenSample,
    BlockEverywhere,
    Drop,
}

const SHOWCASE: [Shape; 10] = [
    Shape::DropLong,
    Shape::SampleWithPath,
    Shape::SampleWithoutPath,
    Shape::Allow,
    Shape::BlockBlacklist,
    Shape::BlockBlocklist,
    Shape::SampleThenBlock,
    Shape::AllowThenSample,
    Shape::BlockEverywhere,
    Shape::DropLong,
];

/// Counts the filters made so far across the workspace, to hand out the showcase shapes first.
#[derive(Debug, Default)]
pub(super) struct FilterShowcase {
    made: usize,
}

impl FilterShowcase {
    fn next_shape(&mut self, rng: &mut Rng) -> Shape {
        let shape = SHOWCASE
            .get(self.made)
            .copied()
            .unwrap_or_else(|| random_shape(rng));
        self.made += 1;
        shape
    }
}

fn random_shape(rng: &mut Rng) -> Shape {
    match rng.below(100) {
        0..28 => Shape::Drop,
        28..31 => Shape::DropLong,
        31..39 => Shape::SampleWithPath,
        39..46 => Shape::SampleWithoutPath,
        46..60 => Shape::Allow,
        60..73 => Shape::BlockBlacklist,
        73..82 => Shape::BlockBlocklist,
        82..89 => Shape::SampleThenBlock,
        89..94 => Shape::AllowThenSample,
        _ => Shape::BlockEverywhere,
    }
}

/// A filter count skewed towards the minimum: with 0–10, about 45% of destinations have none
/// and 3% have ten, the long tail real workspaces show.
pub(super) fn filter_count(rng: &mut Rng, span: Span) -> usize {
    let width = span.max.saturating_sub(span.min) + 1;
    let u = rng.unit();
    span.min + ((width as f64 * u * u * u) as usize).min(width - 1)
}

/// `count` filters of a destination created and last updated at `lifetime` (epoch seconds);
/// the filters were added in between, which their KSUIDs record.
pub(super) fn filters(
    rng: &mut Rng,
    count: usize,
    lifetime: (i64, i64),
    showcase: &mut FilterShowcase,
) -> Vec<Filter> {
    let mut keys = std::collections::HashSet::new();
    (0..count)
        .map(|_| {
            let shape = showcase.next_shape(rng);
            let added = between(rng, lifetime.0, lifetime.1);
            let mut made = filter(rng, shape, added);
            // Title and condition are a filter's natural key (an importer finds a filter it may
            // have created by them), so they stay unique on a destination, as a person would
            // keep them; a repeated title gets a number.
            let title = made.title.clone();
            let mut n = 1;
            while !keys.insert((made.title.clone(), made.condition.clone())) {
                n += 1;
                made.title = format!("{title} ({n})");
            }
            made
        })
        .collect()
}

fn filter(rng: &mut Rng, shape: Shape, added: i64) -> Filter {
    let (title, actions) = match shape {
        Shape::Drop | Shape::DropLong => (drop_title(rng), vec![FilterAction::DropEvent]),
        Shape::SampleWithPath => sample_filter(rng, true),
        Shape::SampleWithoutPath => sample_filter(rng, false),
        Shape::Allow => ("Only send order fields".to_owned(), vec![allow(rng)]),
        Shape::BlockBlacklist => (pii_title(rng), vec![block(rng, BlockSpelling::Blacklist)]),
        Shape::BlockBlocklist | Shape::BlockEverywhere => {
            (pii_title(rng), vec![block(rng, BlockSpelling::Blocklist)])
        }
        Shape::SampleThenBlock => (
            "Sample and strip PII".to_owned(),
            vec![sample(rng, false), block(rng, BlockSpelling::Blocklist)],
        ),
        Shape::AllowThenSample => (
            "Échantillon des commandes".to_owned(),
            vec![allow(rng), sample(rng, true)],
        ),
    };
    let long = shape == Shape::DropLong || rng.chance(0.04);
    let condition = if shape == Shape::BlockEverywhere {
        "all".to_owned()
    } else if long {
        let min_len = rng.range(1_100, 2_600);
        long_condition(rng, min_len)
    } else {
        let depth = rng.below(4);
        condition(rng, depth)
    };
    Filter {
        id: format!("df_{}", ksuid(rng, added)),
        title,
        description: description(rng),
        condition,
        enabled: rng.chance(0.85),
        actions,
    }
}

fn drop_title(rng: &mut Rng) -> String {
    (*rng.pick(&[
        "Drop test events",
        "Drop internal traffic",
        "Ignorer les événements de test",
        "Drop bots",
        "Drop legacy events",
    ]))
    .to_owned()
}

fn pii_title(rng: &mut Rng) -> String {
    (*rng.pick(&[
        "Strip PII",
        "Remove IP and email",
        "Supprimer les données personnelles",
        "個人情報を削除",
    ]))
    .to_owned()
}

fn description(rng: &mut Rng) -> String {
    if rng.chance(0.5) {
        return String::new();
    }
    (*rng.pick(&[
        "Requested by legal (ticket DATA-1234).",
        "Keeps the destination under its monthly event quota.",
        "Temporary, until the vendor fixes their deduplication.",
        "Demandé par l'équipe conformité.",
    ]))
    .to_owned()
}

fn sample_filter(rng: &mut Rng, with_path: bool) -> (String, Vec<FilterAction>) {
    let action = sample(rng, with_path);
    let FilterAction::SampleEvent { percent, .. } = action else {
        unreachable!("sample() makes a sample action")
    };
    (
        format!("Sample {:.0}% of traffic", percent * 100.0),
        vec![action],
    )
}

fn sample(rng: &mut Rng, with_path: bool) -> FilterAction {
    let percent = *rng.pick(&[0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9]);
    let path = with_path.then(|| {
        (*rng.pick(&[
            "userId",
            "anonymousId",
            "properties.order_id",
            "context.device.id",
        ]))
        .to_owned()
    });
    FilterAction::SampleEvent { percent, path }
}

const PROPERTY_FIELDS: &[&str] = &[
    "order_id",
    "revenue",
    "currency",
    "products",
    "coupon",
    "email",
    "phone",
    "address.street",
    "prénom",
];
const CONTEXT_FIELDS: &[&str] = &["ip", "userAgent", "location", "device.advertisingId"];
const TRAIT_FIELDS: &[&str] = &["email", "phone", "birthday", "address", "name"];

fn field_sets(rng: &mut Rng, sections: &[(&str, &[&str])]) -> FieldSets {
    sections
        .iter()
        .map(|(section, pool)| {
            let mut fields: Vec<String> = pool
                .iter()
                .filter(|_| rng.chance(0.4))
                .map(|f| (*f).to_owned())
                .collect();
            if fields.is_empty() {
                fields.push((*rng.pick(pool)).to_owned());
            }
            ((*section).to_owned(), fields)
        })
        .collect()
}

fn allow(rng: &mut Rng) -> FilterAction {
    let mut sections: Vec<(&str, &[&str])> = vec![("properties", PROPERTY_FIELDS)];
    if rng.chance(0.3) {
        sections.push(("traits", TRAIT_FIELDS));
    }
    FilterAction::AllowFields(field_sets(rng, &sections))
}

fn block(rng: &mut Rng, spelling: BlockSpelling) -> FilterAction {
    let all: [(&str, &[&str]); 3] = [
        ("properties", PROPERTY_FIELDS),
        ("context", CONTEXT_FIELDS),
        ("traits", TRAIT_FIELDS),
    ];
    let mut sections: Vec<(&str, &[&str])> =
        all.iter().copied().filter(|_| rng.chance(0.5)).collect();
    if sections.is_empty() {
        sections.push(all[rng.below(all.len())]);
    }
    FilterAction::BlockFields {
        spelling,
        fields: field_sets(rng, &sections),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_counts_stay_in_span_and_skew_low() {
        let mut rng = Rng::new(2);
        let span = Span::new(0, 10);
        let counts: Vec<usize> = (0..2_000).map(|_| filter_count(&mut rng, span)).collect();
        assert!(counts.iter().all(|&n| n <= 10));
        let none = counts.iter().filter(|&&n| n == 0).count();
        assert!((700..1_100).contains(&none), "{none}");
        assert!(counts.contains(&10));
        assert_eq!(filter_count(&mut rng, Span::exactly(4)), 4);
    }
}
