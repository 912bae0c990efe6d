//! `flotilla catalog …`: the operator catalog embedded in `flotilla-catalog`, as a platform team
//! reads OperatorHub: `list` (packages, channels, default channel, latest CSV), `show PACKAGE`
//! (channels, versions, owned CRDs, supported operand versions), `subscription PACKAGE` (the
//! Subscription, or a catalog entry in the base + one-overlay-per-channel layout), `crds
//! PACKAGE[@VERSION]` (the CRDs an operator version installs, for `kubectl apply` or
//! `--dry-run=server` against a real cluster).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use flotilla_catalog::{Catalog, Package};
use serde_json::{json, Value};

/// `flotilla catalog …`
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// List the packages: channels, default channel, latest CSV
    List(ListArgs),
    /// Show a package: channels and their versions, owned CRDs, supported operand versions
    Show(ShowArgs),
    /// Print a package's Subscription, or write a catalog entry (base + one overlay per channel)
    Subscription(SubscriptionArgs),
    /// Print the CustomResourceDefinitions an operator version installs
    Crds(CrdsArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A table for people
    Text,
    /// JSON
    Json,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the packages of this catalog source (`ibm-operator-catalog`, `redhat-operators`, …)
    #[arg(long)]
    pub source: Option<String>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The package name (`ibm-eventstreams`)
    pub package: String,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SubscriptionArgs {
    /// The package name (`ibm-eventstreams`)
    pub package: String,
    /// The channel to subscribe to (default: the package's default channel)
    #[arg(long)]
    pub channel: Option<String>,
    /// The namespace of the Subscription (`openshift-operators` installs for all namespaces)
    #[arg(long, default_value = "openshift-operators")]
    pub namespace: String,
    /// Automatic or Manual approval of install plans
    #[arg(long, default_value = "Automatic", value_parser = ["Automatic", "Manual"])]
    pub approval: String,
    /// Pin the first install to the channel's first CSV (`startingCSV`)
    #[arg(long)]
    pub pin: bool,
    /// Write a catalog entry under DIR/<package>/operator/ (a base and one overlay per channel) instead of printing
    #[arg(long, value_name = "DIR")]
    pub overlays: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CrdsArgs {
    /// The package, optionally with an operator version (`ibm-eventstreams@3.0.5`; default: the head of the default channel)
    pub package: String,
}

pub fn run(command: CatalogCommand) -> anyhow::Result<()> {
    let catalog = Catalog::embedded();
    match command {
        CatalogCommand::List(arguments) => list(catalog, &arguments),
        CatalogCommand::Show(arguments) => show(catalog, &arguments),
        CatalogCommand::Subscription(arguments) => subscription(catalog, &arguments),
        CatalogCommand::Crds(arguments) => crds(catalog, &arguments),
    }
}

fn find_package<'a>(catalog: &'a Catalog, name: &str) -> anyhow::Result<&'a Package> {
    if let Some(package) = catalog.package(name) {
        return Ok(package);
    }
    let near: Vec<&str> = catalog
        .packages
        .iter()
        .map(|package| package.name.as_str())
        .filter(|known| known.contains(name) || name.contains(*known))
        .collect();
    let hint = if near.is_empty() {
        "run `flotilla catalog list` for the packages it knows".to_string()
    } else {
        format!("did you mean {}?", near.join(", "))
    };
    bail!("the catalog has no package `{name}`\n\nhint: {hint}")
}

fn head_version(package: &Package) -> String {
    package
        .channel(&package.default_channel)
        .and_then(|channel| package.head(channel))
        .map(|head| head.version)
        .unwrap_or_default()
}

fn list(catalog: &Catalog, arguments: &ListArgs) -> anyhow::Result<()> {
    let packages: Vec<&Package> = catalog
        .packages
        .iter()
        .filter(|package| {
            arguments
                .source
                .as_deref()
                .is_none_or(|source| package.catalog_source == source)
        })
        .collect();
    if let Some(source) = &arguments.source {
        if catalog.source(source).is_none() {
            let known: Vec<&str> = catalog
                .sources
                .iter()
                .map(|source| source.name.as_str())
                .collect();
            bail!(
                "no catalog source `{source}`\n\nhint: the catalog sources are {}",
                known.join(", ")
            );
        }
    }
    match arguments.output {
        Output::Json => {
            let items: Vec<Value> = packages
                .iter()
                .map(|package| {
                    let latest = package
                        .channel(&package.default_channel)
                        .and_then(|channel| package.head(channel));
                    json!({
                        "name": package.name,
                        "displayName": package.display_name,
                        "provider": package.provider,
                        "catalogSource": package.catalog_source,
                        "defaultChannel": package.default_channel,
                        "channels": package.channels.iter().map(|channel| channel.name.clone()).collect::<Vec<_>>(),
                        "latestCSV": latest.map(|csv| csv.name),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"packages": items}))?
            );
        }
        Output::Text => {
            let rows: Vec<[String; 5]> = packages
                .iter()
                .map(|package| {
                    let latest = package
                        .channel(&package.default_channel)
                        .and_then(|channel| package.head(channel))
                        .map(|csv| csv.name)
                        .unwrap_or_default();
                    [
                        package.name.clone(),
                        package.catalog_source.clone(),
                        package.default_channel.clone(),
                        package.channels.len().to_string(),
                        latest,
                    ]
                })
                .collect();
            print_table(
                &[
                    "PACKAGE",
                    "CATALOG",
                    "DEFAULT CHANNEL",
                    "CHANNELS",
                    "LATEST CSV",
                ],
                &rows,
            );
        }
    }
    Ok(())
}

fn print_table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) {
    let mut widths = headers.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}   ", width = widths[index]));
            }
        }
        println!("{}", text.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn show(catalog: &Catalog, arguments: &ShowArgs) -> anyhow::Result<()> {
    let package = find_package(catalog, &arguments.package)?;
    let head = head_version(package);
    if arguments.output == Output::Json {
        let channels: Vec<Value> = package
            .channels
            .iter()
            .map(|channel| {
                json!({
                    "name": channel.name,
                    "csvs": package.csvs(channel).into_iter().map(|csv| json!({"name": csv.name, "version": csv.version, "replaces": csv.replaces, "skipRange": csv.skip_range})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let crds: Vec<Value> = package
            .crds_for(&head)
            .into_iter()
            .map(|crd| {
                let spec = crd.spec_for(&head);
                json!({"name": crd.name(), "kind": crd.kind(), "scope": spec["scope"], "versions": spec["versions"].as_array().into_iter().flatten().map(|version| json!({"name": version["name"], "served": version["served"], "storage": version["storage"]})).collect::<Vec<_>>()})
            })
            .collect();
        let document = json!({
            "name": package.name,
            "displayName": package.display_name,
            "provider": package.provider,
            "catalogSource": package.catalog_source,
            "defaultChannel": package.default_channel,
            "installModes": package.install_modes.iter().map(|(mode, supported)| json!({"type": format!("{mode:?}"), "supported": supported})).collect::<Vec<_>>(),
            "channels": channels,
            "crds": crds,
            "operands": package.operands,
            "sources": package.sources,
            "checked": package.checked,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(());
    }
    println!("{} ({})", package.display_name, package.name);
    println!(
        "provider: {}   catalog source: {}   default channel: {}",
        package.provider, package.catalog_source, package.default_channel
    );
    let modes: Vec<String> = package
        .install_modes
        .iter()
        .filter(|(_, supported)| **supported)
        .map(|(mode, _)| format!("{mode:?}"))
        .collect();
    println!("install modes: {}", modes.join(", "));
    println!();
    println!("CHANNELS");
    for channel in &package.channels {
        let csvs = package.csvs(channel);
        let versions: Vec<&str> = csvs.iter().map(|csv| csv.version.as_str()).collect();
        let marker = if channel.name == package.default_channel {
            " (default)"
        } else {
            ""
        };
        println!("  {}{marker}: {}", channel.name, versions.join(", "));
    }
    println!();
    println!("CRDS (operator {head})");
    for crd in package.crds_for(&head) {
        let spec = crd.spec_for(&head);
        let versions: Vec<String> = spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|version| {
                let name = version["name"].as_str().unwrap_or_default();
                if version["storage"] == true {
                    format!("{name} (storage)")
                } else {
                    name.to_string()
                }
            })
            .collect();
        println!(
            "  {} {} [{}] {}",
            crd.kind(),
            crd.name(),
            spec["scope"].as_str().unwrap_or_default(),
            versions.join(", ")
        );
    }
    if !package.operands.is_empty() {
        println!();
        println!("OPERAND VERSIONS");
        for support in &package.operands {
            println!(
                "  operator {}: {} {} = {}",
                support.operator_versions,
                support.kind,
                support.field,
                support.versions.join(", ")
            );
        }
    }
    println!();
    println!(
        "facts from {} (checked {})",
        package.sources.join(", "),
        package.checked
    );
    Ok(())
}

fn subscription_object(
    package: &Package,
    arguments: &SubscriptionArgs,
    channel: &str,
) -> anyhow::Result<Value> {
    let catalog = Catalog::embedded();
    let source = catalog
        .source(&package.catalog_source)
        .context("the package's catalog source is listed")?;
    let mut spec = json!({
        "channel": channel,
        "installPlanApproval": arguments.approval,
        "name": package.name,
        "source": source.name,
        "sourceNamespace": source.namespace,
    });
    if arguments.pin {
        let first = package
            .channel(channel)
            .and_then(|entry| package.csvs(entry).into_iter().next())
            .context("the channel has entries")?;
        spec["startingCSV"] = json!(first.name);
    }
    Ok(json!({
        "apiVersion": "operators.coreos.com/v1alpha1",
        "kind": "Subscription",
        "metadata": {"name": package.name, "namespace": arguments.namespace},
        "spec": spec,
    }))
}

fn yaml(value: &Value) -> anyhow::Result<String> {
    flotilla_core::yaml_write::write_document(&flotilla_core::json::from_json(value))
        .context("cannot write YAML")
}

fn subscription(catalog: &Catalog, arguments: &SubscriptionArgs) -> anyhow::Result<()> {
    let package = find_package(catalog, &arguments.package)?;
    let channel = arguments
        .channel
        .clone()
        .unwrap_or_else(|| package.default_channel.clone());
    if package.channel(&channel).is_none() {
        let known: Vec<&str> = package
            .channels
            .iter()
            .map(|channel| channel.name.as_str())
            .collect();
        bail!(
            "package `{}` has no channel `{channel}`\n\nhint: its channels are {}",
            package.name,
            known.join(", ")
        );
    }
    match &arguments.overlays {
        None => {
            print!(
                "{}",
                yaml(&subscription_object(package, arguments, &channel)?)?
            );
            Ok(())
        }
        Some(directory) => write_catalog_entry(package, arguments, directory),
    }
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

/// The seed's layout: `<package>/operator/base/{kustomization,subscription}.yaml` and
/// `<package>/operator/overlays/<channel>/{kustomization,patch-channel}.yaml`, one overlay per
/// channel, each pinning the channel and (with `--pin`) its first CSV.
fn write_catalog_entry(
    package: &Package,
    arguments: &SubscriptionArgs,
    directory: &Path,
) -> anyhow::Result<()> {
    let root = directory.join(&package.name).join("operator");
    let base = subscription_object(package, arguments, &package.default_channel)?;
    write_file(&root.join("base/subscription.yaml"), &yaml(&base)?)?;
    write_file(
        &root.join("base/kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- subscription.yaml\n",
    )?;
    let mut overlays = Vec::new();
    for channel in &package.channels {
        let overlay = root.join("overlays").join(&channel.name);
        let mut patch =
            vec![json!({"op": "replace", "path": "/spec/channel", "value": channel.name})];
        if arguments.pin {
            if let Some(first) = package.csvs(channel).into_iter().next() {
                patch.push(json!({"op": "add", "path": "/spec/startingCSV", "value": first.name}));
            }
        }
        write_file(
            &overlay.join("patch-channel.yaml"),
            &yaml(&Value::Array(patch))?,
        )?;
        write_file(
            &overlay.join("kustomization.yaml"),
            &format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\npatches:\n- path: patch-channel.yaml\n  target:\n    kind: Subscription\n    name: {}\n",
                package.name
            ),
        )?;
        overlays.push(channel.name.clone());
    }
    println!(
        "wrote {} (base and {} overlays: {})",
        root.display(),
        overlays.len(),
        overlays.join(", ")
    );
    Ok(())
}

fn crds(catalog: &Catalog, arguments: &CrdsArgs) -> anyhow::Result<()> {
    let (name, version) = match arguments.package.split_once('@') {
        Some((name, version)) => (name, Some(version.trim_start_matches('v').to_string())),
        None => (arguments.package.as_str(), None),
    };
    let package = find_package(catalog, name)?;
    let version = match version {
        Some(version) => {
            let known = package
                .channels
                .iter()
                .flat_map(|channel| package.csvs(channel))
                .any(|csv| csv.version == version);
            if !known {
                bail!(
                    "package `{}` has no version `{version}`\n\nhint: `flotilla catalog show {}` lists its versions",
                    package.name,
                    package.name
                );
            }
            version
        }
        None => head_version(package),
    };
    let documents: Vec<flotilla_core::Value> =
        flotilla_catalog::custom_resource_definitions(package, &version, "openshift-operators")
            .iter()
            .map(flotilla_core::json::from_json)
            .collect();
    print!(
        "{}",
        flotilla_core::yaml_write::write_documents(&documents).context("cannot write YAML")?
    );
    Ok(())
}
