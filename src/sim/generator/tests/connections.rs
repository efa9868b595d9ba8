//! Sources, destinations, their settings and filters.

use super::*;

#[test]
fn sources_span_catalog_types_with_url_safe_slugs_and_unicode_names() {
    for ws in smalls() {
        let types: HashSet<&str> = ws.sources.iter().map(|s| s.catalog_slug.as_str()).collect();
        for wanted in [
            "javascript",
            "ios",
            "android",
            "http-api",
            "node.js",
            "python",
        ] {
            assert!(types.contains(wanted), "no {wanted} source");
        }
        let cloud = ws.sources.iter().filter(|s| {
            catalog().source(&s.catalog_slug).unwrap().source_type == SourceType::Object
        });
        assert!(cloud.count() >= 1, "no cloud source");
        assert!(ws.sources.iter().all(|s| is_slug(&s.slug)));
        assert!(ws.sources.iter().any(|s| !s.display_name.is_ascii()));
        for source in &ws.sources {
            assert_eq!(source.id.len(), 10);
            assert!(!source.write_keys.is_empty());
            assert!(
                source
                    .write_keys
                    .iter()
                    .all(|k| k.len() == 32 && is_base62(k))
            );
        }
        assert!(ws.sources.iter().any(|s| !s.labels.is_empty()));
    }
}

#[test]
fn sources_have_several_destinations_including_repeated_instances() {
    let span = Counts::preset(Preset::Small).destinations_per_source;
    for ws in smalls() {
        assert!(
            ws.sources
                .iter()
                .all(|s| { (span.min..=span.max).contains(&s.destinations.len()) })
        );
        let mut most_instances = 0;
        for source in &ws.sources {
            let mut by_item: HashMap<&str, Vec<&Destination>> = HashMap::new();
            for d in &source.destinations {
                by_item.entry(&d.catalog_slug).or_default().push(d);
            }
            for (item, instances) in by_item {
                most_instances = most_instances.max(instances.len());
                let slugs: Vec<&str> = instances.iter().map(|d| d.slug.as_str()).collect();
                let expected: Vec<String> = (1..=instances.len())
                    .map(|n| {
                        if n == 1 {
                            item.to_owned()
                        } else {
                            format!("{item}-{n}")
                        }
                    })
                    .collect();
                assert_eq!(slugs, expected);
            }
        }
        assert!(most_instances >= 3, "no integration with three instances");
    }
}

#[test]
fn renamed_integrations_are_used() {
    for ws in smalls() {
        assert!(destinations(ws).any(|(_, d)| {
            let item = catalog().destination(&d.catalog_slug).unwrap();
            item.previous_names.iter().any(|n| *n != item.display_name)
        }));
    }
}

fn settings_of_type<'a>(
    ws: &'a Workspace,
    kind: SettingType,
) -> impl Iterator<Item = (&'a CatalogSetting, &'a Value)> + 'a {
    destinations(ws).flat_map(move |(_, d)| {
        let item = catalog().destination(&d.catalog_slug).unwrap();
        d.config.iter().filter_map(move |(name, value)| {
            let setting = item.setting(name).unwrap();
            (setting.kind == kind).then_some((setting, value))
        })
    })
}

#[test]
fn secrets_are_long_recognisable_and_unique() {
    for ws in smalls() {
        let secrets: Vec<&str> = settings_of_type(ws, SettingType::Password)
            .map(|(_, v)| v.as_str().unwrap())
            .collect();
        assert!(secrets.len() >= 2, "{secrets:?}");
        assert!(
            secrets
                .iter()
                .all(|s| s.starts_with(SECRET_PREFIX) && s.len() >= 24)
        );
        assert_unique("secret", &secrets);
    }
}

/// Checks a value against its catalog setting, recursing into MIXED rows.
fn check_value(setting: &CatalogSetting, value: &Value) {
    let name = &setting.name;
    match setting.kind {
        SettingType::String | SettingType::MultiLineString | SettingType::Password => {
            assert!(value.is_string(), "{name}: {value}");
        }
        SettingType::Boolean => assert!(value.is_boolean(), "{name}: {value}"),
        SettingType::Number => {
            let n = value.as_u64().unwrap_or_else(|| panic!("{name}: {value}"));
            assert!((1..=60_000).contains(&n), "{name}: {n}");
        }
        SettingType::Map => assert!(
            value
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string)),
            "{name}: {value}"
        ),
        SettingType::List => assert!(
            value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string)),
            "{name}: {value}"
        ),
        SettingType::Select => {
            let options = setting.select_options();
            let chosen = value.as_str().unwrap();
            assert!(
                options.is_empty() || options.iter().any(|o| o == chosen),
                "{name}"
            );
        }
        SettingType::Color => {
            let color = value.as_str().unwrap();
            assert!(
                color.len() == 7 && color.starts_with('#'),
                "{name}: {color}"
            );
            assert!(color[1..].bytes().all(|b| b.is_ascii_hexdigit()));
        }
        SettingType::Mixed => {
            for row in value.as_array().unwrap() {
                let row = row.as_object().unwrap();
                for nested in &setting.settings {
                    assert!(!nested.required || row.contains_key(&nested.name), "{name}");
                }
                for (key, nested_value) in row {
                    let nested = setting.settings.iter().find(|s| s.name == *key).unwrap();
                    check_value(nested, nested_value);
                }
            }
        }
    }
}

#[test]
fn destination_settings_are_typed_plausible_and_a_subset() {
    for ws in smalls() {
        let mut partial = false;
        for (_, d) in destinations(ws) {
            let item = catalog().destination(&d.catalog_slug).unwrap();
            for setting in item.settings.iter().filter(|s| s.required) {
                assert!(
                    d.config.iter().any(|(n, _)| *n == setting.name),
                    "{}",
                    setting.name
                );
            }
            let positions: Vec<usize> = d
                .config
                .iter()
                .map(|(n, _)| item.settings.iter().position(|s| s.name == *n).unwrap())
                .collect();
            assert!(positions.is_sorted(), "config not in catalog order");
            partial |= d.config.len() < item.settings.len();
            for (name, value) in &d.config {
                check_value(item.setting(name).unwrap(), value);
            }
        }
        assert!(partial, "every destination sets every setting");
        for kind in [
            SettingType::Map,
            SettingType::Mixed,
            SettingType::List,
            SettingType::Select,
            SettingType::Number,
            SettingType::Boolean,
            SettingType::String,
            SettingType::Color,
        ] {
            assert!(
                settings_of_type(ws, kind).next().is_some(),
                "no {kind:?} value"
            );
        }
        let nested_rows = settings_of_type(ws, SettingType::Mixed)
            .filter_map(|(_, v)| v.as_array())
            .any(|rows| rows.iter().any(|r| !r.as_object().unwrap().is_empty()));
        assert!(nested_rows, "no MIXED value with nested settings");
    }
}

#[test]
fn destinations_mix_states_modes_and_delivery() {
    for ws in smalls() {
        let all: Vec<&Destination> = destinations(ws).map(|(_, d)| d).collect();
        assert!(all.iter().any(|d| d.enabled) && all.iter().any(|d| !d.enabled));
        for mode in [
            ConnectionMode::Cloud,
            ConnectionMode::Device,
            ConnectionMode::Unspecified,
        ] {
            assert!(all.iter().any(|d| d.connection_mode == mode), "no {mode:?}");
        }
        assert!(
            all.iter()
                .filter(|d| !d.enabled)
                .all(|d| d.delivery.delivered == 0)
        );
        assert!(all.iter().any(|d| d.enabled && d.delivery.delivered == 0));
        assert!(all.iter().any(|d| d.delivery.delivered > 1_000));
        for d in &all {
            assert!(d.delivery.not_delivered <= d.delivery.delivered);
        }
    }
}

#[test]
fn filters_cover_every_action_and_shape() {
    for ws in smalls() {
        let per_destination: Vec<usize> = destinations(ws).map(|(_, d)| d.filters.len()).collect();
        assert!(
            per_destination
                .iter()
                .all(|&n| n <= MAX_FILTERS_PER_DESTINATION)
        );
        assert!(per_destination.contains(&0));
        assert!(per_destination.iter().any(|&n| n >= 5));
        let all: Vec<_> = filters(ws).collect();
        let any_action =
            |p: &dyn Fn(&FilterAction) -> bool| all.iter().any(|f| f.actions.iter().any(p));
        assert!(any_action(&|a| matches!(a, FilterAction::DropEvent)));
        assert!(any_action(&|a| matches!(
            a,
            FilterAction::SampleEvent { path: Some(_), .. }
        )));
        assert!(any_action(&|a| matches!(
            a,
            FilterAction::SampleEvent { path: None, .. }
        )));
        assert!(any_action(&|a| matches!(a, FilterAction::AllowFields(_))));
        for spelling in [BlockSpelling::Blacklist, BlockSpelling::Blocklist] {
            assert!(any_action(&|a| matches!(
                a,
                FilterAction::BlockFields { spelling: s, .. } if *s == spelling
            )));
        }
        assert!(
            all.iter().any(|f| f.actions.len() > 1),
            "no multi-action filter"
        );
        assert!(
            all.iter().any(|f| f.condition.len() > 1_024),
            "no long condition"
        );
        assert!(all.iter().any(|f| f.condition == "all"));
        for filter in &all {
            let suffix = filter.id.strip_prefix("df_").unwrap();
            assert!(suffix.len() == 27 && is_base62(suffix), "{}", filter.id);
            assert!(!filter.actions.is_empty());
            for action in &filter.actions {
                if let FilterAction::SampleEvent { percent, .. } = action {
                    assert!((0.0..=1.0).contains(percent));
                }
            }
        }
    }
}

#[test]
fn filter_conditions_use_the_fql_grammar() {
    let conditions: String = smalls()
        .iter()
        .flat_map(filters)
        .map(|f| format!("{}\n", f.condition))
        .collect();
    for token in [
        " = ",
        " != ",
        " < ",
        " >= ",
        " in [",
        " in properties.",
        " and ",
        " or ",
        "!( ",
        "( ",
        "contains( ",
        "!contains( ",
        "match( ",
        "length( ",
        "lowercase( ",
        "typeof( ",
        "'",
        "\"",
        "\\ ",
    ] {
        assert!(conditions.contains(token), "no `{token}` in any condition");
    }
}
