//! Product licences as data: `data/licences/<product>.yaml`, one file per product (named by its
//! OLM package, `ibm-mq`), one row per licence id with the operand versions it covers, the
//! `spec.license.use` values it allows, where the facts come from and when they were checked.
//! Guardrails read them to refuse an operand whose licence does not cover its version or use
//! before an operator refuses it at run time.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::version::{compare_versions, version_in_range};
use crate::CatalogError;

/// The operand versions a licence covers: a range (`>=9.4.2 <9.4.6`, OLM's form) or a list.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum LicenceVersions {
    Range(String),
    List(Vec<String>),
}

impl LicenceVersions {
    /// Whether `version` is covered; a listed version covers its own patch releases only when
    /// written in full (`9.4.2` covers `9.4.2`, not `9.4.2.1`).
    pub fn covers(&self, version: &str) -> bool {
        match self {
            LicenceVersions::Range(range) => version_in_range(version, range),
            LicenceVersions::List(versions) => versions
                .iter()
                .any(|listed| compare_versions(version, listed).is_eq()),
        }
    }
}

impl std::fmt::Display for LicenceVersions {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LicenceVersions::Range(range) => formatter.write_str(range),
            LicenceVersions::List(versions) => formatter.write_str(&versions.join(", ")),
        }
    }
}

/// One licence id of one product.
#[derive(Clone, Debug, PartialEq)]
pub struct Licence {
    /// The product (the OLM package name, `ibm-mq`).
    pub product: String,
    /// The licence id (`L-NUUP-23NH8Y`), as `spec.license.license` names it.
    pub id: String,
    /// The licence's title.
    pub name: String,
    /// The operand versions it covers; `None` when the sources do not say.
    pub versions: Option<LicenceVersions>,
    /// The `spec.license.use` values it allows; empty when the sources do not say.
    pub uses: Vec<String>,
    /// Where the facts come from.
    pub source: String,
    /// When they were checked (`2026-12-05`).
    pub checked: String,
    pub note: Option<String>,
}

impl Licence {
    /// Whether the licence covers operand `version` (`None`: the data does not say).
    pub fn covers(&self, version: &str) -> Option<bool> {
        self.versions
            .as_ref()
            .map(|versions| versions.covers(version))
    }

    /// Whether the licence allows `use_` (`None`: the data does not say).
    pub fn allows(&self, use_: &str) -> Option<bool> {
        if self.uses.is_empty() {
            None
        } else {
            Some(self.uses.iter().any(|allowed| allowed == use_))
        }
    }
}

/// The licences of one product, as its file holds them.
#[derive(Clone, Debug, PartialEq)]
pub struct ProductLicences {
    pub product: String,
    /// The operand kind and group the licences apply to (`QueueManager`, `mq.ibm.com`).
    pub kind: String,
    pub group: String,
    /// The field holding the operand version (`spec.version`).
    pub version_field: String,
    pub sources: Vec<String>,
    pub checked: String,
    pub licences: Vec<Licence>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LicenceFile {
    product: String,
    kind: String,
    group: String,
    version_field: String,
    sources: Vec<String>,
    checked: String,
    licences: Vec<LicenceRow>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LicenceRow {
    id: String,
    name: String,
    #[serde(default)]
    versions: Option<LicenceVersions>,
    #[serde(default)]
    uses: Vec<String>,
    source: String,
    checked: String,
    #[serde(default)]
    note: Option<String>,
}

/// Reads `licences/<product>.yaml`: the file is named after its product, ids are unique, every
/// row names a source and a date.
pub(crate) fn load_licences(file: &str, document: Value) -> Result<ProductLicences, CatalogError> {
    let parsed: LicenceFile =
        serde_json::from_value(document).map_err(|error| CatalogError::Format {
            file: file.to_string(),
            message: error.to_string(),
        })?;
    let fail = |message: String| CatalogError::Reference {
        file: file.to_string(),
        message,
    };
    let expected = format!("licences/{}.yaml", parsed.product);
    if file != expected {
        return Err(fail(format!(
            "the licences of `{}` belong in `{expected}`",
            parsed.product
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut licences = Vec::new();
    for row in parsed.licences {
        if !seen.insert(row.id.clone()) {
            return Err(fail(format!("licence `{}` is listed twice", row.id)));
        }
        if row.source.trim().is_empty() || row.checked.trim().is_empty() {
            return Err(fail(format!(
                "licence `{}` needs a `source` and a `checked` date",
                row.id
            )));
        }
        if let Some(LicenceVersions::List(versions)) = &row.versions {
            if versions.is_empty() {
                return Err(fail(format!(
                    "licence `{}` lists no versions (leave `versions` out when the sources do not say)",
                    row.id
                )));
            }
        }
        licences.push(Licence {
            product: parsed.product.clone(),
            id: row.id,
            name: row.name,
            versions: row.versions,
            uses: row.uses,
            source: row.source,
            checked: row.checked,
            note: row.note,
        });
    }
    Ok(ProductLicences {
        product: parsed.product,
        kind: parsed.kind,
        group: parsed.group,
        version_field: parsed.version_field,
        sources: parsed.sources,
        checked: parsed.checked,
        licences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence(versions: Option<LicenceVersions>, uses: &[&str]) -> Licence {
        Licence {
            product: "p".into(),
            id: "L-1".into(),
            name: "n".into(),
            versions,
            uses: uses.iter().map(|use_| use_.to_string()).collect(),
            source: "s".into(),
            checked: "2026-12-05".into(),
            note: None,
        }
    }

    #[test]
    fn ranges_and_lists_cover_versions() {
        let range = licence(
            Some(LicenceVersions::Range(">=9.4.2 <9.4.6".into())),
            &["Production"],
        );
        assert_eq!(range.covers("9.4.2.0"), Some(true));
        assert_eq!(range.covers("9.4.5.1"), Some(true));
        assert_eq!(range.covers("9.4.0.15"), Some(false));
        assert_eq!(range.covers("9.4.6"), Some(false));
        let list = licence(
            Some(LicenceVersions::List(vec![
                "11.5.0".into(),
                "11.5.1".into(),
            ])),
            &[],
        );
        assert_eq!(list.covers("11.5.1"), Some(true));
        assert_eq!(list.covers("11.5.2"), Some(false));
        assert_eq!(licence(None, &[]).covers("1.0"), None);
        assert_eq!(range.allows("Production"), Some(true));
        assert_eq!(range.allows("Development"), Some(false));
        assert_eq!(list.allows("Production"), None);
    }

    #[test]
    fn licence_files_are_checked() {
        let file = serde_json::json!({
            "product": "p", "kind": "K", "group": "g", "versionField": "spec.version",
            "sources": ["s"], "checked": "2026-12-05",
            "licences": [
                {"id": "L-1", "name": "n", "versions": ">=1.0.0", "uses": ["Production"], "source": "s", "checked": "2026-12-05"},
                {"id": "L-1", "name": "n", "source": "s", "checked": "2026-12-05"}
            ]
        });
        let error = load_licences("licences/p.yaml", file.clone()).expect_err("duplicate id");
        assert!(error.to_string().contains("listed twice"), "{error}");
        let error = load_licences("licences/q.yaml", file).expect_err("wrong file");
        assert!(error.to_string().contains("licences/p.yaml"), "{error}");
    }
}
