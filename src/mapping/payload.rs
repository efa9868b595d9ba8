//! Payloads: one Public API request each, with explicit placeholders for what only exists at
//! apply time.
//!
//! A payload never holds a guessed id or a secret. Two JSON markers stand in for them, wherever
//! a string would go (a path parameter or any value of the body):
//!
//! - `{"$ref": {"kind": "sources", "config_name": "workspaces/ws/sources/js", "field": "id"}}`:
//!   the Public id (or, with `"field": "catalogId"`, the function catalog id) of the object that
//!   Config name became. The mapping writes the id itself instead when the [`IdMap`] it was given
//!   already knows it.
//! - `{"$secret": {"kind": "destinations", "config_name": "…", "setting": "apiKey",
//!   "state": "present"}}`: a secret setting value the apply step fills from the Config API at
//!   write time or from the operator's secrets file. `state` is `masked` when the export only saw
//!   a mask: then only the secrets file can fill it.
//!
//! Markers are JSON rather than a parallel typed structure so that a payload is one value the
//! ledger can store and a report can show; [`Payload::refs`] and [`Payload::secrets`] list them
//! typed, and [`Payload::resolve`] substitutes them (at apply time, in memory only).

use serde::Serialize;
use serde_json::{Value, json};

use super::IdMap;
use crate::model::Kind;

const REF_KEY: &str = "$ref";
const SECRET_KEY: &str = "$secret";

/// The key of a secret marker, quoted as it stands in a payload's JSON text.
pub const SECRET_MARKER_KEY: &str = "\"$secret\"";

/// Which id of the referenced object is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RefField {
    /// The object's Public id.
    #[serde(rename = "id")]
    Id,
    /// A function's catalog id: the `metadataId` of its instances.
    #[serde(rename = "catalogId")]
    CatalogId,
}

impl RefField {
    pub fn as_str(self) -> &'static str {
        match self {
            RefField::Id => "id",
            RefField::CatalogId => "catalogId",
        }
    }

    /// The field [`Self::as_str`] names; `None` for a name no reference uses.
    pub fn parse(name: &str) -> Option<RefField> {
        match name {
            "id" => Some(RefField::Id),
            "catalogId" => Some(RefField::CatalogId),
            _ => None,
        }
    }
}

/// A reference to the Public id of an object known by its Config name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Ref {
    pub kind: Kind,
    pub config_name: String,
    pub field: RefField,
}

impl Ref {
    pub fn id(kind: Kind, config_name: impl Into<String>) -> Ref {
        Ref {
            kind,
            config_name: config_name.into(),
            field: RefField::Id,
        }
    }

    fn to_marker(&self) -> Value {
        json!({ REF_KEY: {
            "kind": self.kind.as_str(),
            "config_name": self.config_name,
            "field": self.field.as_str(),
        }})
    }

    fn from_marker(value: &Value) -> Option<Ref> {
        let inner = value.as_object()?.get(REF_KEY)?;
        let field = RefField::parse(inner.get("field")?.as_str()?)?;
        Some(Ref {
            kind: inner.get("kind")?.as_str()?.parse().ok()?,
            config_name: inner.get("config_name")?.as_str()?.to_owned(),
            field,
        })
    }
}

/// Whether the export saw the secret in clear (so the Config API can give it again) or masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretState {
    Present,
    Masked,
}

/// A secret setting value the apply step must supply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SecretRef {
    pub kind: Kind,
    pub config_name: String,
    /// The setting's name in the Public API payload (and in the operator's secrets file).
    pub setting: String,
    /// Where the Config API object holds the value: the Config setting's own name, which a
    /// rename table may have changed on the way to `setting`.
    pub config_setting: String,
    pub state: SecretState,
}

impl SecretRef {
    pub fn to_marker(&self) -> Value {
        json!({ SECRET_KEY: {
            "kind": self.kind.as_str(),
            "config_name": self.config_name,
            "setting": self.setting,
            "config_setting": self.config_setting,
            "state": match self.state { SecretState::Present => "present", SecretState::Masked => "masked" },
        }})
    }

    fn from_marker(value: &Value) -> Option<SecretRef> {
        let inner = value.as_object()?.get(SECRET_KEY)?;
        let setting = inner.get("setting")?.as_str()?.to_owned();
        Some(SecretRef {
            kind: inner.get("kind")?.as_str()?.parse().ok()?,
            config_name: inner.get("config_name")?.as_str()?.to_owned(),
            // Markers of plans made before the field existed: the names were the same.
            config_setting: match inner.get("config_setting") {
                Some(name) => name.as_str()?.to_owned(),
                None => setting.clone(),
            },
            setting,
            state: match inner.get("state")?.as_str()? {
                "present" => SecretState::Present,
                "masked" => SecretState::Masked,
                _ => return None,
            },
        })
    }
}

/// The id when known, else a `$ref` marker.
pub fn id_or_ref(ids: &IdMap, reference: Ref) -> Value {
    match ids.get(&reference) {
        Some(id) => Value::String(id.to_owned()),
        None => reference.to_marker(),
    }
}

/// What a payload does, for ordering, reports and the planner's choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CreateSource,
    NameSource,
    CreateLabel,
    SetSourceLabels,
    UpdateSourceSchemaSettings,
    CreateTrackingPlan,
    ReplaceRules,
    UpsertRules,
    ConnectSourceToPlan,
    CreateFunction,
    DeployFunction,
    CreateDestination,
    CreateFilter,
    AddUserPermissions,
    InviteUser,
    /// Cut-over: the source starts accepting data (`apply --enable`).
    EnableSource,
    /// Cut-over: the destination starts receiving data, as it did in the source workspace.
    EnableDestination,
}

/// When the planner should send a payload. Most are always sent; IAM offers two alternatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Always,
    /// Only when a user with the subject's email exists in the target.
    TargetUserExists,
    /// Only when no user with that email exists in the target (the user is invited instead).
    TargetUserMissing,
}

/// Where the response of a create carries the new id, so the planner can record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Records {
    pub reference: Ref,
    /// A JSON pointer into the response body (`/data/source/id`).
    pub pointer: &'static str,
}

/// One Public API request, placeholders included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payload {
    pub step: Step,
    pub method: &'static str,
    /// The path template exactly as the Public API schema keys it (`/sources/{sourceId}`).
    pub path: &'static str,
    /// Values of the template's parameters: ids or `$ref` markers.
    pub path_params: Vec<(&'static str, Value)>,
    pub body: Option<Value>,
    pub when: Condition,
    /// The ids this request's answer carries.
    pub records: Vec<Records>,
}

/// A payload whose markers could not all be substituted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    #[error("no Public {} known for {} `{}`", .0.field.as_str(), .0.kind, .0.config_name)]
    Ref(Ref),
    #[error("secret `{}` of {} `{}` was not supplied", .0.setting, .0.kind, .0.config_name)]
    Secret(SecretRef),
}

/// A request ready to send: path filled, body with every marker substituted.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
}

impl Payload {
    pub fn new(step: Step, method: &'static str, path: &'static str) -> Payload {
        Payload {
            step,
            method,
            path,
            path_params: Vec::new(),
            body: None,
            when: Condition::Always,
            records: Vec::new(),
        }
    }

    pub fn param(mut self, name: &'static str, value: Value) -> Payload {
        self.path_params.push((name, value));
        self
    }

    pub fn body(mut self, body: Value) -> Payload {
        self.body = Some(body);
        self
    }

    pub fn when(mut self, when: Condition) -> Payload {
        self.when = when;
        self
    }

    pub fn records(mut self, reference: Ref, pointer: &'static str) -> Payload {
        self.records.push(Records { reference, pointer });
        self
    }

    /// The schema key of the operation (`POST /sources`).
    pub fn operation(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Every `$ref` still in the payload, in order of appearance.
    pub fn refs(&self) -> Vec<Ref> {
        let mut out = Vec::new();
        for (_, value) in &self.path_params {
            walk(value, &mut |v| {
                if let Some(r) = Ref::from_marker(v) {
                    out.push(r);
                }
            });
        }
        if let Some(body) = &self.body {
            walk(body, &mut |v| {
                if let Some(r) = Ref::from_marker(v) {
                    out.push(r);
                }
            });
        }
        out
    }

    /// Every `$secret` in the payload.
    pub fn secrets(&self) -> Vec<SecretRef> {
        let mut out = Vec::new();
        if let Some(body) = &self.body {
            walk(body, &mut |v| {
                if let Some(s) = SecretRef::from_marker(v) {
                    out.push(s);
                }
            });
        }
        out
    }

    /// The request with every marker substituted. Call it at apply time only: the result may
    /// hold secrets and must never be stored.
    pub fn resolve(
        &self,
        ids: &dyn Fn(&Ref) -> Option<String>,
        secrets: &dyn Fn(&SecretRef) -> Option<Value>,
    ) -> Result<Request, Unresolved> {
        let mut path = self.path.to_owned();
        for (name, value) in &self.path_params {
            let id = match Ref::from_marker(value) {
                Some(r) => ids(&r).ok_or(Unresolved::Ref(r))?,
                None => value.as_str().unwrap_or_default().to_owned(),
            };
            path = path.replace(&format!("{{{name}}}"), &encode_segment(&id));
        }
        let body = self
            .body
            .as_ref()
            .map(|b| {
                let mut body = b.clone();
                resolve_in_place(&mut body, ids, secrets).map(|()| body)
            })
            .transpose()?;
        Ok(Request {
            method: self.method,
            path,
            body,
        })
    }
}

/// The reference a JSON value stands for, when it is a `$ref` marker. For the executor, which
/// reads payloads back from the ledger as JSON.
pub fn ref_marker(value: &Value) -> Option<Ref> {
    Ref::from_marker(value)
}

/// The secret a JSON value stands for, when it is a `$secret` marker.
pub fn secret_marker(value: &Value) -> Option<SecretRef> {
    SecretRef::from_marker(value)
}

/// Every `$secret` marker in `value`.
pub fn secrets_in(value: &Value) -> Vec<SecretRef> {
    let mut out = Vec::new();
    walk(value, &mut |v| {
        if let Some(s) = SecretRef::from_marker(v) {
            out.push(s);
        }
    });
    out
}

/// Substitutes every marker of `value` where it stands: [`Payload::resolve`] for a payload
/// read back from the ledger as JSON. In place, because a payload's body can be large (a
/// tracking plan's rules) and `apply` has several in flight: a resolved copy beside the parsed
/// one doubled what each held. On an error `value` is left part resolved, to be dropped. The
/// result may hold secrets and must never be stored.
pub fn resolve_in_place(
    value: &mut Value,
    ids: &dyn Fn(&Ref) -> Option<String>,
    secrets: &dyn Fn(&SecretRef) -> Option<Value>,
) -> Result<(), Unresolved> {
    if let Some(r) = Ref::from_marker(value) {
        *value = Value::String(ids(&r).ok_or(Unresolved::Ref(r))?);
        return Ok(());
    }
    if let Some(s) = SecretRef::from_marker(value) {
        *value = secrets(&s).ok_or(Unresolved::Secret(s))?;
        return Ok(());
    }
    match value {
        Value::Array(items) => items
            .iter_mut()
            .try_for_each(|v| resolve_in_place(v, ids, secrets)),
        Value::Object(map) => map
            .values_mut()
            .try_for_each(|v| resolve_in_place(v, ids, secrets)),
        _ => Ok(()),
    }
}

/// Percent-encodes what cannot stand in a path segment (ids are opaque, so nothing is assumed).
fn encode_segment(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn walk(value: &Value, visit: &mut dyn FnMut(&Value)) {
    visit(value);
    match value {
        Value::Array(items) => items.iter().for_each(|v| walk(v, visit)),
        Value::Object(map) if !map.contains_key(REF_KEY) && !map.contains_key(SECRET_KEY) => {
            map.values().for_each(|v| walk(v, visit));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_read_back_from_its_name() {
        for field in [RefField::Id, RefField::CatalogId] {
            assert_eq!(RefField::parse(field.as_str()), Some(field));
        }
        assert_eq!(RefField::parse("name"), None);
    }

    #[test]
    fn markers_round_trip_and_resolve() {
        let source = Ref::id(Kind::Sources, "workspaces/ws/sources/js");
        let mut ids = IdMap::new();
        let secret = SecretRef {
            kind: Kind::Destinations,
            config_name: "d".into(),
            setting: "apiKey".into(),
            config_setting: "api_key".into(),
            state: SecretState::Present,
        };
        let payload = Payload::new(
            Step::CreateFilter,
            "POST",
            "/destination/{destinationId}/filters",
        )
        .param(
            "destinationId",
            id_or_ref(&ids, Ref::id(Kind::Destinations, "d")),
        )
        .body(json!({"sourceId": id_or_ref(&ids, source.clone()), "k": secret.to_marker()}));
        assert_eq!(payload.refs().len(), 2);
        assert_eq!(payload.secrets(), vec![secret.clone()]);
        let err = payload.resolve(&|_| None, &|_| None).unwrap_err();
        assert!(matches!(err, Unresolved::Ref(_)), "{err}");
        let request = payload
            .resolve(&|r| Some(format!("id-{}", r.kind)), &|_| {
                Some(json!("s3cr3t"))
            })
            .unwrap();
        assert_eq!(request.path, "/destination/id-destinations/filters");
        assert_eq!(
            request.body.unwrap(),
            json!({"sourceId": "id-sources", "k": "s3cr3t"})
        );

        ids.insert(source.clone(), "src-1");
        assert_eq!(id_or_ref(&ids, source), json!("src-1"));
    }
}
