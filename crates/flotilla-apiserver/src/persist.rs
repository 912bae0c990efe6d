//! Durable state under `--data-dir`: every acknowledged change is committed to a redb database
//! (`DIR/state.redb`) before the response is sent, so a restart (even after `kill -9`) sees every
//! acknowledged write and continues the resourceVersion sequence where it stopped.
//!
//! redb is a pure-Rust, maintained, ACID embedded key-value store with copy-on-write B-trees and
//! fsync on commit; see ARCHITECTURE.md for why it was chosen.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RESOURCE_VERSION_KEY: &str = "resourceVersion";

/// Failure to open, read or write the database.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot open the state database `{path}`")]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("state database operation failed")]
    Database {
        #[source]
        source: redb::Error,
    },
    #[error("stored object `{key}` is not valid JSON")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

fn database_error(source: impl Into<redb::Error>) -> PersistError {
    PersistError::Database {
        source: source.into(),
    }
}

/// What was loaded at start.
pub struct LoadedState {
    pub resource_version: u64,
    /// (storage key, namespace, name, object)
    pub objects: Vec<(String, String, String, Value)>,
}

/// The open database.
pub struct Persistence {
    database: Database,
}

fn object_key(storage_key: &str, namespace: &str, name: &str) -> String {
    format!("{storage_key}\u{0}{namespace}\u{0}{name}")
}

impl Persistence {
    pub fn open(path: &Path) -> Result<Persistence, PersistError> {
        let database = Database::create(path).map_err(|source| PersistError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let transaction = database.begin_write().map_err(database_error)?;
        transaction.open_table(OBJECTS).map_err(database_error)?;
        transaction.open_table(META).map_err(database_error)?;
        transaction.commit().map_err(database_error)?;
        Ok(Persistence { database })
    }

    pub fn load(&self) -> Result<LoadedState, PersistError> {
        let transaction = self.database.begin_read().map_err(database_error)?;
        let meta = transaction.open_table(META).map_err(database_error)?;
        let resource_version = meta
            .get(RESOURCE_VERSION_KEY)
            .map_err(database_error)?
            .map(|value| value.value())
            .unwrap_or(0);
        let table = transaction.open_table(OBJECTS).map_err(database_error)?;
        let mut objects = Vec::new();
        for entry in table.iter().map_err(database_error)? {
            let (key, value) = entry.map_err(database_error)?;
            let key = key.value().to_string();
            let object: Value =
                serde_json::from_slice(value.value()).map_err(|source| PersistError::Corrupt {
                    key: key.clone(),
                    source,
                })?;
            let mut parts = key.splitn(3, '\u{0}');
            let storage_key = parts.next().unwrap_or_default().to_string();
            let namespace = parts.next().unwrap_or_default().to_string();
            let name = parts.next().unwrap_or_default().to_string();
            objects.push((storage_key, namespace, name, object));
        }
        Ok(LoadedState {
            resource_version,
            objects,
        })
    }

    /// Stores (or with `None` removes) one object and the new resourceVersion in one durable commit.
    pub fn write(
        &self,
        resource_version: u64,
        storage_key: &str,
        namespace: &str,
        name: &str,
        object: Option<&Value>,
    ) -> Result<(), PersistError> {
        let key = object_key(storage_key, namespace, name);
        let transaction = self.database.begin_write().map_err(database_error)?;
        {
            let mut table = transaction.open_table(OBJECTS).map_err(database_error)?;
            match object {
                Some(object) => {
                    let bytes = serde_json::to_vec(object).expect("a JSON value always serialises");
                    table
                        .insert(key.as_str(), bytes.as_slice())
                        .map_err(database_error)?;
                }
                None => {
                    table.remove(key.as_str()).map_err(database_error)?;
                }
            }
            let mut meta = transaction.open_table(META).map_err(database_error)?;
            meta.insert(RESOURCE_VERSION_KEY, resource_version)
                .map_err(database_error)?;
        }
        transaction.commit().map_err(database_error)?;
        Ok(())
    }
}
