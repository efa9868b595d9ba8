//! Tracking plans, their rules and connections, and schema configurations.

use super::*;

#[test]
fn tracking_plans_have_large_versioned_and_unicode_rules() {
    for ws in smalls() {
        for plan in &ws.tracking_plans {
            let suffix = plan.id.strip_prefix("rs_").unwrap();
            assert!(suffix.len() == 27 && is_base62(suffix), "{}", plan.id);
            assert!(plan.rules.identify_traits.is_empty() && plan.rules.group_traits.is_empty());
        }
        let large = ws
            .tracking_plans
            .iter()
            .filter(|p| p.rules.events.len() > LARGE_PLAN_THRESHOLD);
        assert_eq!(large.count(), Counts::preset(Preset::Small).large_plans);
        let events: Vec<_> = ws
            .tracking_plans
            .iter()
            .flat_map(|p| &p.rules.events)
            .collect();
        let versions_of = |name: &str| -> BTreeSet<u32> {
            events
                .iter()
                .filter(|e| e.name == name)
                .map(|e| e.version)
                .collect()
        };
        assert!(
            events
                .iter()
                .any(|e| versions_of(&e.name) == BTreeSet::from([1, 2, 3]))
        );
        assert!(events.iter().any(|e| !e.name.is_ascii()));
        for rule in ["global", "identify", "group"] {
            assert!(ws.tracking_plans.iter().any(|p| match rule {
                "global" => p.rules.global.is_some(),
                "identify" => p.rules.identify.is_some(),
                _ => p.rules.group.is_some(),
            }));
        }
    }
}

/// Every `type` in a schema, array-valued types included, and property names.
fn collect_types(schema: &Value, types: &mut BTreeSet<String>, names: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            match map.get("type") {
                Some(Value::String(t)) => {
                    types.insert(t.clone());
                }
                Some(Value::Array(ts)) => {
                    types.insert(format!("{ts:?}"));
                    types.extend(ts.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                _ => {}
            }
            if let Some(Value::Object(properties)) = map.get("properties") {
                names.extend(properties.keys().cloned());
            }
            map.values().for_each(|v| collect_types(v, types, names));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_types(v, types, names)),
        _ => {}
    }
}

#[test]
fn event_schemas_follow_the_real_shape_with_every_type() {
    for ws in smalls() {
        let mut types = BTreeSet::new();
        let mut names = Vec::new();
        for event in ws.tracking_plans.iter().flat_map(|p| &p.rules.events) {
            let rules = &event.rules;
            assert_eq!(rules["$schema"], "http://json-schema.org/draft-07/schema#");
            assert_eq!(rules["type"], "object");
            assert!(rules["labels"].is_object());
            let sections = rules["properties"].as_object().unwrap();
            let keys: Vec<&String> = sections.keys().collect();
            assert_eq!(keys, ["context", "properties", "traits"]);
            let own = &sections["properties"];
            assert_eq!(own["type"], "object");
            if own.get("properties").is_some() {
                assert_eq!(rules["required"], serde_json::json!(["properties"]));
                assert!(own["required"].is_array());
            }
            collect_types(own, &mut types, &mut names);
        }
        for t in [
            "string", "integer", "number", "boolean", "object", "array", "null",
        ] {
            assert!(types.contains(t), "no {t} property in {types:?}");
        }
        assert!(types.iter().any(|t| t.starts_with('[')), "no union type");
        assert!(
            names.iter().any(|n| !n.is_ascii()),
            "no unicode property name"
        );
    }
}

#[test]
fn plans_connect_event_sources_at_most_once() {
    for ws in smalls() {
        let connected: Vec<&String> = ws
            .tracking_plans
            .iter()
            .flat_map(|p| &p.source_slugs)
            .collect();
        assert!(!connected.is_empty());
        assert_unique("connected source", &connected);
        for slug in connected {
            let source = ws.source(slug).unwrap();
            let item = catalog().source(&source.catalog_slug).unwrap();
            assert_eq!(item.source_type, SourceType::Event, "{slug}");
        }
    }
}

#[test]
fn schema_configs_are_mostly_default_some_forwarding() {
    for ws in smalls() {
        let defaults = ws
            .sources
            .iter()
            .filter(|s| s.schema_config == SchemaConfig::default())
            .count();
        assert!(
            defaults * 2 > ws.sources.len(),
            "most sources keep the defaults"
        );
        let blocking = ws.sources.iter().filter(|s| {
            !s.schema_config.allow_unplanned_track_events
                || s.schema_config.common_track_event_on_violations
                    == crate::sim::workspace::ViolationAction::Block
        });
        assert!(blocking.count() >= 1);
        let mut blocked = false;
        let mut violations = false;
        for source in &ws.sources {
            let config = &source.schema_config;
            for target in [
                &config.forwarding_blocked_events_to,
                &config.forwarding_violations_to,
            ] {
                if !target.is_empty() {
                    assert_ne!(*target, source.slug);
                    assert!(ws.source(target).is_some(), "{target}");
                }
            }
            blocked |= !config.forwarding_blocked_events_to.is_empty();
            violations |= !config.forwarding_violations_to.is_empty();
        }
        assert!(blocked && violations);
    }
}
