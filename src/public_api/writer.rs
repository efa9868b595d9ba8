//! The only code that can send a write (POST, PUT, PATCH, DELETE) to the Public API.
//!
//! Dry-run is enforced here, at the write boundary. [`PublicWriter`] is the only type with
//! write methods, and the only way to make one is [`PublicWriter::new`], which consumes a
//! [`WriteAccess`]. A `WriteAccess` is granted by [`WriteAccess::grant`] for
//! [`ApplyMode::Live`] only: a dry run gets `None` and so has no writer to call, whatever its
//! code looks like. `plan` has no mode to pass and must never call `grant` (a test checks that
//! only this file and the apply command's code name it). This file is also the only one of the
//! client that names a write method: the write operations are defined here, and a test checks
//! the other sources of the module for those methods.
//!
//! Retries: every write operation says whether sending it twice is harmless ([`Replay::Safe`]:
//! full replacements such as `PUT …/labels`, `PUT …/rules`, `PUT …/permissions`; updates that
//! set fields to given values; connecting a source to a plan, which a source can have only one
//! of; deploying the same code again) or not ([`Replay::Never`]: every create). A create is
//! retried only after a failure that proves it was not applied (no connection, 429, 408);
//! after any other (a timeout, a reset, a 5xx, an answer cut off) the method returns
//! [`PublicApiError::Ambiguous`] and the executor looks the object up by its natural key
//! ([`super::lookup`]) before creating it again.
//!
//! Batches: tracking-plan rules go at most [`MAX_RULES_PER_REQUEST`] per request (the API's
//! limit) and at most [`MAX_RULES_BODY_BYTES`] per body (tracking-plan requests are capped at
//! about 2 MB); invites go [`MAX_INVITES_PER_REQUEST`] per request.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::operations::{MediaType, Operation};
use super::wire::{self, WireError};
use super::{Answer, Call, FunctionType, Key, PublicApiError, PublicClient, PublicObject};
use crate::http::Endpoint;
use crate::http::transport::Replay;

/// Rules per request: the API refuses more in one rules request.
pub const MAX_RULES_PER_REQUEST: usize = 200;

/// Bytes per rules body: tracking-plan requests are capped at "about 2 MB"; staying 10% under
/// leaves room for what "about" hides.
pub const MAX_RULES_BODY_BYTES: usize = 1_800_000;

/// Invites per `POST /invites`. The API documents no cap; fifty keeps bodies small and an
/// ambiguous batch cheap to reconcile (one list of invites), while the 60-per-minute limit of
/// the endpoint still lets 3,000 invitations through a minute.
pub const MAX_INVITES_PER_REQUEST: usize = 50;

/// Whether a run may change the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// `apply --dry-run`: everything but the writes.
    DryRun,
    /// `apply`, `migrate`.
    Live,
}

/// The capability to write to the target workspace. Not `Clone`: one grant makes one writer.
pub struct WriteAccess {
    _private: (),
}

impl fmt::Debug for WriteAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriteAccess")
    }
}

impl WriteAccess {
    /// The capability for a live run; nothing for a dry run.
    pub fn grant(mode: ApplyMode) -> Option<Self> {
        match mode {
            ApplyMode::Live => Some(Self { _private: () }),
            ApplyMode::DryRun => None,
        }
    }
}

/// A write operation and whether it may be sent twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOperation {
    pub operation: Operation,
    pub replay: Replay,
}

const fn write(
    id: &'static str,
    method: &'static str,
    template: &'static str,
    replay: Replay,
) -> WriteOperation {
    WriteOperation {
        operation: Operation {
            id,
            endpoint: Endpoint::new(method, template),
            media: MediaType::V1,
        },
        replay,
    }
}

use Replay::{Never, Safe};

pub const CREATE_SOURCE: WriteOperation = write("createSource", "POST", "/sources", Never);
pub const UPDATE_SOURCE: WriteOperation =
    write("updateSource", "PATCH", "/sources/{sourceId}", Safe);
pub const UPDATE_SCHEMA_SETTINGS_IN_SOURCE: WriteOperation = write(
    "updateSchemaSettingsInSource",
    "PATCH",
    "/sources/{sourceId}/settings",
    Safe,
);
pub const REPLACE_LABELS_IN_SOURCE: WriteOperation = write(
    "replaceLabelsInSource",
    "PUT",
    "/sources/{sourceId}/labels",
    Safe,
);
pub const CREATE_LABEL: WriteOperation = write("createLabel", "POST", "/labels", Never);
pub const CREATE_DESTINATION: WriteOperation =
    write("createDestination", "POST", "/destinations", Never);
pub const UPDATE_DESTINATION: WriteOperation = write(
    "updateDestination",
    "PATCH",
    "/destinations/{destinationId}",
    Safe,
);
pub const CREATE_FILTER_FOR_DESTINATION: WriteOperation = write(
    "createFilterForDestination",
    "POST",
    "/destination/{destinationId}/filters",
    Never,
);
pub const CREATE_TRACKING_PLAN: WriteOperation =
    write("createTrackingPlan", "POST", "/tracking-plans", Never);
pub const REPLACE_RULES_IN_TRACKING_PLAN: WriteOperation = write(
    "replaceRulesInTrackingPlan",
    "PUT",
    "/tracking-plans/{trackingPlanId}/rules",
    Safe,
);
pub const UPDATE_RULES_IN_TRACKING_PLAN: WriteOperation = write(
    "updateRulesInTrackingPlan",
    "PATCH",
    "/tracking-plans/{trackingPlanId}/rules",
    Safe,
);
pub const ADD_SOURCE_TO_TRACKING_PLAN: WriteOperation = write(
    "addSourceToTrackingPlan",
    "POST",
    "/tracking-plans/{trackingPlanId}/sources",
    Safe,
);
pub const CREATE_FUNCTION: WriteOperation = write("createFunction", "POST", "/functions", Never);
pub const CREATE_FUNCTION_DEPLOYMENT: WriteOperation = write(
    "createFunctionDeployment",
    "POST",
    "/functions/{functionId}/deploy",
    Safe,
);
pub const CREATE_INVITES: WriteOperation = write("createInvites", "POST", "/invites", Never);
/// Adds to what the user may do in the target; adding a permission the user has changes
/// nothing, so a second copy is harmless.
pub const ADD_PERMISSIONS_TO_USER: WriteOperation = write(
    "addPermissionsToUser",
    "POST",
    "/users/{userId}/permissions",
    Safe,
);
pub const REPLACE_PERMISSIONS_FOR_USER: WriteOperation = write(
    "replacePermissionsForUser",
    "PUT",
    "/users/{userId}/permissions",
    Safe,
);

/// Every write operation, for tests that hold the table to the API's schema.
pub const WRITES: &[WriteOperation] = &[
    CREATE_SOURCE,
    UPDATE_SOURCE,
    UPDATE_SCHEMA_SETTINGS_IN_SOURCE,
    REPLACE_LABELS_IN_SOURCE,
    CREATE_LABEL,
    CREATE_DESTINATION,
    UPDATE_DESTINATION,
    CREATE_FILTER_FOR_DESTINATION,
    CREATE_TRACKING_PLAN,
    REPLACE_RULES_IN_TRACKING_PLAN,
    UPDATE_RULES_IN_TRACKING_PLAN,
    ADD_SOURCE_TO_TRACKING_PLAN,
    CREATE_FUNCTION,
    CREATE_FUNCTION_DEPLOYMENT,
    CREATE_INVITES,
    ADD_PERMISSIONS_TO_USER,
    REPLACE_PERMISSIONS_FOR_USER,
];

/// Instance settings of a source or destination. They hold secrets, so `Debug` shows the
/// setting names only.
#[derive(Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Settings(pub Map<String, Value>);

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// `POST /sources` (v1: no name; set it with [`PublicWriter::update_source`]).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSource {
    pub slug: String,
    pub metadata_id: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
}

/// `PATCH /sources/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
}

/// A label, as created and as attached to a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub key: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /destinations`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewDestination {
    pub source_id: String,
    pub metadata_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sent explicitly: the API's default is undocumented. A migration creates destinations
    /// disabled and enables them at cut-over.
    pub enabled: bool,
    pub settings: Settings,
}

/// `PATCH /destinations/{id}`: only the fields given change.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
}

/// `POST /destination/{id}/filters`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewFilter {
    pub source_id: String,
    /// The FQL condition (`if`).
    #[serde(rename = "if")]
    pub condition: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub enabled: bool,
    /// `[{"type": "DROP"}, {"type": "SAMPLE", "percent": 0.5}, …]`.
    pub actions: Vec<Value>,
}

/// `POST /tracking-plans`.
#[derive(Debug, Clone, Serialize)]
pub struct NewTrackingPlan {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `LIVE` for an ordinary plan.
    #[serde(rename = "type")]
    pub plan_type: String,
}

/// `POST /functions`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewFunction {
    pub code: String,
    /// Setting definitions (`name`, `label`, `description`, `type`, `required`, `sensitive`),
    /// not values.
    pub settings: Vec<Value>,
    /// Destination functions are stored with ` (<workspace name>)` appended.
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    #[serde(serialize_with = "function_type")]
    pub resource_type: FunctionType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn function_type<S: serde::Serializer>(value: &FunctionType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.as_str())
}

/// What a rules write sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RulesWritten {
    pub requests: usize,
    pub rules: usize,
}

/// Splits `rules` into runs of at most [`MAX_RULES_PER_REQUEST`] whose bodies stay under
/// [`MAX_RULES_BODY_BYTES`]; the index and size of a rule too large to send alone otherwise.
fn rule_batches(rules: &[Value]) -> Result<Vec<&[Value]>, (usize, usize)> {
    // `{"rules":[` and `]}`.
    const ENVELOPE: usize = 12;
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, ENVELOPE);
    for (index, rule) in rules.iter().enumerate() {
        let size = serde_json::to_vec(rule).map_or(0, |v| v.len()) + 1;
        if ENVELOPE + size > MAX_RULES_BODY_BYTES {
            return Err((index, size));
        }
        if index - start == MAX_RULES_PER_REQUEST || bytes + size > MAX_RULES_BODY_BYTES {
            batches.push(&rules[start..index]);
            (start, bytes) = (index, ENVELOPE);
        }
        bytes += size;
    }
    if start < rules.len() {
        batches.push(&rules[start..]);
    }
    Ok(batches)
}

fn to_value(input: &impl Serialize) -> Value {
    serde_json::to_value(input).expect("write inputs serialize to JSON")
}

/// Writes to the target workspace. Cheap to clone; every clone shares the client's buckets.
#[derive(Debug, Clone)]
pub struct PublicWriter {
    client: PublicClient,
}

impl PublicWriter {
    /// The writer of a live run.
    pub fn new(client: PublicClient, access: WriteAccess) -> Self {
        let WriteAccess { _private: () } = access;
        Self { client }
    }

    /// The read client underneath, for the natural-key lookups.
    pub fn client(&self) -> &PublicClient {
        &self.client
    }

    async fn send(
        &self,
        write: WriteOperation,
        segments: &[&str],
        query: &[(&'static str, String)],
        body: Option<&Value>,
    ) -> Result<Map<String, Value>, PublicApiError> {
        let json = body.map(|value| serde_json::to_vec(value).expect("a JSON value serializes"));
        self.send_json(write, segments, query, json.as_deref())
            .await
    }

    /// [`Self::send`] with a body already serialized (`json`, JSON text).
    async fn send_json(
        &self,
        write: WriteOperation,
        segments: &[&str],
        query: &[(&'static str, String)],
        json: Option<&[u8]>,
    ) -> Result<Map<String, Value>, PublicApiError> {
        self.client
            .execute(Call {
                operation: write.operation,
                segments,
                query,
                body: json,
                replay: write.replay,
            })
            .await
    }

    /// Sends and names the object under `item` of the answer.
    async fn object(
        &self,
        write: WriteOperation,
        segments: &[&str],
        body: &Value,
        item: &str,
        key: Key,
    ) -> Result<PublicObject, PublicApiError> {
        let mut data = self.send(write, segments, &[], Some(body)).await?;
        wire::object(&mut data, item)
            .and_then(|body| {
                Ok(PublicObject {
                    id: key.name(&body)?,
                    body,
                })
            })
            .map_err(|e| decode(write, segments, e))
    }

    // Sources and labels.

    /// `POST /sources`. Ambiguous after an unknown outcome: look it up by slug.
    pub async fn create_source(&self, source: &NewSource) -> Result<PublicObject, PublicApiError> {
        self.object(
            CREATE_SOURCE,
            &["sources"],
            &to_value(source),
            "source",
            Key::Id,
        )
        .await
    }

    /// `PATCH /sources/{id}`: the name (which v1 creates cannot set), enabled, settings.
    pub async fn update_source(
        &self,
        source_id: &str,
        update: &SourceUpdate,
    ) -> Result<PublicObject, PublicApiError> {
        self.object(
            UPDATE_SOURCE,
            &["sources", source_id],
            &to_value(update),
            "source",
            Key::Id,
        )
        .await
    }

    /// `PATCH /sources/{id}/settings`: the schema (Protocols) settings, `{track, identify,
    /// group, forwardingViolationsTo?, forwardingBlockedEventsTo?}`; omit a forwarding field to
    /// forward nowhere. Returns `{sourceId, settings}`, named by the source id.
    pub async fn update_schema_settings(
        &self,
        source_id: &str,
        settings: &Value,
    ) -> Result<PublicObject, PublicApiError> {
        let segments = ["sources", source_id, "settings"];
        let data = self
            .send(
                UPDATE_SCHEMA_SETTINGS_IN_SOURCE,
                &segments,
                &[],
                Some(settings),
            )
            .await?;
        let body = Value::Object(data);
        Key::Field("sourceId")
            .name(&body)
            .map(|id| PublicObject { id, body })
            .map_err(|e| decode(UPDATE_SCHEMA_SETTINGS_IN_SOURCE, &segments, e))
    }

    /// `PUT /sources/{id}/labels`: exactly these labels on the source (they must exist; see
    /// [`Self::create_label`]). Returns the labels now on the source, named `key:value`.
    pub async fn replace_source_labels(
        &self,
        source_id: &str,
        labels: &[Label],
    ) -> Result<Vec<PublicObject>, PublicApiError> {
        let segments = ["sources", source_id, "labels"];
        let body = json!({ "labels": labels });
        let mut data = self
            .send(REPLACE_LABELS_IN_SOURCE, &segments, &[], Some(&body))
            .await?;
        wire::list(&mut data, "labels")
            .and_then(|items| {
                items
                    .into_iter()
                    .map(|body| {
                        Ok(PublicObject {
                            id: Key::Label.name(&body)?,
                            body,
                        })
                    })
                    .collect()
            })
            .map_err(|e| decode(REPLACE_LABELS_IN_SOURCE, &segments, e))
    }

    /// `POST /labels` (60 per minute). Ambiguous after an unknown outcome: look it up by key
    /// and value.
    pub async fn create_label(&self, label: &Label) -> Result<PublicObject, PublicApiError> {
        let body = json!({ "label": label });
        self.object(CREATE_LABEL, &["labels"], &body, "label", Key::Label)
            .await
    }

    // Destinations and filters.

    /// `POST /destinations`. Ambiguous after an unknown outcome: look it up by source,
    /// metadata id and name.
    pub async fn create_destination(
        &self,
        destination: &NewDestination,
    ) -> Result<PublicObject, PublicApiError> {
        self.object(
            CREATE_DESTINATION,
            &["destinations"],
            &to_value(destination),
            "destination",
            Key::Id,
        )
        .await
    }

    /// `PATCH /destinations/{id}`.
    pub async fn update_destination(
        &self,
        destination_id: &str,
        update: &DestinationUpdate,
    ) -> Result<PublicObject, PublicApiError> {
        self.object(
            UPDATE_DESTINATION,
            &["destinations", destination_id],
            &to_value(update),
            "destination",
            Key::Id,
        )
        .await
    }

    /// Turns a destination on (or off) at cut-over.
    pub async fn set_destination_enabled(
        &self,
        destination_id: &str,
        enabled: bool,
    ) -> Result<PublicObject, PublicApiError> {
        let update = DestinationUpdate {
            enabled: Some(enabled),
            ..DestinationUpdate::default()
        };
        self.update_destination(destination_id, &update).await
    }

    /// `POST /destination/{id}/filters`. Ambiguous after an unknown outcome: look it up by
    /// destination, title and condition.
    pub async fn create_filter(
        &self,
        destination_id: &str,
        filter: &NewFilter,
    ) -> Result<PublicObject, PublicApiError> {
        self.object(
            CREATE_FILTER_FOR_DESTINATION,
            &["destination", destination_id, "filters"],
            &to_value(filter),
            "filter",
            Key::Id,
        )
        .await
    }

    // Tracking plans.

    /// `POST /tracking-plans`. Ambiguous after an unknown outcome: look it up by name.
    pub async fn create_tracking_plan(
        &self,
        plan: &NewTrackingPlan,
    ) -> Result<PublicObject, PublicApiError> {
        self.object(
            CREATE_TRACKING_PLAN,
            &["tracking-plans"],
            &to_value(plan),
            "trackingPlan",
            Key::Id,
        )
        .await
    }

    /// Makes `rules` (`[{type, key?, jsonSchema, version}]`) the plan's rules: one
    /// `PUT …/rules` with the first batch (replacing whatever was there), then `PATCH …/rules`
    /// upserts of the rest. Every request is safe to repeat, and a run interrupted part-way
    /// converges when the whole call is made again (the `PUT` starts over).
    pub async fn replace_rules(
        &self,
        plan_id: &str,
        rules: &[Value],
    ) -> Result<RulesWritten, PublicApiError> {
        let batches = rule_batches(rules)
            .map_err(|too_big| too_large(REPLACE_RULES_IN_TRACKING_PLAN, plan_id, too_big))?;
        let segments = ["tracking-plans", plan_id, "rules"];
        let mut written = RulesWritten {
            requests: 0,
            rules: 0,
        };
        let empty: &[Value] = &[];
        let first = batches.first().copied().unwrap_or(empty);
        let body = json!({ "rules": first });
        self.send(REPLACE_RULES_IN_TRACKING_PLAN, &segments, &[], Some(&body))
            .await?;
        written.requests += 1;
        written.rules += first.len();
        for batch in batches.iter().skip(1) {
            let body = json!({ "rules": batch });
            self.send(UPDATE_RULES_IN_TRACKING_PLAN, &segments, &[], Some(&body))
                .await?;
            written.requests += 1;
            written.rules += batch.len();
        }
        Ok(written)
    }

    /// `PATCH …/rules` in batches: adds or updates `rules` by (type, key, version), leaving the
    /// plan's other rules alone.
    pub async fn upsert_rules(
        &self,
        plan_id: &str,
        rules: &[Value],
    ) -> Result<RulesWritten, PublicApiError> {
        let batches = rule_batches(rules)
            .map_err(|too_big| too_large(UPDATE_RULES_IN_TRACKING_PLAN, plan_id, too_big))?;
        let segments = ["tracking-plans", plan_id, "rules"];
        let mut written = RulesWritten {
            requests: 0,
            rules: 0,
        };
        for batch in batches {
            let body = json!({ "rules": batch });
            self.send(UPDATE_RULES_IN_TRACKING_PLAN, &segments, &[], Some(&body))
                .await?;
            written.requests += 1;
            written.rules += batch.len();
        }
        Ok(written)
    }

    /// `POST /tracking-plans/{id}/sources`. A source has at most one plan, so repeating this
    /// cannot duplicate anything; it is retried like a read.
    pub async fn add_source_to_tracking_plan(
        &self,
        plan_id: &str,
        source_id: &str,
    ) -> Result<(), PublicApiError> {
        let body = json!({ "sourceId": source_id });
        self.send(
            ADD_SOURCE_TO_TRACKING_PLAN,
            &["tracking-plans", plan_id, "sources"],
            &[],
            Some(&body),
        )
        .await
        .map(drop)
    }

    // Functions.

    /// `POST /functions`. Ambiguous after an unknown outcome: look it up by display name.
    pub async fn create_function(
        &self,
        function: &NewFunction,
    ) -> Result<PublicObject, PublicApiError> {
        self.object(
            CREATE_FUNCTION,
            &["functions"],
            &to_value(function),
            "function",
            Key::Id,
        )
        .await
    }

    /// `POST /functions/{id}/deploy` (source functions). Returns `functionDeployment`
    /// (`{"status": "SUCCESS"}`).
    pub async fn deploy_function(&self, function_id: &str) -> Result<Value, PublicApiError> {
        let segments = ["functions", function_id, "deploy"];
        let mut data = self
            .send(CREATE_FUNCTION_DEPLOYMENT, &segments, &[], None)
            .await?;
        wire::object(&mut data, "functionDeployment")
            .map_err(|e| decode(CREATE_FUNCTION_DEPLOYMENT, &segments, e))
    }

    // IAM.

    /// `POST /invites` in batches of [`MAX_INVITES_PER_REQUEST`] (60 requests per minute):
    /// `invites` are `[{email, permissions?}]`. Returns the emails the API reports invited.
    /// On an error, the batches before it have been applied; an ambiguous batch may have been:
    /// look the emails up with [`PublicClient::find_invite`] before inviting them again.
    pub async fn create_invites(&self, invites: &[Value]) -> Result<Vec<String>, PublicApiError> {
        let mut emails = Vec::new();
        for batch in invites.chunks(MAX_INVITES_PER_REQUEST) {
            let body = json!({ "invites": batch });
            let mut data = self
                .send(CREATE_INVITES, &["invites"], &[], Some(&body))
                .await?;
            let listed = wire::list(&mut data, "emails")
                .map_err(|e| decode(CREATE_INVITES, &["invites"], e))?;
            emails.extend(listed.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Ok(emails)
    }

    /// `PUT /users/{id}/permissions` (60 per minute): exactly these grants,
    /// `[{roleId, resources: [{id, type, labels?}]}]`. Returns the user's permissions.
    pub async fn replace_user_permissions(
        &self,
        user_id: &str,
        permissions: &[Value],
    ) -> Result<Vec<Value>, PublicApiError> {
        let segments = ["users", user_id, "permissions"];
        let body = json!({ "permissions": permissions });
        let mut data = self
            .send(REPLACE_PERMISSIONS_FOR_USER, &segments, &[], Some(&body))
            .await?;
        wire::list(&mut data, "permissions")
            .map_err(|e| decode(REPLACE_PERMISSIONS_FOR_USER, &segments, e))
    }
}

/// The write operation a stored plan payload names by method and path template, if it is one
/// of [`WRITES`]. The executor sends stored payloads through [`PublicWriter::send_planned`], so
/// this table stays the one list of what segbridge may write.
pub fn planned_operation(method: &str, template: &str) -> Option<WriteOperation> {
    WRITES.iter().copied().find(|w| {
        w.operation.endpoint.method == method && w.operation.endpoint.template == template
    })
}

impl PublicWriter {
    /// Sends a planned request: `write` with its template's `{name}` segments filled from
    /// `params`, and `json` (the body as JSON text) as it is. Returns the answer, kept as text
    /// to read the ids it carries from. A create fails with [`PublicApiError::Ambiguous`] when it
    /// may have been applied, like the typed methods.
    pub async fn send_planned(
        &self,
        write: WriteOperation,
        params: &[(String, String)],
        json: Option<&[u8]>,
    ) -> Result<Answer, PublicApiError> {
        let segments: Vec<&str> = write
            .operation
            .endpoint
            .template
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|segment| {
                segment
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .map_or(segment, |name| {
                        params
                            .iter()
                            .find(|(n, _)| n == name)
                            // A missing parameter becomes an empty segment, which `execute`
                            // refuses as `InvalidSegment` rather than sending a wrong path.
                            .map_or("", |(_, v)| v.as_str())
                    })
            })
            .collect();
        self.client
            .execute_answer(Call {
                operation: write.operation,
                segments: &segments,
                query: &[],
                body: json,
                replay: write.replay,
            })
            .await
    }
}

/// The refusal of a rule too large to send, from [`rule_batches`]' index and size.
fn too_large(
    write: WriteOperation,
    plan_id: &str,
    (index, bytes): (usize, usize),
) -> PublicApiError {
    PublicApiError::TooLarge {
        operation: write.operation,
        resource: format!("tracking-plans/{plan_id}/rules"),
        what: format!("rule {index}"),
        bytes,
        limit: MAX_RULES_BODY_BYTES,
    }
}

fn decode(write: WriteOperation, segments: &[&str], source: WireError) -> PublicApiError {
    PublicApiError::Decode {
        operation: write.operation,
        resource: segments.join("/"),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_live_run_is_granted_access() {
        assert!(WriteAccess::grant(ApplyMode::DryRun).is_none());
        assert!(WriteAccess::grant(ApplyMode::Live).is_some());
    }

    #[test]
    fn creates_are_never_replayed_and_replacements_are() {
        for write in WRITES {
            let create = write.operation.id.starts_with("create")
                && write.operation.id != "createFunctionDeployment";
            assert_eq!(write.replay == Replay::Never, create, "{}", write.operation);
        }
    }

    #[test]
    fn rules_are_batched_by_count_and_by_size() {
        let small: Vec<Value> = (0..450)
            .map(|i| json!({"type": "TRACK", "key": format!("e{i}"), "version": 1, "jsonSchema": {}}))
            .collect();
        let batches = rule_batches(&small).unwrap();
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [200, 200, 50]
        );
        let big: Vec<Value> = (0..5)
            .map(|i| {
                json!({"type": "TRACK", "key": format!("e{i}"), "version": 1,
                            "jsonSchema": {"description": "x".repeat(700_000)}})
            })
            .collect();
        let batches = rule_batches(&big).unwrap();
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        let huge = [json!({"jsonSchema": {"description": "x".repeat(2_000_000)}})];
        assert!(matches!(rule_batches(&huge), Err((0, _))));
        assert!(rule_batches(&[]).unwrap().is_empty());
    }

    #[test]
    fn settings_show_their_names_only() {
        let mut map = Map::new();
        map.insert("apiKey".into(), json!("hunter2"));
        let destination = NewDestination {
            source_id: "s".into(),
            metadata_id: "m".into(),
            name: None,
            enabled: false,
            settings: Settings(map),
        };
        let shown = format!("{destination:?}");
        assert!(
            shown.contains("apiKey") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert_eq!(
            to_value(&destination),
            json!({"sourceId": "s", "metadataId": "m", "enabled": false, "settings": {"apiKey": "hunter2"}})
        );
    }
}
