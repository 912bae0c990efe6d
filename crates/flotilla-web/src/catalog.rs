//! The operator catalog as data for the API and UI: the packages of the catalog embedded in
//! the binary (`flotilla-catalog`, what `flotilla catalog list|show` prints), and what OLM has
//! installed in the cluster (Subscriptions and ClusterServiceVersions, read through the
//! cluster; none when the cluster serves no OLM, as plain Kubernetes does).

use flotilla_catalog::{Catalog, Package};
use flotilla_engine::cluster::ClusterError;
use flotilla_engine::Cluster;
use serde_json::{json, Value};

use crate::apps::AppError;

fn latest_csv(package: &Package) -> Option<String> {
    package
        .channel(&package.default_channel)
        .and_then(|channel| package.head(channel))
        .map(|csv| csv.name)
}

/// One package as a list shows it.
pub fn package_summary(package: &Package) -> Value {
    json!({
        "name": package.name,
        "displayName": package.display_name,
        "provider": package.provider,
        "catalogSource": package.catalog_source,
        "defaultChannel": package.default_channel,
        "channels": package.channels.iter().map(|channel| channel.name.clone()).collect::<Vec<_>>(),
        "latestCSV": latest_csv(package),
    })
}

/// The embedded catalog's packages, by name.
pub fn packages() -> Vec<Value> {
    let mut packages: Vec<&Package> = Catalog::embedded().packages.iter().collect();
    packages.sort_by(|left, right| left.name.cmp(&right.name));
    packages.into_iter().map(package_summary).collect()
}

/// One package: its channels with their CSVs (oldest first), install modes, owned CRDs and
/// description; None when the catalog has no such package.
pub fn package(name: &str) -> Option<Value> {
    let package = Catalog::embedded().package(name)?;
    let mut data = package_summary(package);
    data["description"] = json!(package.description);
    data["installModes"] = json!(package
        .install_modes
        .iter()
        .filter(|(_, supported)| **supported)
        .map(|(mode, _)| format!("{mode:?}"))
        .collect::<Vec<_>>());
    data["channelEntries"] = json!(package
        .channels
        .iter()
        .map(|channel| {
            json!({
                "name": channel.name,
                "csvs": package.csvs(channel).into_iter().map(|csv| json!({"name": csv.name, "version": csv.version, "replaces": csv.replaces})).collect::<Vec<_>>(),
            })
        })
        .collect::<Vec<_>>());
    data["crds"] = json!(package
        .crds
        .iter()
        .map(|crd| json!({"group": crd.group(), "kind": crd.kind(), "name": crd.name()}))
        .collect::<Vec<_>>());
    Some(data)
}

/// The objects of a kind in every namespace; None when the cluster does not serve the kind.
async fn list_all(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
) -> Result<Option<Vec<Value>>, AppError> {
    let info = match cluster.resource(api_version, kind).await {
        Ok(info) => info,
        Err(ClusterError::UnknownKind { .. }) => return Ok(None),
        Err(source) => {
            return Err(AppError::Cluster {
                action: format!("discovering `{kind}`"),
                source,
            })
        }
    };
    let mut list = cluster
        .list(&info, None, &Default::default())
        .await
        .map_err(|source| AppError::Cluster {
            action: format!("listing {kind}s"),
            source,
        })?;
    Ok(Some(match list["items"].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    }))
}

/// What OLM installed: `{"olm": bool, "subscriptions": […], "csvs": […]}`.
pub async fn installed(cluster: &Cluster) -> Result<Value, AppError> {
    let subscriptions = list_all(cluster, "operators.coreos.com/v1alpha1", "Subscription").await?;
    let csvs = list_all(
        cluster,
        "operators.coreos.com/v1alpha1",
        "ClusterServiceVersion",
    )
    .await?;
    let olm = subscriptions.is_some() && csvs.is_some();
    let subscriptions: Vec<Value> = subscriptions
        .unwrap_or_default()
        .iter()
        .map(|subscription| {
            json!({
                "namespace": subscription["metadata"]["namespace"],
                "name": subscription["metadata"]["name"],
                "package": subscription["spec"]["name"],
                "channel": subscription["spec"]["channel"],
                "source": subscription["spec"]["source"],
                "installedCSV": subscription["status"]["installedCSV"],
                "currentCSV": subscription["status"]["currentCSV"],
                "state": subscription["status"]["state"],
            })
        })
        .collect();
    let csvs: Vec<Value> = csvs
        .unwrap_or_default()
        .iter()
        .map(|csv| {
            json!({
                "namespace": csv["metadata"]["namespace"],
                "name": csv["metadata"]["name"],
                "version": csv["spec"]["version"],
                "phase": csv["status"]["phase"],
            })
        })
        .collect();
    Ok(json!({"olm": olm, "subscriptions": subscriptions, "csvs": csvs}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_as_data() {
        let packages = packages();
        assert!(!packages.is_empty());
        let name = packages[0]["name"].as_str().expect("name").to_string();
        let one = package(&name).expect("the package");
        assert_eq!(one["name"], name.as_str());
        assert!(one["channelEntries"]
            .as_array()
            .is_some_and(|channels| !channels.is_empty()));
        assert!(package("no-such-package").is_none());
    }
}
