//! `flotilla repo check` and `flotilla promote`.
//!
//! `repo check [DIR]`: `flotilla_bootstrap::check`, printed as text or JSON; exit 0 (no error),
//! 1 (errors), 2 (the check could not run).
//!
//! `promote --from ENV --to ENV`: the source environment's pins at `--revision` (default
//! `HEAD`, read from git's object database) moved onto the target environment
//! (`flotilla_bootstrap::promote`). With `--kubeconfig`, the source environment's Applications
//! must be Synced and Healthy at that revision first. The edit is checked by the guardrails
//! (`flotilla check config/argocd`: a blocking finding refuses it), its rendered diff of the
//! target environment printed, and committed on the current branch or on `--branch` (the
//! current branch is left as it was). `--dry-run` prints and changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flotilla_bootstrap::check::{check_repository_with, Severity};
use flotilla_bootstrap::generate::{paths, Tree};
use flotilla_bootstrap::promote::{promote, PromoteOptions};
use serde_json::Value;

use crate::cmd_solution::{read_manifest, require_clean};

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Validate a solution repository offline: every Application renders and is permitted by its project, every operand's operator is installed by the bootstrap wave, no Secret in clear, generated files match flotilla.yaml (exit 0: fine, 1: errors, 2: cannot check)
    Check(RepoCheckArgs),
}

#[derive(Debug, Args)]
pub struct RepoCheckArgs {
    /// The solution repository
    #[arg(default_value = ".")]
    pub directory: PathBuf,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: RepoOutput,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RepoOutput {
    Text,
    Json,
}

/// `flotilla repo …`: the exit code.
pub fn run_repo(command: &RepoCommand) -> u8 {
    let RepoCommand::Check(args) = command;
    if !args.directory.is_dir() {
        eprintln!(
            "error: `{}` is not a directory\n\nhint: give the solution repository's directory",
            args.directory.display()
        );
        return 2;
    }
    let findings = match check_repository_with(&args.directory, &validate_operand) {
        Ok(findings) => findings,
        Err(error) => {
            eprintln!("error: reading `{}`: {error}", args.directory.display());
            return 2;
        }
    };
    let errors = findings
        .iter()
        .filter(|finding| finding.severity == Severity::Error)
        .count();
    match args.output {
        RepoOutput::Json => {
            let value = serde_json::json!({"errors": errors, "warnings": findings.len() - errors, "findings": findings});
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
        RepoOutput::Text => {
            for finding in &findings {
                let severity = match finding.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                println!(
                    "{severity}[{}] {}: {}",
                    finding.check, finding.path, finding.message
                );
            }
            println!(
                "{}: {errors} error{}, {} warning{}",
                args.directory.display(),
                if errors == 1 { "" } else { "s" },
                findings.len() - errors,
                if findings.len() - errors == 1 {
                    ""
                } else {
                    "s"
                }
            );
        }
    }
    u8::from(errors > 0)
}

/// An operand validated as the embedded API server validates it against the CRD `spec`
/// (unknown fields refused, as `kubectl apply`'s strict field validation does).
fn validate_operand(spec: &Value, object: &Value) -> Vec<String> {
    let definition = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", spec["names"]["plural"].as_str().unwrap_or_default(), spec["group"].as_str().unwrap_or_default())},
        "spec": spec,
    });
    let version = object["apiVersion"]
        .as_str()
        .and_then(|text| text.rsplit_once('/'))
        .map(|(_, version)| version)
        .unwrap_or_default();
    let Some(resource) = flotilla_apiserver::crd::resource_types(&definition)
        .into_iter()
        .find(|resource| resource.version == version)
    else {
        return Vec::new();
    };
    let Some(schema) = resource.schema.clone() else {
        return Vec::new();
    };
    let mut copy = object.clone();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match flotilla_apiserver::crd::validate_and_prune(&resource, name, &schema, &mut copy, true) {
        Ok(()) => Vec::new(),
        Err(error) => vec![error.to_string()],
    }
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The environment promoted from
    #[arg(long)]
    pub from: String,
    /// The environment promoted to
    #[arg(long)]
    pub to: String,
    /// Only this app
    #[arg(long)]
    pub app: Option<String>,
    /// Only this service
    #[arg(long)]
    pub service: Option<String>,
    /// Only image references (not configuration or event backbone versions)
    #[arg(long)]
    pub image_only: bool,
    /// The revision of the source environment to promote (an earlier one rolls back)
    #[arg(long, default_value = "HEAD")]
    pub revision: String,
    /// Commit on this new branch (for a pull request) and leave the current branch as it is
    #[arg(long)]
    pub branch: Option<String>,
    /// Print the changes and the rendered diff; write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Check through this cluster that the source environment is Synced and Healthy at the revision
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The solution repository
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub repo: PathBuf,
}

fn git(directory: &Path, arguments: &[&str]) -> Result<String> {
    let output = std::process::Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .output()
        .context("cannot run `git`")?;
    if !output.status.success() {
        bail!(
            "`git {}` failed in `{}`: {}",
            arguments.join(" "),
            directory.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string())
}

/// The files under `prefix` at `commit`.
fn files_at(repository: &Path, commit: &str, prefix: &str) -> Result<Tree> {
    let listing = git(
        repository,
        &["ls-tree", "-r", "--name-only", commit, "--", prefix],
    )?;
    let mut tree = Tree::new();
    for path in listing.lines().filter(|line| !line.is_empty()) {
        let text = git(repository, &["show", &format!("{commit}:{path}")])?;
        tree.insert(path.to_string(), format!("{text}\n"));
    }
    Ok(tree)
}

/// `flotilla promote`.
pub fn run_promote(args: &PromoteArgs) -> Result<()> {
    let repository = &args.repo;
    let solution = read_manifest(repository)?;
    for environment in [&args.from, &args.to] {
        if solution.environment(environment).is_none() {
            let names: Vec<String> = solution
                .environments
                .iter()
                .map(|known| format!("`{}`", known.name))
                .collect();
            bail!(
                "no environment `{environment}` in flotilla.yaml (the environments are {})",
                names.join(", ")
            );
        }
    }
    if !args.dry_run {
        require_clean(repository)?;
    }
    let commit = git(
        repository,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{}^{{commit}}", args.revision),
        ],
    )
    .map_err(|_| {
        anyhow!(
            "`{}` is not a revision of `{}`\n\nhint: `git log --oneline` lists them",
            args.revision,
            repository.display()
        )
    })?;
    let mut source = files_at(repository, &commit, &paths::environment(&args.from))?;
    // The operator channels the source environment's cluster pins.
    source.extend(files_at(
        repository,
        &commit,
        &format!("{}/overlays", paths::BOOTSTRAP),
    )?);
    let target = flotilla_bootstrap::repository::read_tree(repository)?;
    let head = git(repository, &["rev-parse", "HEAD"])?;
    if commit != head {
        // A rollback: the cluster knows the health of what runs now, not of that revision.
        eprintln!(
            "note: promoting `{}` as it was at {}, an earlier revision: the cluster cannot say whether it was healthy then",
            args.from,
            &commit[..commit.len().min(12)]
        );
    } else if let Some(kubeconfig) = &args.kubeconfig {
        source_is_healthy(&solution, args, kubeconfig, &commit)?;
    } else {
        eprintln!("note: the health of `{}` at {} was not checked (pass --kubeconfig to check it through the cluster)", args.from, &commit[..commit.len().min(12)]);
    }
    let options = PromoteOptions {
        from: args.from.clone(),
        to: args.to.clone(),
        app: args.app.clone(),
        service: args.service.clone(),
        image_only: args.image_only,
    };
    let promotion =
        promote(&solution, &source, &target, &options).map_err(|error| anyhow!("{error}"))?;
    if promotion.edits.is_empty() {
        println!(
            "nothing to promote: `{}` already has what `{}` has at {}",
            args.to,
            args.from,
            &commit[..commit.len().min(12)]
        );
        return Ok(());
    }
    let short = &commit[..commit.len().min(12)];
    println!("promoting {} → {} at {short}:", args.from, args.to);
    for change in &promotion.changes {
        println!("  {change}");
    }
    // The target environment rendered before and after.
    let before_render = render_environment(repository, &solution, &args.to)?;
    let original_branch = git(repository, &["rev-parse", "--abbrev-ref", "HEAD"])?;
    let written: Vec<String> = promotion.edits.keys().cloned().collect();
    for (path, text) in &promotion.edits {
        std::fs::write(repository.join(path), text).with_context(|| format!("writing `{path}`"))?;
    }
    let restore = || {
        let mut arguments = vec!["checkout", "--"];
        arguments.extend(written.iter().map(String::as_str));
        git(repository, &arguments)
    };
    let after_render = render_environment(repository, &solution, &args.to);
    let after_render = match after_render {
        Ok(rendered) => rendered,
        Err(error) => {
            restore()?;
            return Err(error.context(format!("the promoted `{}` does not render", args.to)));
        }
    };
    print_diff(&args.to, &before_render, &after_render);
    // The guardrails on the change.
    let code = crate::cmd_check::run(crate::cmd_check::CheckArgs {
        path: repository.join(paths::ARGOCD),
        base: None,
        live: false,
        cluster: crate::cmd_engine::ClusterArgs {
            kubeconfig: None,
            context: None,
        },
        output: crate::cmd_check::CheckOutput::Text,
    });
    if code != 0 {
        restore()?;
        bail!(
            "the guardrails {} this promotion (above): nothing was committed",
            if code == 1 {
                "block"
            } else {
                "could not check"
            }
        );
    }
    if args.dry_run {
        restore()?;
        println!("dry run: nothing written");
        return Ok(());
    }
    let message = format!(
        "Promote {} to {} ({short})\n\n{}\n",
        args.from,
        args.to,
        promotion
            .changes
            .iter()
            .map(|change| format!("- {change}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    match &args.branch {
        Some(branch) => {
            git(repository, &["checkout", "--quiet", "-b", branch])?;
            let result = crate::cmd_solution::commit(repository, &written, &message);
            git(repository, &["checkout", "--quiet", &original_branch])?;
            let hash = result?;
            println!("committed {hash} on branch `{branch}` (`{original_branch}` unchanged): open a pull request from it");
        }
        None => {
            let hash = crate::cmd_solution::commit(repository, &written, &message)?;
            println!("committed {hash} on `{original_branch}`");
        }
    }
    Ok(())
}

/// Each Application path of an environment rendered: path → objects by identity.
fn render_environment(
    repository: &Path,
    solution: &flotilla_bootstrap::Solution,
    environment: &str,
) -> Result<BTreeMap<String, Value>> {
    let environment = solution
        .environment(environment)
        .ok_or_else(|| anyhow!("no environment `{environment}`"))?;
    let mut directories = vec![paths::env_overlay(&environment.name)];
    if repository
        .join(paths::events_overlay(&environment.name))
        .is_dir()
    {
        directories.push(paths::events_overlay(&environment.name));
    }
    directories.extend(
        environment
            .apps
            .iter()
            .map(|app| paths::app_overlay(&environment.name, &app.name)),
    );
    let mut objects = BTreeMap::new();
    for directory in directories {
        let resources = flotilla_kustomize::build(
            &repository.join(&directory),
            flotilla_kustomize::BuildOptions::default(),
        )
        .map_err(|error| anyhow!("`{directory}`: {error}"))?;
        for resource in resources.iter() {
            let object = flotilla_core::to_json(&resource.object);
            let key = format!(
                "{} {}",
                object["kind"].as_str().unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or_default()
            );
            objects.insert(key, object);
        }
    }
    Ok(objects)
}

fn print_diff(
    environment: &str,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (old, new) = (before.get(key), after.get(key));
        if old == new {
            continue;
        }
        match flotilla_diff::render_diff(new, old, flotilla_engine::FIELD_MANAGER, &[]) {
            Ok(diff) if !diff.is_empty() => {
                let diff = diff.replacen(
                    "--- live\n+++ desired",
                    &format!("--- {key} in {environment} now\n+++ {key} in {environment} promoted"),
                    1,
                );
                println!("{diff}");
            }
            _ => {}
        }
    }
}

/// Refuses unless every Application of the source environment is Synced and Healthy at `commit`.
fn source_is_healthy(
    solution: &flotilla_bootstrap::Solution,
    args: &PromoteArgs,
    kubeconfig: &Path,
    commit: &str,
) -> Result<()> {
    let environment = solution
        .environment(&args.from)
        .ok_or_else(|| anyhow!("no environment `{}`", args.from))?;
    let namespace = solution.namespace(&environment.name);
    let mut names = vec![format!("{namespace}-env")];
    if solution.kafka != flotilla_bootstrap::manifest::KafkaFlavour::None || solution.mq {
        names.push(format!("{namespace}-events"));
    }
    names.extend(
        environment
            .apps
            .iter()
            .filter(|app| args.app.as_ref().is_none_or(|wanted| wanted == &app.name))
            .map(|app| format!("{namespace}-{}", app.name)),
    );
    let runtime = crate::cmd_engine::runtime()?;
    runtime.block_on(async {
        let cluster_args = crate::cmd_engine::ClusterArgs { kubeconfig: Some(kubeconfig.to_path_buf()), context: None };
        let cluster = crate::cmd_engine::connect(&cluster_args).await?;
        let info = cluster.resource("argoproj.io/v1alpha1", "Application").await?;
        for name in &names {
            let application: Value = cluster
                .get(&info, Some(&solution.argocd_namespace), name)
                .await
                .map_err(|error| anyhow!("reading Application `{}/{name}`: {error}", solution.argocd_namespace))?
                .ok_or_else(|| anyhow!("the Application `{}/{name}` is not in the cluster: `{}` is not deployed there", solution.argocd_namespace, args.from))?;
            let sync = application["status"]["sync"]["status"].as_str().unwrap_or("Unknown");
            let health = application["status"]["health"]["status"].as_str().unwrap_or("Unknown");
            let revision = application["status"]["sync"]["revision"].as_str().unwrap_or_default();
            if sync != "Synced" || health != "Healthy" {
                let reason = application["status"]["conditions"][0]["message"]
                    .as_str()
                    .or(application["status"]["health"]["message"].as_str())
                    .or(application["status"]["operationState"]["message"].as_str())
                    .map(|message| format!(": {message}"))
                    .unwrap_or_default();
                bail!("`{}` is not ready to promote: Application `{name}` is {sync} and {health}{reason}\n\nhint: fix `{}` first, or promote an earlier revision it was healthy at with --revision", args.from, args.from);
            }
            if revision != commit {
                bail!("`{}` is not ready to promote: Application `{name}` runs {} , not {} (the revision being promoted)\n\nhint: wait for it to sync, or promote the revision it runs with --revision {}", args.from, &revision[..revision.len().min(12)], &commit[..commit.len().min(12)], &revision[..revision.len().min(12)]);
            }
        }
        Ok(())
    })
}
