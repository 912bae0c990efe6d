//! What the generator asks of the operator catalog (`flotilla-catalog`): the operators a
//! solution needs, the CSV a channel installs, the API version an operator serves for a kind,
//! the operand version it runs and a licence that covers it.

use flotilla_catalog::{compare_versions, Catalog, CsvRef, Package};

use crate::manifest::{KafkaFlavour, Operator, Solution};

/// OpenShift Pipelines: Tekton, which the generated pipelines need.
pub const PIPELINES_PACKAGE: &str = "openshift-pipelines-operator-rh";
pub const STRIMZI_PACKAGE: &str = "strimzi-kafka-operator";
pub const EVENT_STREAMS_PACKAGE: &str = "ibm-eventstreams";
pub const MQ_PACKAGE: &str = "ibm-mq";

/// The operators a solution with this Kafka flavour and MQ choice needs, on their default
/// channels, followed by `extra` (`PACKAGE[@CHANNEL]` given by the user; a package named twice
/// keeps the user's channel).
pub fn operators_for(
    kafka: KafkaFlavour,
    mq: bool,
    extra: &[Operator],
) -> Result<Vec<Operator>, String> {
    let catalog = Catalog::embedded();
    let mut packages = vec![PIPELINES_PACKAGE];
    match kafka {
        KafkaFlavour::Strimzi => packages.push(STRIMZI_PACKAGE),
        KafkaFlavour::Eventstreams => packages.push(EVENT_STREAMS_PACKAGE),
        KafkaFlavour::None => {}
    }
    if mq {
        packages.push(MQ_PACKAGE);
    }
    let mut operators: Vec<Operator> = Vec::new();
    for name in packages {
        let package = catalog
            .package(name)
            .ok_or_else(|| format!("the catalog has no package `{name}`"))?;
        operators.push(Operator {
            package: name.into(),
            channel: package.default_channel.clone(),
        });
    }
    for operator in extra {
        match operators
            .iter_mut()
            .find(|known| known.package == operator.package)
        {
            Some(known) => known.channel = operator.channel.clone(),
            None => operators.push(operator.clone()),
        }
    }
    Ok(operators)
}

/// Reads `PACKAGE[@CHANNEL]` (the default channel when none is given).
pub fn parse_operator(text: &str) -> Result<Operator, String> {
    let (name, channel) = match text.split_once('@') {
        Some((name, channel)) => (name, Some(channel)),
        None => (text, None),
    };
    let catalog = Catalog::embedded();
    let package = catalog.package(name).ok_or_else(|| {
        format!("operator `{name}` is not in the catalog\n\nhint: `flotilla catalog list` shows the packages")
    })?;
    let channel = channel.unwrap_or(&package.default_channel);
    if package.channel(channel).is_none() {
        let channels: Vec<&str> = package.channels.iter().map(|c| c.name.as_str()).collect();
        return Err(format!(
            "operator `{name}` has no channel `{channel}`\n\nhint: its channels are {}",
            channels.join(", ")
        ));
    }
    Ok(Operator {
        package: name.into(),
        channel: channel.into(),
    })
}

/// The package and the CSV a subscription of the solution installs (its channel's head).
pub fn installed(solution: &Solution, package_name: &str) -> Option<(&'static Package, CsvRef)> {
    let catalog = Catalog::embedded();
    let operator = solution
        .operators
        .iter()
        .find(|operator| operator.package == package_name)?;
    let package = catalog.package(&operator.package)?;
    let channel = package.channel(&operator.channel)?;
    Some((package, package.head(channel)?))
}

/// The `apiVersion` the installed operator serves `kind` of `group` in: its storage version
/// (the version the operator writes), else the first served one; `fallback` when the catalog
/// does not know the package.
pub fn api_version(
    solution: &Solution,
    package: &str,
    group: &str,
    kind: &str,
    fallback: &str,
) -> String {
    let Some((package, csv)) = installed(solution, package) else {
        return format!("{group}/{fallback}");
    };
    for crd in package.crds_for(&csv.version) {
        if crd.spec["group"].as_str() != Some(group)
            || crd.spec["names"]["kind"].as_str() != Some(kind)
        {
            continue;
        }
        let versions: Vec<&serde_json::Value> = crd
            .versions_for(&csv.version)
            .filter(|version| version["served"].as_bool() != Some(false))
            .collect();
        let chosen = versions
            .iter()
            .find(|version| version["storage"].as_bool() == Some(true))
            .or(versions.first())
            .and_then(|version| version["name"].as_str());
        if let Some(name) = chosen {
            return format!("{group}/{name}");
        }
    }
    format!("{group}/{fallback}")
}

/// The newest operand version the installed operator runs for `kind` (its `field`), from the
/// catalog's operand tables: the channel head's, else those of the newest entry of the same
/// channel the tables know (a channel is one product line).
pub fn operand_version(
    solution: &Solution,
    package: &str,
    kind: &str,
    field: &str,
) -> Option<String> {
    let catalog = Catalog::embedded();
    let operator = solution
        .operators
        .iter()
        .find(|operator| operator.package == package)?;
    let package = catalog.package(&operator.package)?;
    let channel = package.channel(&operator.channel)?;
    package.csvs(channel).iter().rev().find_map(|csv| {
        package
            .operands_for(&csv.version)
            .into_iter()
            .filter(|operand| operand.kind == kind && operand.field == field)
            .flat_map(|operand| operand.versions.iter())
            .max_by(|left, right| compare_versions(left, right))
            .cloned()
    })
}

/// A licence id of `product` that covers `version` (its `-rN` image revision dropped) and allows
/// `use_`, from the catalog's licence data.
pub fn licence_for(product: &str, version: &str, use_: &str) -> Option<String> {
    let catalog = Catalog::embedded();
    let bare = version.split("-r").next().unwrap_or(version);
    catalog
        .licences_of(product)?
        .licences
        .iter()
        .find(|licence| licence.covers(bare) == Some(true) && licence.allows(use_) == Some(true))
        .map(|licence| licence.id.clone())
}
