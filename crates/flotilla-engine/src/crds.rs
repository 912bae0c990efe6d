//! The `Application` and `AppProject` CustomResourceDefinitions, as Argo CD names them
//! (group `argoproj.io`, version `v1alpha1`, short names `app`/`apps` and `appproj`/`appprojs`,
//! no status subresource: Argo CD writes status with the object), installed in the target
//! cluster when absent. Their schemas keep unknown fields, so manifests written for any Argo CD
//! version are stored unchanged.
//!
//! Depends on `cluster` only.

use serde_json::{json, Value};

use crate::cluster::{Cluster, ClusterError};

fn definition(
    kind: &str,
    plural: &str,
    singular: &str,
    short_names: &[&str],
    columns: Value,
) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": format!("{plural}.argoproj.io"),
            "labels": {"app.kubernetes.io/name": format!("{plural}.argoproj.io"), "app.kubernetes.io/part-of": "argocd"}
        },
        "spec": {
            "group": "argoproj.io",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural, "singular": singular, "shortNames": short_names},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1alpha1",
                "served": true,
                "storage": true,
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "required": ["metadata", "spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "operation": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

/// The two definitions.
pub fn definitions() -> Vec<Value> {
    vec![
        definition(
            "Application",
            "applications",
            "application",
            &["app", "apps"],
            json!([
                {"name": "Sync Status", "type": "string", "jsonPath": ".status.sync.status"},
                {"name": "Health Status", "type": "string", "jsonPath": ".status.health.status"},
                {"name": "Revision", "type": "string", "jsonPath": ".status.sync.revision", "priority": 10}
            ]),
        ),
        definition(
            "AppProject",
            "appprojects",
            "appproject",
            &["appproj", "appprojs"],
            json!([]),
        ),
    ]
}

/// Creates the definitions that are missing and waits until Applications are served.
pub async fn install(cluster: &Cluster) -> Result<(), ClusterError> {
    let crd_info = cluster
        .resource("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        .await?;
    for crd in definitions() {
        let name = crd["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if cluster.get(&crd_info, None, &name).await?.is_none() {
            // Replicas starting together: the first one creates it.
            match cluster.create(&crd_info, &crd).await {
                Err(error) if !error.is_already_exists() => return Err(error),
                _ => {}
            }
        }
    }
    for attempt in 0..300 {
        cluster.forget_discovery();
        let application = cluster
            .resource("argoproj.io/v1alpha1", "Application")
            .await;
        let project = cluster.resource("argoproj.io/v1alpha1", "AppProject").await;
        if application.is_ok() && project.is_ok() {
            return Ok(());
        }
        if attempt == 299 {
            application?;
            project?;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
