//! `flotilla check` run as a command on git repositories made in a temp directory: the bundled
//! example (an app-of-apps followed through its Applications) added to an empty repository has
//! no blocking finding; lowering a topic's partitions in the working tree blocks (exit 1, the
//! rule named, grouped under the object with its file and line); `--base REV` compares with a
//! commit; `flotilla.dev/allow` overrides; errors exit 2; the SARIF log is valid against the
//! SARIF 2.1.0 JSON schema (the one `@microsoft/jest-sarif` ships, read by Python's
//! `jsonschema`: `.ci/run` installs both; the check is skipped with a notice where they are
//! absent).

mod cli_support;
use cli_support::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const DECREASED: &str = "kafka-topic-partitions-decreased";

fn scratch(name: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("flotilla-check-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("scratch directory");
    directory
}

fn git(directory: &Path, arguments: &[&str]) -> String {
    let output = Command::new("git")
        .args(arguments)
        .current_dir(directory)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {arguments:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn write(root: &Path, path: &str, text: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().expect("parent")).expect("directories");
    std::fs::write(full, text).expect("write");
}

fn commit_all(root: &Path, message: &str) -> String {
    git(root, &["add", "--all"]);
    git(root, &["commit", "--quiet", "--allow-empty", "-m", message]);
    git(root, &["rev-parse", "HEAD"])
}

fn new_repository(name: &str) -> PathBuf {
    let root = scratch(name);
    git(&root, &["init", "--quiet", "--initial-branch=main"]);
    root
}

fn check(root: &Path, arguments: &[&str]) -> Output {
    flotilla()
        .arg("check")
        .args(arguments)
        .current_dir(root)
        .env("FLOTILLA_CACHE_DIR", root.join(".cache-outside"))
        .output()
        .expect("flotilla check runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("JSON ({error}): {}", text(output)))
}

fn topic(name: &str, partitions: u32, allow: Option<&str>) -> String {
    let annotations = allow
        .map(|rules| format!("  annotations:\n    flotilla.dev/allow: {rules}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata:\n  name: {name}\n{annotations}  labels:\n    strimzi.io/cluster: events\nspec:\n  partitions: {partitions}\n  replicas: 1\n"
    )
}

/// A repository with one kustomization of two topics, committed.
fn topics_repository(name: &str) -> PathBuf {
    let root = new_repository(name);
    write(&root, ".gitignore", ".cache-outside/\n");
    write(
        &root,
        "events/kustomization.yaml",
        "namespace: kafka\nresources:\n- topics.yaml\n",
    );
    write(
        &root,
        "events/topics.yaml",
        &format!(
            "{}---\n{}",
            topic("payments", 3, None),
            topic("orders", 6, None)
        ),
    );
    commit_all(&root, "topics");
    root
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("directory");
    for entry in std::fs::read_dir(from).expect("read example") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn the_bundled_example_added_to_an_empty_repository_has_no_blocking_finding() {
    let root = new_repository("example");
    write(&root, ".gitignore", ".cache-outside/\n");
    let empty = commit_all(&root, "empty");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/inventory");
    copy_tree(&example, &root);
    commit_all(&root, "the example");
    // From the root Application: apps/ and every environment's Applications are followed.
    let output = check(&root, &["bootstrap", "--base", &empty, "-o", "json"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let report = json(&output);
    assert_eq!(report["verdict"], "pass", "{report:#}");
    assert_eq!(report["summary"]["blocking"], 0);
    assert_eq!(report["rendered"]["before"], 0);
    assert!(
        report["rendered"]["after"].as_u64().unwrap_or(0) > 40,
        "the app-of-apps is followed: {report:#}"
    );
    // The working tree against HEAD: nothing changed, nothing to say.
    let output = check(&root, &["bootstrap"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(
        text(&output).contains("passed against `HEAD`: 0 blocking"),
        "{}",
        text(&output)
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn lowering_partitions_in_the_working_tree_blocks_and_names_the_rule() {
    let root = topics_repository("lowered");
    write(
        &root,
        "events/topics.yaml",
        &format!(
            "{}---\n{}",
            topic("payments", 3, None),
            topic("orders", 2, None)
        ),
    );
    let output = check(&root, &["events"]);
    assert_eq!(code(&output), 1, "{}", text(&output));
    let printed = text(&output);
    assert!(printed.contains(DECREASED), "{printed}");
    assert!(
        printed.contains("KafkaTopic.kafka.strimzi.io kafka/orders (events/topics.yaml:14)"),
        "grouped under the object, at its file and line: {printed}"
    );
    assert!(
        printed.contains("blocked against `HEAD`: 1 blocking"),
        "{printed}"
    );

    let report = json(&check(&root, &["events", "-o", "json"]));
    assert_eq!(report["verdict"], "block");
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], DECREASED);
    assert_eq!(finding["severity"], "block");
    assert_eq!(finding["path"], "spec.partitions");
    assert_eq!(finding["location"]["file"], "events/topics.yaml");
    assert_eq!(finding["location"]["line"], 14);

    // Overridden on the object: reported, not blocking.
    write(
        &root,
        "events/topics.yaml",
        &format!(
            "{}---\n{}",
            topic("payments", 3, None),
            topic("orders", 2, Some(DECREASED))
        ),
    );
    let output = check(&root, &["events"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert!(text(&output).contains("overridden"), "{}", text(&output));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_transitive_level_checks_the_schemas_git_history() {
    let root = topics_repository("transitive");
    let schema = "events/schemas/orders-value.avsc";
    let v1 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}"#;
    let v2 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int","default":0}]}"#;
    // Drops qty's default: reads v2's data, not v1's.
    let v3 = r#"{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"}]}"#;
    write(&root, schema, v1);
    write(
        &root,
        "events/schemas/compatibility.yaml",
        "default: BACKWARD_TRANSITIVE\n",
    );
    let first = commit_all(&root, "orders v1");
    write(&root, schema, v2);
    commit_all(&root, "orders v2");
    write(&root, schema, v3);
    let output = check(&root, &["events"]);
    assert_eq!(code(&output), 1, "{}", text(&output));
    let printed = text(&output);
    assert!(printed.contains("schema-incompatible"), "{printed}");
    assert!(
        printed.contains(&format!("(at {})", &first[..8])) && printed.contains("qty"),
        "names the version of the first commit and the field: {printed}"
    );
    // BACKWARD compares with the previous version only, which v3 reads.
    write(
        &root,
        "events/schemas/compatibility.yaml",
        "default: BACKWARD\n",
    );
    commit_all(&root, "level BACKWARD");
    let output = check(&root, &["events"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn base_compares_with_a_commit_of_the_same_repository() {
    let root = topics_repository("base");
    let first = git(&root, &["rev-parse", "HEAD"]);
    write(
        &root,
        "events/topics.yaml",
        &format!(
            "{}---\n{}",
            topic("payments", 3, None),
            topic("orders", 4, None)
        ),
    );
    commit_all(&root, "fewer partitions");
    // The working tree equals HEAD: nothing blocks.
    assert_eq!(code(&check(&root, &["events"])), 0);
    // Against the first commit, the decrease blocks.
    let output = check(&root, &["events", "--base", &first]);
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert!(text(&output).contains(DECREASED), "{}", text(&output));
    let output = check(&root, &["events", "--base", "HEAD~1"]);
    assert_eq!(code(&output), 1, "{}", text(&output));
    // From a subdirectory, PATH is relative to it, the base the same repository's.
    let output = flotilla()
        .args(["check", ".", "--base", "HEAD~1"])
        .current_dir(root.join("events"))
        .env("FLOTILLA_CACHE_DIR", root.join(".cache-outside"))
        .output()
        .expect("runs");
    assert_eq!(code(&output), 1, "{}", text(&output));
    // A path the base did not have: everything is new.
    write(
        &root,
        "more/kustomization.yaml",
        "namespace: kafka\nresources:\n- topics.yaml\n",
    );
    write(&root, "more/topics.yaml", &topic("audit", 1, None));
    let output = check(&root, &["more"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn errors_exit_2_with_a_message() {
    let root = topics_repository("errors");
    let output = check(&root, &["missing"]);
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(
        text(&output).contains("`missing` does not exist"),
        "{}",
        text(&output)
    );
    let output = check(&root, &["events", "--base", "no-such-branch"]);
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(
        text(&output).contains("no-such-branch"),
        "{}",
        text(&output)
    );
    write(&root, "events/topics.yaml", "kind: [\n");
    let output = check(&root, &["events"]);
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(text(&output).contains("topics.yaml"), "{}", text(&output));
    let outside = scratch("not-git");
    write(&outside, "kustomization.yaml", "resources: []\n");
    let output = check(&outside, &["."]);
    assert_eq!(code(&output), 2, "{}", text(&output));
    assert!(
        text(&output).contains("not in a git repository"),
        "{}",
        text(&output)
    );
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&outside);
}

/// The SARIF 2.1.0 schema: `$FLOTILLA_SARIF_SCHEMA`, else where `.ci/run` unpacks it.
fn sarif_schema() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FLOTILLA_SARIF_SCHEMA") {
        return Some(PathBuf::from(path)).filter(|path| path.is_file());
    }
    let default = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/sarif-schema/package/lib/schemas/sarif-2.1.0-rtm.5.json");
    default.is_file().then_some(default)
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let root = topics_repository("sarif");
    write(
        &root,
        "events/topics.yaml",
        &format!(
            "{}---\n{}",
            topic("payments", 4, None),
            topic("orders", 2, None)
        ),
    );
    let output = check(&root, &["events", "-o", "sarif"]);
    assert_eq!(code(&output), 1, "{}", text(&output));
    let log = json(&output);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "flotilla");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert!(
        rules.iter().any(|rule| rule["id"] == DECREASED),
        "{rules:?}"
    );
    let results = run["results"].as_array().expect("results");
    let blocked = results
        .iter()
        .find(|result| result["ruleId"] == DECREASED)
        .expect("the blocking result");
    assert_eq!(blocked["level"], "error");
    assert_eq!(
        rules[blocked["ruleIndex"].as_u64().expect("index") as usize]["id"],
        DECREASED
    );
    let location = &blocked["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "events/topics.yaml");
    assert_eq!(location["region"]["startLine"], 14);
    assert!(results.iter().any(|result| result["level"] == "warning"));

    // Overridden findings are suppressed results.
    write(
        &root,
        "events/topics.yaml",
        &format!(
            "{}---\n{}",
            topic("payments", 3, None),
            topic("orders", 2, Some(DECREASED))
        ),
    );
    let suppressed_output = check(&root, &["events", "-o", "sarif"]);
    assert_eq!(code(&suppressed_output), 0, "{}", text(&suppressed_output));
    let suppressed = json(&suppressed_output);
    assert_eq!(
        suppressed["runs"][0]["results"][0]["suppressions"][0]["kind"],
        "inSource"
    );

    let Some(schema) = sarif_schema() else {
        eprintln!("notice: the SARIF 2.1.0 schema is absent (set FLOTILLA_SARIF_SCHEMA, or run .ci/run once): schema validation skipped");
        let _ = std::fs::remove_dir_all(&root);
        return;
    };
    let has_validator = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_validator {
        eprintln!("notice: python3 with `jsonschema` is absent (`pip install jsonschema`): schema validation skipped");
        let _ = std::fs::remove_dir_all(&root);
        return;
    }
    for (name, log) in [("blocked", &output), ("suppressed", &suppressed_output)] {
        let file = root.join(format!("{name}.sarif"));
        std::fs::write(&file, &log.stdout).expect("write the log");
        let validation = Command::new("python3")
            .args([
                "-c",
                "import json, sys, jsonschema\nschema = json.load(open(sys.argv[1]))\nlog = json.load(open(sys.argv[2]))\ncls = jsonschema.validators.validator_for(schema)\nerrors = sorted(cls(schema).iter_errors(log), key=lambda e: list(e.path))\nfor e in errors:\n    print('/'.join(map(str, e.path)), e.message)\nsys.exit(1 if errors else 0)",
            ])
            .arg(&schema)
            .arg(&file)
            .output()
            .expect("python3 runs");
        assert!(
            validation.status.success(),
            "{name}: not valid SARIF 2.1.0:\n{}{}",
            String::from_utf8_lossy(&validation.stdout),
            String::from_utf8_lossy(&validation.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn application(name: &str, path: &str, prune: bool) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/team/events.git\n    targetRevision: HEAD\n    path: {path}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n  syncPolicy:\n    automated:\n      prune: {prune}\n"
    )
}

#[test]
fn an_app_of_apps_prunes_what_its_applications_prune() {
    const REMOVED: &str = "kafka-topic-removed";
    let root = new_repository("app-of-apps");
    write(&root, ".gitignore", ".cache-outside/\n");
    write(
        &root,
        "apps/kustomization.yaml",
        "resources:\n- orders.yaml\n- audit.yaml\n",
    );
    write(
        &root,
        "apps/orders.yaml",
        &application("orders", "orders", true),
    );
    write(
        &root,
        "apps/audit.yaml",
        &application("audit", "audit", false),
    );
    for (directory, topics) in [
        ("orders", ["orders", "refunds"]),
        ("audit", ["audit", "trail"]),
    ] {
        write(
            &root,
            &format!("{directory}/kustomization.yaml"),
            "resources:\n- topics.yaml\n",
        );
        write(
            &root,
            &format!("{directory}/topics.yaml"),
            &format!(
                "{}---\n{}",
                topic(topics[0], 3, None),
                topic(topics[1], 3, None)
            ),
        );
    }
    commit_all(&root, "two applications");

    // Removed from the Application that does not prune: left behind, a warning at most.
    write(&root, "audit/topics.yaml", &topic("audit", 3, None));
    let output = check(&root, &["apps", "-o", "json"]);
    assert_eq!(code(&output), 0, "{}", text(&output));
    let report = json(&output);
    assert_eq!(report["rendered"]["after"], 5, "{report:#}");
    let findings = report["findings"].as_array().expect("findings");
    assert!(
        findings.iter().all(|finding| finding["blocks"] == false),
        "{report:#}"
    );

    // Removed from the one that prunes: the topic and its data would go.
    write(&root, "orders/topics.yaml", &topic("orders", 3, None));
    let output = check(&root, &["apps", "-o", "json"]);
    assert_eq!(code(&output), 1, "{}", text(&output));
    let report = json(&output);
    let blocking: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["blocks"] == true)
        .collect();
    assert_eq!(blocking.len(), 1, "{report:#}");
    assert_eq!(blocking[0]["rule"], REMOVED);
    assert_eq!(blocking[0]["object"]["name"], "refunds");
    assert_eq!(
        blocking[0]["object"]["namespace"], "orders",
        "the Application's destination namespace"
    );
    assert_eq!(
        blocking[0]["location"],
        serde_json::json!({"file": "orders/topics.yaml", "line": null}),
        "the file it was removed from"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// Ends `flotilla cluster serve` when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const TOPIC_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: kafkatopics.kafka.strimzi.io
spec:
  group: kafka.strimzi.io
  names: {kind: KafkaTopic, listKind: KafkaTopicList, plural: kafkatopics, singular: kafkatopic}
  scope: Namespaced
  versions:
  - name: v1beta2
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
";

#[test]
fn live_compares_with_the_objects_in_the_cluster() {
    use std::io::{BufRead, Write};
    if !Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|output| output.status.success())
    {
        eprintln!("notice: kubectl not found: `check --live` test skipped");
        return;
    }
    // Not a git repository: `--live` needs none.
    let root = scratch("live");
    let mut child = flotilla()
        .args(["cluster", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(root.join("cluster"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start flotilla cluster serve");
    let output = child.stdout.take().expect("stdout");
    let _server = Server(child);
    let mut first = String::new();
    // Kept open while the server runs: it may print more.
    let mut reader = std::io::BufReader::new(output);
    reader.read_line(&mut first).expect("first line");
    assert!(first.starts_with("flotilla cluster serving on"), "{first}");
    let kubeconfig = root.join("cluster/kubeconfig");
    let kubectl = |arguments: &[&str], input: &str| {
        let mut child = Command::new("timeout")
            .args(["30", "kubectl", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(arguments)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        let output = child.wait_with_output().expect("kubectl ends");
        assert!(
            output.status.success(),
            "kubectl {arguments:?}: {}",
            text(&output)
        );
    };
    kubectl(&["apply", "-f", "-"], TOPIC_CRD);
    kubectl(
        &[
            "wait",
            "--for=condition=Established",
            "crd/kafkatopics.kafka.strimzi.io",
        ],
        "",
    );
    kubectl(&["create", "namespace", "kafka"], "");
    kubectl(
        &["apply", "-n", "kafka", "-f", "-"],
        &topic("orders", 6, None),
    );

    write(
        &root,
        "events/kustomization.yaml",
        "namespace: kafka\nresources:\n- topics.yaml\n",
    );
    write(&root, "events/topics.yaml", &topic("orders", 2, None));
    let kubeconfig_text = kubeconfig.to_string_lossy().to_string();
    let output = check(
        &root,
        &["events", "--live", "--kubeconfig", &kubeconfig_text],
    );
    assert_eq!(code(&output), 1, "{}", text(&output));
    assert!(text(&output).contains(DECREASED), "{}", text(&output));
    assert!(
        text(&output).contains("blocked against the cluster"),
        "{}",
        text(&output)
    );
    write(&root, "events/topics.yaml", &topic("orders", 6, None));
    let output = check(
        &root,
        &["events", "--live", "--kubeconfig", &kubeconfig_text],
    );
    assert_eq!(code(&output), 0, "{}", text(&output));
    drop(_server);
    drop(reader);
    let _ = std::fs::remove_dir_all(&root);
}
