//! Access tokens (`/access-tokens`). Creating one takes HTTP Basic auth (email:password) and
//! returns the plain-text token once; later reads never show it. List, get and delete are
//! INFERRED (the service was listed as "Manage access tokens" but no example survives).
//! The simulator has no user accounts: any non-empty Basic credentials may create a token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use serde_json::Value;

use super::{Reply, Sim, empty, parse_body};
use crate::sim::config::error::{ApiError, ApiResult};
use crate::sim::config::paging::{Page, Params};
use crate::sim::config::store::{Scope, Token};
use crate::sim::config::wire;
use crate::sim::workspace::AccessToken;

fn number(raw: &str) -> ApiResult<u32> {
    raw.parse()
        .map_err(|_| ApiError::not_found(format!("access token `access-tokens/{raw}`")))
}

pub async fn list(sim: Sim, RawQuery(query): RawQuery) -> Reply {
    let page = Page::from_params(
        &Params::parse(query.as_deref()),
        sim.options.default_page_size,
        sim.options.max_page_size,
    )?;
    let store = sim.store();
    let tokens: Vec<(&AccessToken, &String)> = store
        .workspaces
        .iter()
        .flat_map(|ws| ws.access_tokens.iter().map(move |t| (t, &ws.slug)))
        .collect();
    Ok(Json(page.render("access_tokens", tokens.len(), |i| {
        wire::access_token(tokens[i].0, std::slice::from_ref(tokens[i].1))
    })))
}

pub async fn get(sim: Sim, Path(raw): Path<String>) -> Reply {
    let n = number(&raw)?;
    let store = sim.store();
    store
        .workspaces
        .iter()
        .find_map(|ws| {
            ws.access_tokens
                .iter()
                .find(|t| t.number == n)
                .map(|t| wire::access_token(t, std::slice::from_ref(&ws.slug)))
        })
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("access token `access-tokens/{n}`")))
}

pub async fn create(sim: Sim, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let f = wire::unwrap_body(&body, "access_token")?;
    let scopes = f.str("scopes")?.unwrap_or("workspace");
    let scope = match scopes {
        "workspace" => Scope::ReadWrite,
        "workspace:read" => Scope::ReadOnly,
        other => {
            return Err(ApiError::invalid(format!(
                "`scopes` must be `workspace` or `workspace:read`, not `{other}`"
            )));
        }
    };
    let names: Vec<String> = f
        .array("workspace_names")?
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let Some(first) = names.first() else {
        return Err(ApiError::invalid("`workspace_names` must name a workspace"));
    };
    let slug = first
        .strip_prefix("workspaces/")
        .unwrap_or(first)
        .to_owned();
    let mut store = sim.store();
    store.workspace(&slug)?;
    let number = store
        .workspaces
        .iter()
        .flat_map(|w| w.access_tokens.iter().map(|t| t.number))
        .max()
        .unwrap_or(0)
        + 1;
    let token = AccessToken {
        number,
        description: f.str("description")?.unwrap_or("").to_owned(),
        scopes: scopes.to_owned(),
        create_time: wire::now_timestamp(),
    };
    let secret = store.new_token();
    store.tokens.push(Token {
        secret: secret.clone(),
        scope,
        access_token: Some(number),
    });
    let mut out = wire::access_token(&token, std::slice::from_ref(&slug));
    store.workspace_mut(&slug)?.access_tokens.push(token);
    if let Some(obj) = out.as_object_mut() {
        obj.insert("token".into(), Value::String(secret));
    }
    Ok(Json(out))
}

pub async fn delete(sim: Sim, Path(raw): Path<String>) -> Reply {
    let n = number(&raw)?;
    let mut store = sim.store();
    let found = store.workspaces.iter_mut().any(|ws| {
        let before = ws.access_tokens.len();
        ws.access_tokens.retain(|t| t.number != n);
        ws.access_tokens.len() != before
    });
    if !found {
        return Err(ApiError::not_found(format!(
            "access token `access-tokens/{n}`"
        )));
    }
    // A deleted token stops working at once.
    store.tokens.retain(|t| t.access_token != Some(n));
    empty()
}
