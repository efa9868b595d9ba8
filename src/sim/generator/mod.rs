//! The deterministic workspace generator that fills both simulators.
//!
//! [`generate`] turns a seed and explicit [`Counts`] into a [`Workspace`] that looks like a
//! real, long-lived Segment workspace: many source types, several destinations per source
//! (repeated instances of one integration, renamed integrations, secrets, nested settings),
//! filters written in the whole FQL grammar, tracking plans past the Config API's page size,
//! forwarding schema configurations, functions, and IAM including grants the Public API cannot
//! express. Every awkward case a migration must handle appears in every workspace from `small`
//! up, whatever the seed: the rare ones are placed deliberately on the first resources that
//! can take them, the common ones are frequent enough not to be missed.
//!
//! Invariants:
//! - Determinism: the output depends only on the seed, the counts and the catalog; never on
//!   the clock, the machine, or hash-map iteration order. All randomness comes from
//!   [`Rng`], forked per part and per item, so changing how one part
//!   draws leaves the others as they were.
//! - Uniqueness of every natural key: source slugs, destination slugs within a source, filter,
//!   plan, function, user, policy and invite ids, plan and function display names, user and
//!   invite emails (together), role ids and names. Role ids are the same for every seed,
//!   since roles are global in Segment.
//! - Order: timestamps satisfy workspace ≤ source ≤ destination creation ≤ update ≤ horizon.
//!
//! Preset sizes follow their uses ([`Counts::preset`]): `tiny` has a handful of each kind for
//! unit tests; `small`, the demo, has a few hundred resources, the fewest that hold every
//! variety; `medium` has a couple of thousand for end-to-end runs that finish in seconds;
//! `large` has over 10,000 besides tracking plan rules, where pagination, rate limits and
//! progress reporting dominate a migration.

mod clock;
mod counts;
mod destinations;
mod filters;
mod fql;
mod functions;
mod iam;
mod ids;
mod names;
mod schema_configs;
mod schemas;
mod settings;
mod sources;
mod tracking_plans;

#[cfg(test)]
mod tests;

pub use counts::{
    CountOverrides, Counts, CountsError, LARGE_PLAN_THRESHOLD, MAX_FILTERS_PER_DESTINATION, Preset,
    Span,
};
pub use iam::{BUILTIN_ROLES, role_id};
pub use ids::SECRET_PREFIX;

use crate::sim::catalog::Catalog;
use crate::sim::rng::{LOWER_ALNUM, Rng};
use crate::sim::workspace::Workspace;

use clock::{Clock, timestamp};
use iam::{Emails, Grantable};
use names::{COMPANIES, ENVIRONMENTS, pick, slugify};

/// Generates the workspace for `seed`. Pure: equal arguments give equal workspaces.
///
/// Counts that [`Counts::validate`] would reject are clamped rather than refused, so that a
/// caller building counts by hand still gets a workspace.
pub fn generate(seed: u64, counts: &Counts, catalog: &Catalog) -> Workspace {
    let root = Rng::new(seed);
    let mut identity = root.fork("workspace");
    let clock = Clock::new(&mut identity);
    let (company, company_stem) = pick(&mut identity, COMPANIES);
    let (environment, environment_stem) = pick(&mut identity, ENVIRONMENTS);
    let sep = if identity.chance(0.5) { '-' } else { '_' };
    let slug = slugify(&format!("{company_stem} {environment_stem}"), sep);
    let id = identity.string(LOWER_ALNUM, 10);
    let domain = format!("{company_stem}.com");

    let mut emails = Emails::default();
    let users = iam::users(
        &root.fork("users"),
        counts.users,
        &domain,
        &clock,
        &mut emails,
    );
    let functions = functions::functions(
        &root.fork("functions"),
        counts.source_functions,
        counts.destination_functions,
        &users,
        &clock,
    );
    let mut sources = sources::sources(&root.fork("sources"), counts, catalog, &functions, &clock);
    let mut tracking_plans =
        tracking_plans::tracking_plans(&root.fork("tracking-plans"), counts, &clock);
    tracking_plans::connect(
        &mut root.fork("connections"),
        &mut tracking_plans,
        &sources,
        catalog,
    );
    schema_configs::configure(
        &root.fork("schema-configs"),
        &mut sources,
        &tracking_plans,
        catalog,
    );

    let roles = iam::roles(counts.roles);
    let grantable = Grantable {
        roles: &roles,
        sources: &sources,
        plans: &tracking_plans,
    };
    let policies = iam::policies(
        &root.fork("policies"),
        &users,
        counts.policies_per_user,
        &grantable,
        &clock,
    );
    let invites = iam::invites(
        &root.fork("invites"),
        counts.invites,
        &domain,
        &grantable,
        &mut emails,
    );
    let access_tokens = iam::access_tokens(&root, counts.access_tokens, &clock);

    Workspace {
        slug,
        id,
        display_name: format!("{company}{environment}"),
        create_time: timestamp(clock.workspace_created),
        sources,
        tracking_plans,
        functions,
        roles,
        users,
        policies,
        invites,
        access_tokens,
    }
}
