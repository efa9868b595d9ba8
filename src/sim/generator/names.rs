//! Human-facing names: unique claims, slugs, and the pools names are drawn from.
//!
//! Pools pair a display form (often non-ASCII, since real workspaces are multilingual and a
//! migration must carry names byte for byte) with an ASCII stem for slugs and emails.

use std::collections::HashSet;

use crate::sim::rng::Rng;

/// A (display, ASCII stem) pair.
pub(super) type Named = (&'static str, &'static str);

/// Hands out names that are unique within one namespace by suffixing `{sep}2`, `{sep}3`, ….
#[derive(Debug, Default)]
pub(super) struct Unique {
    taken: HashSet<String>,
}

impl Unique {
    pub fn claim(&mut self, base: &str, sep: &str) -> String {
        let mut candidate = base.to_owned();
        let mut n = 2;
        while self.taken.contains(&candidate) {
            candidate = format!("{base}{sep}{n}");
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }

    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
    }

    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.to_owned());
    }
}

/// Lower-case ASCII letters and digits joined by `sep`: safe in URLs and in the Config API's
/// resource names. Non-ASCII characters are dropped, which is why pools carry ASCII stems.
pub(super) fn slugify(text: &str, sep: char) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with(sep) {
            slug.push(sep);
        }
    }
    while slug.ends_with(sep) {
        slug.pop();
    }
    slug
}

pub(super) fn pick<'a>(rng: &mut Rng, pool: &'a [Named]) -> &'a Named {
    rng.pick(pool)
}

pub(super) const COMPANIES: &[Named] = &[
    ("Acme Corp", "acme"),
    ("Globex", "globex"),
    ("Initech", "initech"),
    ("Café Olé", "cafe-ole"),
    ("Bäckerei Müller", "baeckerei-mueller"),
    ("東京ラーメン", "tokyo-ramen"),
    ("Zürich Bikes", "zurich-bikes"),
    ("Ωmega Labs", "omega-labs"),
    ("Piña Colada Co.", "pina-colada"),
    ("🚀 Rocket Retail", "rocket-retail"),
    ("Smörgåsbord AB", "smorgasbord"),
    ("Northwind Traders", "northwind"),
    ("Umbrella Health", "umbrella-health"),
    ("Hooli", "hooli"),
];

/// Product names with non-ASCII characters, as in "Café Web" or "東京 iOS".
pub(super) const INTERNATIONAL_PRODUCTS: &[Named] = &[
    ("Café", "cafe"),
    ("東京", "tokyo"),
    ("München", "muenchen"),
    ("São Paulo", "sao-paulo"),
    ("🚀 Launchpad", "launchpad"),
    ("Ωmega", "omega"),
    ("Kraków", "krakow"),
    ("Crème Brûlée", "creme-brulee"),
    ("🛒 Shop", "shop"),
];

pub(super) const PLAIN_PRODUCTS: &[Named] = &[
    ("Storefront", "storefront"),
    ("Checkout", "checkout"),
    ("Marketing Site", "marketing-site"),
    ("Docs", "docs"),
    ("Blog", "blog"),
    ("Partner Portal", "partner-portal"),
    ("Admin Console", "admin-console"),
    ("Loyalty", "loyalty"),
    ("Support Center", "support"),
    ("Billing", "billing"),
    ("Growth", "growth"),
    ("Main", "main"),
    ("Consumer", "consumer"),
    ("Merchant", "merchant"),
    ("Driver", "driver"),
    ("Rider", "rider"),
    ("Kiosk", "kiosk"),
    ("Legacy", "legacy"),
    ("Beta", "beta"),
];

pub(super) const ENVIRONMENTS: &[Named] = &[
    ("", ""),
    ("", ""),
    ("", ""),
    (" Prod", "prod"),
    (" Production", "production"),
    (" Staging", "staging"),
    (" Dev", "dev"),
    (" QA", "qa"),
    (" (EU)", "eu"),
];

pub(super) const FIRST_NAMES: &[Named] = &[
    ("Alice", "alice"),
    ("Bob", "bob"),
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("Chloé", "chloe"),
    ("Mateo", "mateo"),
    ("Priya", "priya"),
    ("Wei", "wei"),
    ("Olumide", "olumide"),
    ("Ingrid", "ingrid"),
    ("François", "francois"),
    ("Ayşe", "ayse"),
    ("Dmitri", "dmitri"),
    ("Fatima", "fatima"),
    ("Grace", "grace"),
    ("Hiroshi", "hiroshi"),
];

pub(super) const LAST_NAMES: &[Named] = &[
    ("Smith", "smith"),
    ("Müller", "mueller"),
    ("García", "garcia"),
    ("O'Brien", "obrien"),
    ("Nakamura", "nakamura"),
    ("Kowalski", "kowalski"),
    ("Ångström", "angstrom"),
    ("Dubois", "dubois"),
    ("Okafor", "okafor"),
    ("Rossi", "rossi"),
    ("Øvergaard", "overgaard"),
    ("van der Berg", "vanderberg"),
    ("Nguyễn", "nguyen"),
    ("Patel", "patel"),
];

/// Names written family name first, without a Latin form: the whole display name is fixed.
pub(super) const FULL_NAMES: &[Named] = &[
    ("山田 太郎", "taro.yamada"),
    ("鈴木 花子", "hanako.suzuki"),
    ("김민준", "minjun.kim"),
    ("Ξένια Παπαδοπούλου", "xenia.papadopoulou"),
    ("Анна Иванова", "anna.ivanova"),
    ("محمد علي", "mohamed.ali"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_and_url_safe() {
        assert_eq!(slugify("Café Web (EU)", '-'), "caf-web-eu");
        assert_eq!(slugify("  Node.js  Backend ", '_'), "node_js_backend");
        assert_eq!(slugify("東京", '-'), "");
    }

    #[test]
    fn claims_suffix_repeated_names() {
        let mut unique = Unique::default();
        assert_eq!(unique.claim("web", "-"), "web");
        assert_eq!(unique.claim("web", "-"), "web-2");
        assert_eq!(unique.claim("web", "-"), "web-3");
        assert!(unique.contains("web-2"));
    }

    #[test]
    fn stems_are_already_slugs() {
        let products = INTERNATIONAL_PRODUCTS.iter().chain(PLAIN_PRODUCTS);
        for (_, stem) in COMPANIES.iter().chain(products).chain(ENVIRONMENTS) {
            assert_eq!(slugify(stem, '-'), *stem);
        }
    }
}
