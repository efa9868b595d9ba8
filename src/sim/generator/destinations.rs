//! Destination instances of a source: integrations chosen by popularity, repeated instances,
//! settings, connection modes, filters and delivery metrics.

use std::collections::HashMap;

use crate::sim::catalog::{Catalog, CatalogDestination, SettingType};
use crate::sim::rng::Rng;
use crate::sim::workspace::{ConnectionMode, DeliveryMetrics, Destination};

use super::clock::{Clock, timestamp};
use super::counts::Span;
use super::filters::{FilterShowcase, filter_count, filters};
use super::ids::{Weighted, sub_rng};
use super::names::Unique;
use super::settings::config;
use super::sources::Platform;

/// How often real workspaces pick an integration, relative to the weight 1 of the long tail.
const POPULAR: &[(&str, u32)] = &[
    ("google-analytics", 40),
    ("amplitude", 30),
    ("mixpanel", 30),
    ("facebook-pixel", 25),
    ("webhooks", 25),
    ("appboy", 20),
    ("intercom", 20),
    ("hubspot", 15),
    ("customer.io", 15),
    ("fullstory", 15),
    ("google-tag-manager", 15),
    ("adwords", 12),
    ("salesforce", 10),
    ("iterable", 10),
    ("optimizely", 10),
    ("hotjar", 10),
    ("slack", 8),
    ("google-cloud-pubsub", 6),
];

/// Something a small workspace must contain for its destinations to be a fair rehearsal:
/// an integration, how many instances of it to place on one source, and which setting types
/// must be set on it.
#[derive(Debug, Clone)]
struct Feature {
    item: usize,
    instances: usize,
    force: Vec<SettingType>,
}

/// Where an integration can run, from its catalog `components`.
#[derive(Debug, Clone, Copy, Default)]
struct Support {
    web: bool,
    mobile: bool,
    cloud: bool,
}

impl Support {
    /// Items listing no components are partner integrations fed from Segment's servers.
    fn of(item: &CatalogDestination) -> Support {
        let components: Vec<&str> = item.config_wire["components"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["type"].as_str()).collect())
            .unwrap_or_default();
        if components.is_empty() {
            return Support {
                cloud: true,
                ..Support::default()
            };
        }
        Support {
            web: components.contains(&"WEB"),
            mobile: components.contains(&"IOS") || components.contains(&"ANDROID"),
            cloud: components.contains(&"CLOUD"),
        }
    }

    fn device_on(self, platform: Platform) -> bool {
        match platform {
            Platform::Web => self.web,
            Platform::Mobile => self.mobile,
            Platform::Server | Platform::Cloud => false,
        }
    }

    fn runs_on(self, platform: Platform) -> bool {
        self.cloud || self.device_on(platform)
    }
}

/// Cases given to the first destination that allows them, so that every workspace has one
/// whatever the seed: a device-mode instance (on a web or mobile source, for an integration
/// with a device component), and an enabled destination that delivered nothing.
#[derive(Debug, Default)]
struct Shown {
    device_mode: bool,
    quiet: bool,
}

/// Picks integrations and hands out the [`Feature`]s to the first sources with room for them.
pub(super) struct DestinationPicker<'a> {
    catalog: &'a Catalog,
    support: Vec<Support>,
    weighted: Weighted,
    pending: Vec<Feature>,
    shown: Shown,
    pub filter_showcase: FilterShowcase,
}

fn has_setting(item: &CatalogDestination, kind: SettingType) -> bool {
    item.settings.iter().any(|s| s.kind == kind)
}

fn has_nested_mixed(item: &CatalogDestination) -> bool {
    item.settings
        .iter()
        .any(|s| s.kind == SettingType::Mixed && !s.settings.is_empty())
}

/// Renamed integrations keep their old slug and list their old names; a migration must match
/// them by slug, not by display name.
fn is_renamed(item: &CatalogDestination) -> bool {
    item.previous_names.iter().any(|n| *n != item.display_name)
}

impl<'a> DestinationPicker<'a> {
    pub fn new(rng: &mut Rng, catalog: &'a Catalog) -> Self {
        let weight = |item: &CatalogDestination| {
            POPULAR
                .iter()
                .find(|(slug, _)| *slug == item.slug)
                .map_or(1, |(_, w)| u64::from(*w))
        };
        let support: Vec<Support> = catalog.destinations.iter().map(Support::of).collect();
        Self {
            catalog,
            weighted: Weighted::new(catalog.destinations.iter().map(weight)),
            pending: features(rng, catalog, &support),
            shown: Shown::default(),
            filter_showcase: FilterShowcase::default(),
            support,
        }
    }

    /// A weighted pick that can run on `platform` (a web-only tag makes no sense on a server
    /// source), unless a few tries find none.
    fn weighted_for(&self, rng: &mut Rng, platform: Platform) -> usize {
        let mut item = self.weighted.pick(rng);
        for _ in 0..20 {
            if self.support[item].runs_on(platform) {
                break;
            }
            item = self.weighted.pick(rng);
        }
        item
    }

    /// The first pending feature that fits in `room` slots and runs on `platform`, device-only
    /// integrations first, since few sources can take them.
    fn take_feature(&mut self, room: usize, platform: Platform) -> Option<Feature> {
        let fits = |f: &Feature| f.instances <= room && self.support[f.item].runs_on(platform);
        let at = self
            .pending
            .iter()
            .position(|f| fits(f) && !self.support[f.item].cloud)
            .or_else(|| self.pending.iter().position(fits))?;
        Some(self.pending.remove(at))
    }
}

/// What makes an integration qualify for a feature.
#[derive(Debug, Clone, Copy)]
enum Need {
    Any,
    Setting(SettingType),
    NestedMixed,
    Renamed,
}

impl Need {
    fn met_by(self, item: &CatalogDestination) -> bool {
        match self {
            Need::Any => true,
            Need::Setting(kind) => has_setting(item, kind),
            Need::NestedMixed => has_nested_mixed(item),
            Need::Renamed => is_renamed(item),
        }
    }
}

/// The features, each on an integration drawn among those that qualify, so different seeds
/// exercise different catalog items; integrations with a cloud component are preferred, as any
/// source can take them. Features without a qualifying item are skipped.
fn features(rng: &mut Rng, catalog: &Catalog, support: &[Support]) -> Vec<Feature> {
    use SettingType::{Color, Map, Mixed, MultiLineString, Number, Password, Select};
    let wanted: [(Need, usize, &[SettingType]); 12] = [
        (Need::Setting(Password), 1, &[Password]),
        (Need::Any, 2, &[]),
        (Need::NestedMixed, 1, &[Mixed]),
        (Need::Renamed, 1, &[]),
        (Need::Setting(Map), 1, &[Map]),
        (Need::Any, 3, &[]),
        (Need::Setting(Password), 1, &[Password]),
        (Need::Setting(Color), 1, &[Color]),
        (Need::Setting(Number), 1, &[Number]),
        (Need::Setting(SettingType::List), 1, &[SettingType::List]),
        (Need::Setting(Select), 1, &[Select]),
        (Need::Setting(MultiLineString), 1, &[MultiLineString]),
    ];
    wanted
        .into_iter()
        .filter_map(|(need, instances, force)| {
            let qualifying: Vec<usize> = (0..catalog.destinations.len())
                .filter(|&i| need.met_by(&catalog.destinations[i]))
                .collect();
            let portable: Vec<usize> = qualifying
                .iter()
                .copied()
                .filter(|&i| support[i].cloud)
                .collect();
            let candidates = if portable.is_empty() {
                qualifying
            } else {
                portable
            };
            (!candidates.is_empty()).then(|| Feature {
                item: *rng.pick(&candidates),
                instances,
                force: force.to_vec(),
            })
        })
        .collect()
}

const PURPOSES: &[&str] = &[
    "EU",
    "Staging",
    "Marketing",
    "Backup",
    "Product Analytics",
    "Ads",
    "Données brutes",
    "テスト",
];

/// The integrations of one source's destinations, in order, with the setting types each
/// must have set.
#[derive(Default)]
struct Instances {
    list: Vec<(usize, Vec<SettingType>)>,
    per_item: HashMap<usize, usize>,
}

impl Instances {
    fn push(&mut self, item: usize, force: Vec<SettingType>) {
        *self.per_item.entry(item).or_default() += 1;
        self.list.push((item, force));
    }

    fn contains(&self, item: usize) -> bool {
        self.per_item.contains_key(&item)
    }
}

/// What the destinations of a source inherit from it.
pub(super) struct SourceContext {
    pub platform: Platform,
    pub created: i64,
}

/// The destinations of one source: `slots` instances, features first while any fit, then
/// popular or long-tail integrations, now and then a further instance of one already there.
pub(super) fn destinations(
    rng: &mut Rng,
    slots: usize,
    source: &SourceContext,
    filters_per_destination: Span,
    picker: &mut DestinationPicker,
    clock: &Clock,
) -> Vec<Destination> {
    if picker.catalog.destinations.is_empty() {
        return Vec::new();
    }
    let instances = choose_instances(rng, slots, source.platform, picker);
    let mut names = Unique::default();
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let catalog = picker.catalog;
    instances
        .list
        .iter()
        .enumerate()
        .map(|(i, (item, force))| {
            let nth = seen.entry(*item).or_default();
            *nth += 1;
            let mut rng = sub_rng(rng, "destination", i);
            let support = picker.support[*item];
            let mode = if !picker.shown.device_mode && support.device_on(source.platform) {
                ConnectionMode::Device
            } else {
                connection_mode(&mut rng, support, source.platform)
            };
            picker.shown.device_mode |= mode == ConnectionMode::Device;
            let item = &catalog.destinations[*item];
            let mut destination = instance(&mut rng, item, *nth, force, mode, &mut names);
            let (created, updated) = stamp(&mut rng, &mut destination, source.created, clock);
            let quiet = destination.enabled && (!picker.shown.quiet || rng.chance(0.1));
            picker.shown.quiet |= quiet;
            if !quiet && destination.enabled {
                destination.delivery = delivery(&mut rng);
            }
            let count = filter_count(&mut rng, filters_per_destination);
            destination.filters = filters(
                &mut rng,
                count,
                (created, updated),
                &mut picker.filter_showcase,
            );
            destination
        })
        .collect()
}

fn choose_instances(
    rng: &mut Rng,
    slots: usize,
    platform: Platform,
    picker: &mut DestinationPicker,
) -> Instances {
    let mut instances = Instances::default();
    while let Some(feature) = picker.take_feature(slots - instances.list.len(), platform) {
        for _ in 0..feature.instances {
            instances.push(feature.item, feature.force.clone());
        }
    }
    while instances.list.len() < slots {
        let item = pick_item(rng, &instances, picker, platform);
        instances.push(item, Vec::new());
    }
    instances
}

/// A new integration for the source, or (6%) one more instance of an integration it has.
fn pick_item(
    rng: &mut Rng,
    instances: &Instances,
    picker: &DestinationPicker,
    platform: Platform,
) -> usize {
    if !instances.list.is_empty() && rng.chance(0.06) {
        let (item, _) = *rng.pick(&instances.list);
        if instances.per_item[&item] < 3 {
            return item;
        }
    }
    let mut item = picker.weighted_for(rng, platform);
    for _ in 0..8 {
        if !instances.contains(item) {
            break;
        }
        item = picker.weighted_for(rng, platform);
    }
    item
}

fn instance(
    rng: &mut Rng,
    item: &CatalogDestination,
    nth: usize,
    force: &[SettingType],
    connection_mode: ConnectionMode,
    names: &mut Unique,
) -> Destination {
    let slug = if nth == 1 {
        item.slug.clone()
    } else {
        format!("{}-{nth}", item.slug)
    };
    let base_name = if nth == 1 && rng.chance(0.75) {
        item.display_name.clone()
    } else {
        format!("{} ({})", item.display_name, rng.pick(PURPOSES))
    };
    Destination {
        slug,
        catalog_slug: item.slug.clone(),
        instance_name: names.claim(&base_name, " "),
        enabled: rng.chance(0.85),
        connection_mode,
        config: config(rng, item, force),
        filters: Vec::new(),
        delivery: DeliveryMetrics {
            delivered: 0,
            not_delivered: 0,
            p95_latency_ms: 0,
        },
        create_time: String::new(),
        update_time: String::new(),
    }
}

/// Device mode needs both a Segment library in the user's browser or app and an integration
/// with a component for it; some instances never had their mode recorded (UNSPECIFIED).
fn connection_mode(rng: &mut Rng, support: Support, platform: Platform) -> ConnectionMode {
    let (device, cloud) = (support.device_on(platform), support.cloud);
    match rng.below(100) {
        0..10 => ConnectionMode::Unspecified,
        10..55 if device && cloud => ConnectionMode::Device,
        _ if device && !cloud => ConnectionMode::Device,
        _ => ConnectionMode::Cloud,
    }
}

/// Sets the creation and update times, and returns them.
fn stamp(
    rng: &mut Rng,
    destination: &mut Destination,
    source_created: i64,
    clock: &Clock,
) -> (i64, i64) {
    let created = clock.created_after(rng, source_created);
    let updated = clock.updated(rng, created);
    destination.create_time = timestamp(created);
    destination.update_time = timestamp(updated);
    (created, updated)
}

/// Figures of a destination that delivers: log-uniform from tens to tens of millions of events,
/// a few percent failing. The others (disabled, or quiet: misconfigured or on a silent source)
/// keep all-zero figures.
fn delivery(rng: &mut Rng) -> DeliveryMetrics {
    let delivered = 10f64.powf(1.0 + rng.unit() * 6.5) as u64;
    let failure_rate = rng.unit() * rng.unit() * 0.05;
    DeliveryMetrics {
        delivered,
        not_delivered: (delivered as f64 * failure_rate) as u64,
        p95_latency_ms: rng.range(40, 4_000) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_finds_an_item_in_the_embedded_catalog() {
        let catalog = Catalog::embedded();
        let support: Vec<Support> = catalog.destinations.iter().map(Support::of).collect();
        let features = features(&mut Rng::new(1), catalog, &support);
        assert_eq!(features.len(), 12);
        let renamed = features
            .iter()
            .filter(|f| is_renamed(&catalog.destinations[f.item]));
        assert!(renamed.count() >= 1);
    }

    #[test]
    fn weighted_picks_favour_popular_integrations() {
        let catalog = Catalog::embedded();
        let picker = DestinationPicker::new(&mut Rng::new(1), catalog);
        let mut rng = Rng::new(2);
        let ga = (0..5_000)
            .filter(|_| {
                catalog.destinations[picker.weighted.pick(&mut rng)].slug == "google-analytics"
            })
            .count();
        // Weight 40 of a total of about 700: roughly 6%.
        assert!((150..500).contains(&ga), "{ga}");
    }
}
