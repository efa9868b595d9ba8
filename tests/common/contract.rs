//! Holds Public simulator answers to the trimmed official schema (`data/public-api.schema.json`,
//! derived from the 73.2.0 document by `scripts/derive_public_schema.py`) with an independent
//! JSON Schema validator, and records which operation answered which status, so a test can
//! prove that every operation was exercised.
//!
//! An answer is checked against `operations[op].responses[status][media type]`; statuses the
//! schema does not declare for any operation (401, 406, 413, 415) are held to the error envelope
//! every declared error uses (`RequestErrorEnvelope`). Beyond the schema (whose envelopes do not
//! require `data`), success bodies must be `{"data": …}` and error bodies `{"errors": [...]}`,
//! never both.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use jsonschema::Validator;
use serde_json::{Value, json};

use super::{PUBLIC_TOKEN, Reply, public_send};

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/public-api.schema.json");

pub struct Contract {
    pub doc: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
    /// operation → statuses seen.
    pub covered: Mutex<BTreeMap<String, BTreeSet<u16>>>,
}

impl Contract {
    pub fn load() -> &'static Contract {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| Contract {
            doc: serde_json::from_str(&std::fs::read_to_string(SCHEMA_PATH).unwrap()).unwrap(),
            validators: Mutex::new(HashMap::new()),
            covered: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn operations(&self) -> Vec<String> {
        self.doc["operations"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// A validator for one schema node of the document (a `$ref` or an inline schema).
    fn validator(&self, schema: &Value) -> Arc<Validator> {
        let key = schema.to_string();
        let mut cache = self.validators.lock().unwrap();
        if let Some(v) = cache.get(&key) {
            return v.clone();
        }
        let mut root = schema.clone();
        root.as_object_mut()
            .unwrap()
            .insert("components".into(), self.doc["components"].clone());
        let validator = Arc::new(
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema does not compile: {e}")),
        );
        cache.insert(key, validator.clone());
        validator
    }

    /// The errors of `value` against `schema`, as text.
    pub fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        self.validator(schema)
            .iter_errors(value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// The request body schema of an operation for a media type.
    pub fn request_schema(&self, op: &str, media: &str) -> Value {
        self.doc["operations"][op]["requestBody"]["content"][media].clone()
    }

    /// Checks an answer of `op` and records its status.
    pub fn check(&self, op: &str, reply: &Reply) {
        let status = reply.status.as_u16();
        let operation = &self.doc["operations"][op];
        assert!(operation.is_object(), "unknown operation {op}");
        let media = reply
            .headers
            .get("content-type")
            .map(|v| {
                v.to_str()
                    .unwrap()
                    .split(';')
                    .next()
                    .unwrap()
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default();
        let body = reply.json();
        let schema = match operation["responses"].get(status.to_string()) {
            Some(by_media) => by_media
                .get(&media)
                .unwrap_or_else(|| {
                    panic!(
                        "{op} {status}: media type `{media}` not declared: {}",
                        reply.text
                    )
                })
                .clone(),
            None => {
                assert!(
                    [401, 406, 413, 415].contains(&status),
                    "{op} answered undeclared {status}: {}",
                    reply.text
                );
                assert_eq!(media, "application/json", "{op} {status}");
                json!({"$ref": "#/components/schemas/RequestErrorEnvelope"})
            }
        };
        let errors = self.errors(&schema, &body);
        assert!(
            errors.is_empty(),
            "{op} {status} ({media}) breaks the schema: {errors:#?}\n{}",
            reply.text
        );
        if reply.status.is_success() {
            assert!(
                body.get("data").is_some() && body.get("errors").is_none(),
                "{op}: {body}"
            );
        } else {
            let errors = body["errors"].as_array().expect("errors array");
            assert!(
                !errors.is_empty() && body.get("data").is_none(),
                "{op}: {body}"
            );
            for error in errors {
                assert!(
                    error["type"].is_string() && error["message"].is_string(),
                    "{body}"
                );
            }
        }
        self.covered
            .lock()
            .unwrap()
            .entry(op.to_owned())
            .or_default()
            .insert(status);
    }
}

/// A client of one in-process Public simulator that checks every answer against the contract.
pub struct Api {
    pub app: Router,
    pub contract: &'static Contract,
    pub accept: Option<&'static str>,
    /// Every body received, to prove secrets never leave the simulator.
    pub seen: Mutex<String>,
}

impl Api {
    pub fn new(app: Router) -> Self {
        Self {
            app,
            contract: Contract::load(),
            accept: None,
            seen: Mutex::new(String::new()),
        }
    }

    /// `op` is the operation key (`"GET /sources/{sourceId}"`), `uri` the concrete request.
    pub async fn call(&self, op: &str, uri: &str, body: Option<Value>) -> Reply {
        self.call_as(op, uri, body, self.accept, Some("application/json"))
            .await
    }

    pub async fn call_as(
        &self,
        op: &str,
        uri: &str,
        body: Option<Value>,
        accept: Option<&str>,
        content_type: Option<&str>,
    ) -> Reply {
        let method = op.split(' ').next().unwrap();
        let auth = format!("Bearer {PUBLIC_TOKEN}");
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(accept) = accept {
            headers.push(("accept", accept));
        }
        if let (Some(ct), true) = (content_type, body.is_some()) {
            headers.push(("content-type", ct));
        }
        let reply = public_send(
            &self.app,
            method,
            uri,
            body.map(|b| b.to_string()),
            &headers,
        )
        .await;
        self.contract.check(op, &reply);
        self.seen.lock().unwrap().push_str(&reply.text);
        reply
    }

    /// Calls and asserts the status.
    pub async fn expect(&self, status: u16, op: &str, uri: &str, body: Option<Value>) -> Value {
        let reply = self.call(op, uri, body).await;
        assert_eq!(reply.status.as_u16(), status, "{op} {uri}: {}", reply.text);
        reply.json()
    }
}
