//! Benchmark program (not a test): what the guardrails cost next to rendering. A synthetic
//! event-driven tree (Kafka clusters with node pools, and per cluster topics and users; about
//! 10,000 objects in all) is rendered by `flotilla build`'s renderer in-process; a second
//! revision changes a tenth of the topics (partitions up, retention down); `flotilla_eda::evaluate`
//! runs on the (before, after) pair; and 1,000 Avro schema checks (a record gaining a field
//! with a default, BACKWARD) run through `flotilla_eda::schema::check`. Medians over rounds,
//! alternating the three measurements; the table goes to BENCHMARKS.md between
//! `<!-- guardrails-bench -->` markers.
//!
//! Run: `cargo bench -p flotilla --bench guardrails [-- --objects N --rounds R]`.
//! Goal (issue 14): checking costs less than 10% of rendering.

#[path = "../../../benches/benchmarks_md.rs"]
mod benchmarks_md;

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use flotilla_eda::schema::{Level, SchemaKind, SchemaText};

// The allocator the `flotilla` binary runs with (`src/main.rs`), so that rendering and checking
// are measured as `flotilla check` and the engine's gate run them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Args {
    objects: usize,
    rounds: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        objects: 10_000,
        rounds: 5,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    for pair in raw.windows(2) {
        match (pair[0].as_str(), pair[1].parse::<usize>().ok()) {
            ("--objects", Some(value)) => args.objects = value.max(100),
            ("--rounds", Some(value)) => args.rounds = value.max(1),
            _ => {}
        }
    }
    args
}

/// Writes the tree: `clusters` directories, each a kustomization with one Kafka, one node
/// pool, `per_cluster` topics (half of them users too). `changed` says whether this is the
/// second revision (every tenth topic edited).
fn write_tree(root: &Path, clusters: usize, per_cluster: usize, changed: bool) -> usize {
    let _ = std::fs::remove_dir_all(root);
    let mut top = String::from("resources:\n");
    let mut count = 0;
    for cluster in 0..clusters {
        let name = format!("events-{cluster:03}");
        let directory = root.join(&name);
        std::fs::create_dir_all(&directory).expect("tree directory");
        let _ = writeln!(top, "- {name}");
        let mut text = format!(
            "apiVersion: kafka.strimzi.io/v1beta2\nkind: Kafka\nmetadata:\n  name: {name}\n  namespace: kafka\n  annotations:\n    strimzi.io/node-pools: enabled\n    strimzi.io/kraft: enabled\nspec:\n  kafka:\n    version: 3.9.0\n    metadataVersion: 3.9-IV0\n    listeners:\n    - name: tls\n      port: 9093\n      type: internal\n      tls: true\n    config:\n      default.replication.factor: 3\n      min.insync.replicas: 2\n  entityOperator:\n    topicOperator: {{}}\n    userOperator: {{}}\n---\napiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaNodePool\nmetadata:\n  name: {name}-pool\n  namespace: kafka\n  labels:\n    strimzi.io/cluster: {name}\nspec:\n  replicas: 3\n  roles: [controller, broker]\n  storage:\n    type: persistent-claim\n    size: 100Gi\n"
        );
        count += 2;
        for topic in 0..per_cluster {
            let edited = changed && topic % 10 == 0;
            let partitions = if edited { 12 } else { 6 };
            let retention = if edited { 86_400_000 } else { 604_800_000 };
            let _ = write!(
                text,
                "---\napiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaTopic\nmetadata:\n  name: topic-{cluster:03}-{topic:04}\n  namespace: kafka\n  labels:\n    strimzi.io/cluster: {name}\nspec:\n  partitions: {partitions}\n  replicas: 3\n  config:\n    retention.ms: {retention}\n    min.insync.replicas: 2\n"
            );
            count += 1;
            if topic % 2 == 0 {
                let _ = write!(
                    text,
                    "---\napiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaUser\nmetadata:\n  name: user-{cluster:03}-{topic:04}\n  namespace: kafka\n  labels:\n    strimzi.io/cluster: {name}\nspec:\n  authentication:\n    type: tls\n  authorization:\n    type: simple\n    acls:\n    - resource: {{type: topic, name: topic-{cluster:03}-{topic:04}, patternType: literal}}\n      operations: [Read, Write, Describe]\n"
                );
                count += 1;
            }
        }
        std::fs::write(directory.join("objects.yaml"), text).expect("objects");
        std::fs::write(
            directory.join("kustomization.yaml"),
            "resources:\n- objects.yaml\n",
        )
        .expect("kustomization");
    }
    std::fs::write(root.join("kustomization.yaml"), top).expect("top kustomization");
    count
}

fn render(root: &Path) -> Vec<serde_json::Value> {
    let resources = flotilla_kustomize::build(root, flotilla_kustomize::BuildOptions::default())
        .expect("the synthetic tree renders");
    resources
        .iter()
        .map(|resource| flotilla_core::to_json(&resource.object))
        .collect()
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let args = parse_args();
    let scratch =
        std::env::temp_dir().join(format!("flotilla-guardrails-bench-{}", std::process::id()));
    let clusters = (args.objects / 200).max(1);
    // Per cluster: 2 objects + topics × 1.5.
    let per_cluster = ((args.objects / clusters).saturating_sub(2) * 2 / 3).max(1);
    let before_root = scratch.join("before");
    let after_root = scratch.join("after");
    let objects = write_tree(&before_root, clusters, per_cluster, false);
    write_tree(&after_root, clusters, per_cluster, true);

    let old_schema = SchemaText::new(
        "orders-v1.avsc",
        r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"},{"name":"price","type":"double"}]}}}]}"#,
    );
    let new_schema = SchemaText::new(
        "orders-v2.avsc",
        r#"{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"string"},{"name":"qty","type":"long"},{"name":"lines","type":{"type":"array","items":{"type":"record","name":"Line","fields":[{"name":"sku","type":"string"},{"name":"price","type":"double"}]}}},{"name":"store","type":"string","default":"none"}]}"#,
    );
    let history = [old_schema, new_schema];

    let mut render_times = Vec::new();
    let mut rule_times = Vec::new();
    let mut schema_times = Vec::new();
    let mut findings = 0;
    for _ in 0..args.rounds {
        let started = Instant::now();
        let before = render(&before_root);
        let after = render(&after_root);
        // One render of the tree is what a sync costs; two were made for the pair.
        render_times.push(started.elapsed() / 2);

        let started = Instant::now();
        let change = flotilla_eda::Change::new(before, after, true);
        let result = flotilla_eda::evaluate(&change);
        rule_times.push(started.elapsed());
        findings = result.len();

        let started = Instant::now();
        for _ in 0..1000 {
            let incompatibilities =
                flotilla_eda::schema::check(Level::Backward, SchemaKind::Avro, &history)
                    .expect("the schemas parse");
            assert!(incompatibilities.is_empty());
        }
        schema_times.push(started.elapsed());
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let render_median = median(&mut render_times);
    let rules_median = median(&mut rule_times);
    let schema_median = median(&mut schema_times);
    let share = |part: Duration| 100.0 * part.as_secs_f64() / render_median.as_secs_f64();
    let table = format!(
        "## Guardrails next to rendering\n\n\
`cargo bench -p flotilla --bench guardrails -- --objects {objects_arg} --rounds {rounds}` (release, one thread, \
medians of {rounds} rounds, in-process): a synthetic tree of {objects} objects ({clusters} Kafka clusters with a \
node pool each, {per_cluster} topics per cluster and a user for every second topic), rendered by the \
kustomize renderer; the second revision edits every tenth topic (partitions up, retention down: \
{findings} findings, all warnings).\n\n\
| measurement | median | share of one render |\n| --- | ---: | ---: |\n\
| render the tree (once) | {render:.1} ms | 100% |\n\
| rules on the (before, after) pair, pairing included | {rules:.1} ms | {rules_share:.1}% |\n\
| 1,000 Avro BACKWARD checks (a record gaining a defaulted field, int → long) | {schemas:.1} ms | {schemas_share:.1}% |\n\
| both | {both:.1} ms | {both_share:.1}% |\n\n\
Goal (issue 14): checking costs less than 10% of rendering.\n",
        objects_arg = args.objects,
        rounds = args.rounds,
        render = milliseconds(render_median),
        rules = milliseconds(rules_median),
        schemas = milliseconds(schema_median),
        rules_share = share(rules_median),
        schemas_share = share(schema_median),
        both = milliseconds(rules_median + schema_median),
        both_share = share(rules_median + schema_median),
    );
    println!("{table}");
    benchmarks_md::write("guardrails-bench", &table);
}
