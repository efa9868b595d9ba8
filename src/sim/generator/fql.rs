//! Random conditions in Segment's Filter Query Language, covering its grammar: comparisons
//! (`=`, `!=`, `<`, `<=`, `>`, `>=`), `in` lists and membership, `and`/`or`, negation `!`,
//! parentheses, the functions `contains`, `match`, `length`, `lowercase` and `typeof`, both
//! quote styles, and backslash-escaped field names.

use crate::sim::rng::Rng;

const EVENTS: &[&str] = &[
    "Order Completed",
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Signed Up",
    "Signed In",
    "Page Viewed",
    "Video Playback Started",
    "Women's Shoes Viewed",
    "Commande validée",
    "注文完了",
    "Test Event",
];
const TYPES: &[&str] = &["track", "page", "screen", "identify", "group", "alias"];
const NUMERIC_FIELDS: &[&str] = &[
    "properties.revenue",
    "properties.price",
    "properties.quantity",
    "properties.total",
    "properties.discount",
    "context.app.build",
];
/// (field, glob) pairs for `match`; field names with spaces are backslash-escaped.
const MATCHES: &[(&str, &str)] = &[
    ("context.page.path", "/checkout/*"),
    ("context.page.url", "*/beta/*"),
    ("traits.email", "*@example.com"),
    ("event", "Button *"),
    ("context.library.version", "2.*"),
    ("properties.plan\\ name", "Pro*"),
];
/// (field, value) pairs for `!=` on strings.
const EXCLUSIONS: &[(&str, &str)] = &[
    ("traits.plan", "free"),
    ("properties.category", "Café"),
    ("properties.order\\ id", ""),
    ("context.page.path", "/admin"),
    ("properties.plan\\ name", "n/a"),
];
const LIBRARIES: &[&str] = &[
    "analytics.js",
    "analytics-ios",
    "analytics-android",
    "analytics-node",
];
const FRAGMENTS: &[&str] = &[
    "test", "Test", "bot", "/admin", "staging", "qa+", "internal",
];
const TYPE_NAMES: &[&str] = &["string", "number", "bool", "list", "map", "null"];

/// A string literal in either quote style, choosing the one the text does not contain.
fn quoted(rng: &mut Rng, text: &str) -> String {
    if text.contains('\'') || (!text.contains('"') && rng.chance(0.3)) {
        format!("\"{text}\"")
    } else {
        format!("'{text}'")
    }
}

const COMPARISONS: &[&str] = &["<", "<=", ">", ">="];

fn comparison(rng: &mut Rng) -> &'static str {
    COMPARISONS[rng.below(COMPARISONS.len())]
}

fn atom(rng: &mut Rng) -> String {
    match rng.below(14) {
        0 => {
            let kind = *rng.pick(TYPES);
            format!("type = {}", quoted(rng, kind))
        }
        1 => {
            let event = *rng.pick(EVENTS);
            format!("event = {}", quoted(rng, event))
        }
        2 => {
            let event = *rng.pick(EVENTS);
            format!("event != {}", quoted(rng, event))
        }
        3 => {
            let field = *rng.pick(NUMERIC_FIELDS);
            let op = comparison(rng);
            format!("{field} {op} {}", rng.range(0, 500))
        }
        4 => {
            let items: Vec<String> = (0..rng.range(2, 4))
                .map(|_| {
                    let event = *rng.pick(EVENTS);
                    quoted(rng, event)
                })
                .collect();
            format!("event in [{}]", items.join(", "))
        }
        5 => {
            let feature = *rng.pick(&["beta", "dark-mode", "discounts"]);
            format!("{} in properties.features", quoted(rng, feature))
        }
        6 => {
            let field = *rng.pick(&["event", "context.page.url", "context.userAgent"]);
            let fragment = *rng.pick(FRAGMENTS);
            format!("contains( {field}, {} )", quoted(rng, fragment))
        }
        7 => {
            let (field, pattern) = *rng.pick(MATCHES);
            format!("match( {field}, {} )", quoted(rng, pattern))
        }
        8 => {
            let op = comparison(rng);
            format!("length( properties.products ) {op} {}", rng.range(1, 20))
        }
        9 => {
            let plan = *rng.pick(&["enterprise", "free", "pro", "équipe"]);
            format!("lowercase( traits.plan ) = {}", quoted(rng, plan))
        }
        10 => {
            let field = *rng.pick(NUMERIC_FIELDS);
            let op = *rng.pick(&["=", "!="]);
            let type_name = *rng.pick(TYPE_NAMES);
            format!("typeof( {field} ) {op} {}", quoted(rng, type_name))
        }
        11 => {
            let fragment = *rng.pick(FRAGMENTS);
            format!("!contains( context.userAgent, {} )", quoted(rng, fragment))
        }
        12 => {
            let library = *rng.pick(LIBRARIES);
            format!("context.library.name = {}", quoted(rng, library))
        }
        _ => {
            let (field, value) = *rng.pick(EXCLUSIONS);
            format!("{field} != {}", quoted(rng, value))
        }
    }
}

/// A condition of up to `depth` levels of `and`/`or` nesting.
pub(super) fn condition(rng: &mut Rng, depth: usize) -> String {
    if depth == 0 || rng.chance(0.3) {
        return atom(rng);
    }
    let left = operand(rng, depth - 1);
    let right = operand(rng, depth - 1);
    let joined = format!("{left} {} {right}", rng.pick(&["and", "or"]));
    if rng.chance(0.1) {
        format!("!( {joined} )")
    } else {
        joined
    }
}

/// A sub-condition, parenthesised when it combines others so precedence never decides.
fn operand(rng: &mut Rng, depth: usize) -> String {
    let inner = condition(rng, depth);
    if inner.contains(" and ") || inner.contains(" or ") {
        format!("( {inner} )")
    } else {
        inner
    }
}

/// A disjunction of parenthesised clauses at least `min_len` bytes long: real workspaces grow
/// such conditions one exception at a time, and they are what breaks naive length limits.
pub(super) fn long_condition(rng: &mut Rng, min_len: usize) -> String {
    let mut text = format!("( {} )", condition(rng, 2));
    while text.len() < min_len {
        text.push_str(" or ( ");
        text.push_str(&condition(rng, 2));
        text.push_str(" )");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parentheses and brackets balance outside string literals.
    fn balanced(text: &str) -> bool {
        let mut depth = 0i32;
        let mut quote = None;
        let mut escaped = false;
        for c in text.chars() {
            if std::mem::take(&mut escaped) {
                continue;
            }
            match (quote, c) {
                (None, '\\') => escaped = true,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(' | '[') => depth += 1,
                (None, ')' | ']') => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                return false;
            }
        }
        depth == 0 && quote.is_none()
    }

    #[test]
    fn conditions_are_well_formed() {
        let mut rng = Rng::new(11);
        for depth in 0..4 {
            for _ in 0..200 {
                let text = condition(&mut rng, depth);
                assert!(balanced(&text), "{text}");
            }
        }
        let long = long_condition(&mut rng, 1_100);
        assert!(long.len() >= 1_100 && balanced(&long), "{long}");
    }
}
