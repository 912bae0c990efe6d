//! Apicurio Registry (`registry.apicur.io` ApicurioRegistry, ApicurioRegistry3): by the Ready
//! condition.

use serde_json::Value;

use super::common::ready_condition;
use crate::Health;

pub(crate) fn health(object: &Value) -> Health {
    ready_condition(object, "Waiting for the registry to be ready")
}
