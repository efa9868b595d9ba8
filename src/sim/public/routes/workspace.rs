//! `GET /`: the token's workspace. A token belongs to exactly one workspace, so there is no
//! list and no way to name another.

use super::{Reply, Sim, ok};
use crate::sim::public::wire;

pub async fn get(sim: Sim) -> Reply {
    let store = sim.store();
    ok(serde_json::json!({"workspace": wire::workspace(&store.workspace)}))
}
