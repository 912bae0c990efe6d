//! Secrets of a plan, written only sealed. Each [`SecretSpec`] becomes a SealedSecret file:
//! the one already in the repository when it was sealed with the same certificate (its
//! `flotilla.dev/sealed-with` annotation) and no new value was given for it, else a new one
//! sealed by the caller's [`Sealer`]. Random values (webhook secrets) are made once and live
//! only sealed; values the user gives (a git token, registry credentials) are sealed each time
//! they are given.
//!
//! Invariant: no secret value is written anywhere but into the sealer; a value the plan needs
//! and nobody gave is an error naming the flag that gives it, never an empty secret.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::generate::{yaml, Plan, SecretValue, Tree};

/// Recorded on each SealedSecret: the fingerprint of the certificate that sealed it.
pub const SEALED_WITH_ANNOTATION: &str = "flotilla.dev/sealed-with";

/// What seals: the cluster's certificate, through `flotilla-sealed`.
pub trait Sealer {
    /// The certificate's fingerprint.
    fn fingerprint(&self) -> String;
    /// Seals a Secret (`data` base64) into a SealedSecret document.
    fn seal(&mut self, secret: &Value) -> Result<Value, String>;
    /// `length` random bytes.
    fn random(&mut self, length: usize) -> Vec<u8>;
}

/// What went wrong sealing.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secret `{name}` must be sealed, and no certificate was given\n\nhint: pass --cert FILE (the sealing certificate, `flotilla keys cert`) or --kubeconfig FILE (fetched from the cluster)")]
    NoCertificate { name: String },
    #[error("the secret `{name}` needs the {what}, which was not given{hint}")]
    Missing {
        name: String,
        what: String,
        hint: String,
    },
    #[error("sealing `{name}`: {message}")]
    Seal { name: String, message: String },
}

/// How each secret was resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretReport {
    /// Kept as they were.
    pub kept: Vec<String>,
    /// Sealed now (new, given again, or the certificate changed).
    pub sealed: Vec<String>,
    /// Random secrets made anew because the certificate changed (their webhooks on the git
    /// hosts must be updated).
    pub regenerated: Vec<String>,
}

/// The sealed files of `plan`'s secrets, added to `files`. `existing` is the repository as it
/// is; `given` holds the values the user gave, by [`SecretValue::Given`] name; `hints` says
/// which flag gives each.
pub fn seal_secrets(
    plan: &Plan,
    existing: &Tree,
    sealer: Option<&mut dyn Sealer>,
    given: &BTreeMap<String, Vec<u8>>,
    hints: &BTreeMap<String, String>,
    files: &mut Tree,
) -> Result<SecretReport, SecretError> {
    let mut report = SecretReport::default();
    let fingerprint = sealer.as_ref().map(|sealer| sealer.fingerprint());
    let mut sealer = sealer;
    for spec in &plan.secrets {
        let current = existing.get(&spec.path);
        let current_fingerprint = current.and_then(|text| sealed_with(text));
        let value_given = spec.keys.values().any(|value| match value {
            SecretValue::Given(name) => given.contains_key(name),
            SecretValue::Random(_) => false,
        });
        let same_certificate = match (&fingerprint, &current_fingerprint) {
            (Some(now), Some(then)) => now == then,
            // Without a certificate, what is there is kept as it is.
            (None, Some(_)) => true,
            _ => false,
        };
        if let (Some(text), true, false) = (current, same_certificate, value_given) {
            files.insert(spec.path.clone(), text.clone());
            report.kept.push(spec.name.clone());
            continue;
        }
        let Some(sealer) = sealer.as_deref_mut() else {
            return Err(SecretError::NoCertificate {
                name: spec.name.clone(),
            });
        };
        let mut data = serde_json::Map::new();
        for (key, source) in &spec.keys {
            let bytes = match source {
                SecretValue::Random(length) => hex(&sealer.random(*length)).into_bytes(),
                SecretValue::Given(name) => match given.get(name) {
                    Some(bytes) => bytes.clone(),
                    None => {
                        return Err(SecretError::Missing {
                            name: spec.name.clone(),
                            what: name.replace('-', " "),
                            hint: hints
                                .get(name)
                                .map(|hint| format!("\n\nhint: {hint}"))
                                .unwrap_or_default(),
                        })
                    }
                },
            };
            data.insert(
                key.clone(),
                json!(flotilla_core::base64::encode_standard(&bytes)),
            );
        }
        let mut metadata = json!({"name": spec.name, "namespace": spec.namespace});
        if !spec.annotations.is_empty() {
            metadata["annotations"] = json!(spec.annotations);
        }
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": spec.secret_type,
            "data": data,
        });
        let mut sealed = sealer.seal(&secret).map_err(|message| SecretError::Seal {
            name: spec.name.clone(),
            message,
        })?;
        sealed["metadata"]["annotations"][SEALED_WITH_ANNOTATION] = json!(sealer.fingerprint());
        files.insert(spec.path.clone(), yaml(&[sealed]));
        let random = spec
            .keys
            .values()
            .any(|value| matches!(value, SecretValue::Random(_)));
        if current.is_some() && random && !same_certificate {
            report.regenerated.push(spec.name.clone());
        } else {
            report.sealed.push(spec.name.clone());
        }
    }
    Ok(report)
}

/// The certificate fingerprint a sealed file records.
pub fn sealed_with(text: &str) -> Option<String> {
    let document = flotilla_core::parse_single_document(text).ok()?;
    let object = flotilla_core::to_json(&document);
    object["metadata"]["annotations"][SEALED_WITH_ANNOTATION]
        .as_str()
        .map(str::to_string)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `text` holds a Secret with values in clear (`data` or `stringData` not empty).
pub fn clear_secret_in(text: &str) -> Option<String> {
    let documents = flotilla_core::parse_documents(text).ok()?;
    documents.iter().find_map(|document| {
        let object = flotilla_core::to_json(document);
        let clear = object["kind"].as_str() == Some("Secret")
            && object["apiVersion"].as_str() == Some("v1")
            && ["data", "stringData"].iter().any(|field| {
                object[field]
                    .as_object()
                    .is_some_and(|values| !values.is_empty())
            });
        clear.then(|| {
            object["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::SecretSpec;

    /// Seals by recording the keys and a counter: never the values.
    struct FakeSealer {
        fingerprint: String,
        count: usize,
    }

    impl Sealer for FakeSealer {
        fn fingerprint(&self) -> String {
            self.fingerprint.clone()
        }
        fn seal(&mut self, secret: &Value) -> Result<Value, String> {
            self.count += 1;
            let keys: serde_json::Map<String, Value> = secret["data"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, _)| (key.clone(), json!(format!("sealed-{}", self.count))))
                .collect();
            Ok(json!({
                "apiVersion": "bitnami.com/v1alpha1",
                "kind": "SealedSecret",
                "metadata": secret["metadata"].clone(),
                "spec": {"encryptedData": keys},
            }))
        }
        fn random(&mut self, length: usize) -> Vec<u8> {
            vec![7; length]
        }
    }

    fn plan() -> Plan {
        let mut plan = Plan::default();
        plan.secrets.push(SecretSpec {
            path: "config/cicd/base/09-secrets/hook.yaml".into(),
            namespace: "cicd".into(),
            name: "hook".into(),
            secret_type: "Opaque".into(),
            annotations: Default::default(),
            keys: [("key".to_string(), SecretValue::Random(4))].into(),
        });
        plan
    }

    #[test]
    fn a_secret_sealed_with_the_same_certificate_is_kept() {
        let mut sealer = FakeSealer {
            fingerprint: "aa".into(),
            count: 0,
        };
        let mut files = Tree::new();
        let report = seal_secrets(
            &plan(),
            &Tree::new(),
            Some(&mut sealer),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &mut files,
        )
        .expect("sealed");
        assert_eq!(report.sealed, vec!["hook".to_string()]);
        let text = files["config/cicd/base/09-secrets/hook.yaml"].clone();
        assert!(!text.contains("07070707"), "{text}");
        assert_eq!(sealed_with(&text).as_deref(), Some("aa"));

        let mut again = Tree::new();
        let report = seal_secrets(
            &plan(),
            &files,
            Some(&mut sealer),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &mut again,
        )
        .expect("kept");
        assert_eq!(report.kept, vec!["hook".to_string()]);
        assert_eq!(again, files);

        let mut other = FakeSealer {
            fingerprint: "bb".into(),
            count: 10,
        };
        let mut resealed = Tree::new();
        let report = seal_secrets(
            &plan(),
            &files,
            Some(&mut other),
            &BTreeMap::new(),
            &BTreeMap::new(),
            &mut resealed,
        )
        .expect("resealed");
        assert_eq!(report.regenerated, vec!["hook".to_string()]);
    }

    #[test]
    fn a_missing_certificate_and_a_missing_value_are_named() {
        let error = seal_secrets(
            &plan(),
            &Tree::new(),
            None,
            &BTreeMap::new(),
            &BTreeMap::new(),
            &mut Tree::new(),
        )
        .expect_err("no certificate");
        assert!(error.to_string().contains("--cert"), "{error}");
        let mut plan = plan();
        plan.secrets[0].keys =
            [("token".to_string(), SecretValue::Given("git-token".into()))].into();
        let mut sealer = FakeSealer {
            fingerprint: "aa".into(),
            count: 0,
        };
        let hints = [(
            "git-token".to_string(),
            "pass --git-token-file FILE".to_string(),
        )]
        .into();
        let error = seal_secrets(
            &plan,
            &Tree::new(),
            Some(&mut sealer),
            &BTreeMap::new(),
            &hints,
            &mut Tree::new(),
        )
        .expect_err("no token");
        assert!(error.to_string().contains("--git-token-file"), "{error}");
    }

    #[test]
    fn clear_secrets_are_found() {
        assert_eq!(
            clear_secret_in(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  a: Yg==\n"
            ),
            Some("x".into())
        );
        assert_eq!(
            clear_secret_in("apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n"),
            None
        );
    }
}
