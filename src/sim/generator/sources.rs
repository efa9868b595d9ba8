//! Sources: catalog types weighted as real workspaces use them, names, write keys, library
//! settings, labels, function instances, and their destinations.

use crate::sim::catalog::{Catalog, CatalogSource, SourceType};
use crate::sim::rng::{BASE62, Rng};
use crate::sim::workspace::{Function, FunctionKind, LibraryConfig, SchemaConfig, Source};

use super::clock::{Clock, timestamp};
use super::counts::{Counts, MAX_FILTERS_PER_DESTINATION, Span};
use super::destinations::{DestinationPicker, SourceContext, destinations};
use super::functions;
use super::ids::{Weighted, shuffle, sub_rng};
use super::names::{
    ENVIRONMENTS, INTERNATIONAL_PRODUCTS, Named, PLAIN_PRODUCTS, Unique, pick, slugify,
};

/// Where a source's events come from, which decides its naming and whether device-mode
/// destinations make sense on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Platform {
    Web,
    Mobile,
    Server,
    Cloud,
}

impl Platform {
    fn of(item: &CatalogSource) -> Platform {
        let category = |c: &str| item.categories.iter().any(|x| x == c);
        if item.source_type == SourceType::Object {
            Platform::Cloud
        } else if category("Website") {
            Platform::Web
        } else if category("Mobile") || category("Ott") {
            Platform::Mobile
        } else if category("Server") {
            Platform::Server
        } else {
            Platform::Cloud
        }
    }
}

/// The catalog types the first sources take, so that a small workspace has each of them.
const SHOWCASE: &[&str] = &[
    "javascript",
    "ios",
    "android",
    "http-api",
    "node.js",
    "python",
    "salesforce",
    "stripe",
];

/// Relative popularity of source types; unlisted types weigh 1.
const WEIGHTS: &[(&str, u64)] = &[
    ("javascript", 30),
    ("ios", 12),
    ("android", 12),
    ("http-api", 8),
    ("node.js", 7),
    ("python", 6),
    ("react-native", 4),
    ("ruby", 3),
    ("java", 3),
    ("php", 3),
    ("go", 2),
    (".net", 2),
    ("salesforce", 3),
    ("stripe", 3),
    ("hubspot", 2),
    ("zendesk", 2),
];

/// Function instances are HTTP sources from the catalog's point of view: they receive
/// webhooks and call the tracking API.
const FUNCTION_SOURCE_TYPE: &str = "http-api";

struct SourcePicker<'a> {
    catalog: &'a Catalog,
    weighted: Weighted,
}

impl<'a> SourcePicker<'a> {
    fn new(catalog: &'a Catalog) -> Self {
        let weight = |item: &CatalogSource| {
            WEIGHTS
                .iter()
                .find(|(slug, _)| *slug == item.slug)
                .map_or(1, |(_, w)| *w)
        };
        Self {
            catalog,
            weighted: Weighted::new(catalog.sources.iter().map(weight)),
        }
    }

    /// The showcase type for the first sources, a weighted pick for the others.
    fn item(&self, rng: &mut Rng, index: usize) -> &'a CatalogSource {
        if let Some(item) = SHOWCASE.get(index).and_then(|s| self.catalog.source(s)) {
            return item;
        }
        &self.catalog.sources[self.weighted.pick(rng)]
    }

    fn function_host(&self) -> &'a CatalogSource {
        self.catalog
            .source(FUNCTION_SOURCE_TYPE)
            .unwrap_or(&self.catalog.sources[0])
    }
}

/// Which source indices are function instances: never the showcase ones when there is room,
/// so the catalog types above stay present.
fn function_positions(rng: &mut Rng, sources: usize, instances: usize) -> Vec<bool> {
    let first = if sources - SHOWCASE.len().min(sources) >= instances {
        SHOWCASE.len().min(sources)
    } else {
        0
    };
    let mut candidates: Vec<usize> = (first..sources).collect();
    shuffle(rng, &mut candidates);
    let mut positions = vec![false; sources];
    for &i in candidates.iter().take(instances) {
        positions[i] = true;
    }
    positions
}

/// Uniqueness namespaces shared by all sources of the workspace.
#[derive(Default)]
struct SourceNames {
    slugs: Unique,
    display_names: Unique,
}

pub(super) fn sources(
    rng: &Rng,
    counts: &Counts,
    catalog: &Catalog,
    functions: &[Function],
    clock: &Clock,
) -> Vec<Source> {
    if catalog.sources.is_empty() {
        return Vec::new();
    }
    let picker = SourcePicker::new(catalog);
    let mut destination_picker = DestinationPicker::new(&mut rng.fork("features"), catalog);
    let source_functions: Vec<&Function> = functions
        .iter()
        .filter(|f| f.kind == FunctionKind::Source)
        .collect();
    let instances = if source_functions.is_empty() {
        0
    } else {
        counts.function_sources.min(counts.sources)
    };
    let positions =
        function_positions(&mut rng.fork("function-sources"), counts.sources, instances);
    let filters_per_destination = Span::new(
        counts
            .filters_per_destination
            .min
            .min(MAX_FILTERS_PER_DESTINATION),
        counts
            .filters_per_destination
            .max
            .min(MAX_FILTERS_PER_DESTINATION),
    );
    let mut names = SourceNames::default();
    let mut next_function = 0;
    (0..counts.sources)
        .map(|i| {
            let mut rng = sub_rng(rng, "source", i);
            let kind = if positions[i] {
                next_function += 1;
                SourceKind {
                    item: picker.function_host(),
                    platform: Platform::Cloud,
                    function: Some(source_functions[(next_function - 1) % source_functions.len()]),
                }
            } else {
                let item = picker.item(&mut rng, i);
                SourceKind {
                    item,
                    platform: Platform::of(item),
                    function: None,
                }
            };
            let created = clock.created(&mut rng);
            let mut source = source(&mut rng, i, &kind, &mut names);
            source.create_time = timestamp(created);
            let span = counts.destinations_per_source;
            let slots = rng.range(span.min, span.max.max(span.min));
            let context = SourceContext {
                platform: kind.platform,
                created,
            };
            source.destinations = destinations(
                &mut rng,
                slots,
                &context,
                filters_per_destination,
                &mut destination_picker,
                clock,
            );
            source
        })
        .collect()
}

/// What a source is: its catalog type, where it runs, and the function it runs if any.
struct SourceKind<'a> {
    item: &'a CatalogSource,
    platform: Platform,
    function: Option<&'a Function>,
}

fn source(rng: &mut Rng, index: usize, kind: &SourceKind, names: &mut SourceNames) -> Source {
    let (display_name, slug) = source_name(rng, index, kind, names);
    let key_count = if rng.chance(0.15) { 2 } else { 1 };
    Source {
        slug,
        id: rng.string(BASE62, 10),
        display_name,
        catalog_slug: kind.item.slug.clone(),
        write_keys: (0..key_count).map(|_| rng.string(BASE62, 32)).collect(),
        library_config: library_config(rng),
        labels: labels(rng),
        schema_config: SchemaConfig::default(),
        function_instance: kind.function.map(|f| functions::instance(rng, f)),
        destinations: Vec::new(),
        create_time: String::new(),
    }
}

/// A display name like "Café Web Staging" or "東京 iOS" and a slug like `cafe_web_staging`.
/// Slugs separate words with `-` or `_` (both are common), and both kinds of names are unique.
fn source_name(
    rng: &mut Rng,
    index: usize,
    kind: &SourceKind,
    names: &mut SourceNames,
) -> (String, String) {
    let (env, env_stem) = pick(rng, ENVIRONMENTS);
    let (base, stem) = match (kind.function, kind.platform) {
        (Some(function), _) => (function.display_name.clone(), function_stem(function)),
        (None, Platform::Cloud) => (kind.item.display_name.clone(), kind.item.slug.clone()),
        (None, platform) => {
            let (product, product_stem) = product(rng, index);
            let (label, label_stem) = platform_label(rng, kind.item, platform);
            (
                format!("{product} {label}"),
                format!("{product_stem} {label_stem}"),
            )
        }
    };
    let sep = if rng.chance(0.6) { '_' } else { '-' };
    let slug = slugify(&format!("{stem} {env_stem}"), sep);
    let display = names.display_names.claim(&format!("{base}{env}"), " ");
    (display, names.slugs.claim(&slug, &sep.to_string()))
}

/// The first two sources carry non-ASCII names, so that every workspace tests that names are
/// copied byte for byte; later ones draw from all products.
fn product(rng: &mut Rng, source_index: usize) -> Named {
    let international = INTERNATIONAL_PRODUCTS.len();
    let i = if source_index < 2 {
        rng.below(international)
    } else {
        rng.below(international + PLAIN_PRODUCTS.len())
    };
    INTERNATIONAL_PRODUCTS
        .get(i)
        .copied()
        .unwrap_or_else(|| PLAIN_PRODUCTS[i - international])
}

/// Function names may have no ASCII at all ("LINE メッセージ" keeps only "line").
fn function_stem(function: &Function) -> String {
    match slugify(&function.display_name, '-') {
        stem if stem.is_empty() => "function-source".to_owned(),
        stem => stem,
    }
}

/// How a source's platform reads in its name ("iOS", "Node.js Backend") and in its slug.
fn platform_label(rng: &mut Rng, item: &CatalogSource, platform: Platform) -> (String, String) {
    let label = match (item.slug.as_str(), platform) {
        ("javascript", _) => *rng.pick(&["Web", "Website"]),
        ("ios", _) => *rng.pick(&["iOS", "App", "iOS App"]),
        ("android", _) => *rng.pick(&["Android", "App"]),
        ("http-api", _) => "HTTP API",
        (_, Platform::Mobile) => "Mobile",
        (_, Platform::Server) => {
            let role = *rng.pick(&["Backend", "Server", "API"]);
            return (
                format!("{} {role}", item.display_name),
                format!("{} {role}", item.slug),
            );
        }
        _ => "Events",
    };
    (label.to_owned(), label.to_owned())
}

fn library_config(rng: &mut Rng) -> LibraryConfig {
    LibraryConfig {
        metrics_enabled: rng.chance(0.7),
        retry_queue: rng.chance(0.8),
        cross_domain_id_enabled: rng.chance(0.1),
        api_host: if rng.chance(0.85) {
            "api.segment.io/v1".to_owned()
        } else {
            "events.eu1.segmentapis.com/v1".to_owned()
        },
    }
}

const LABELS: &[(&str, &[&str])] = &[
    ("environment", &["prod", "staging", "dev"]),
    ("team", &["growth", "data", "mobile", "platform", "données"]),
    ("region", &["us", "eu", "apac"]),
    ("cost-center", &["cc-1042", "cc-2210"]),
];

fn labels(rng: &mut Rng) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    for (key, values) in LABELS {
        if rng.chance(0.3) {
            labels.push(((*key).to_owned(), (*rng.pick(values)).to_owned()));
        }
    }
    labels
}
