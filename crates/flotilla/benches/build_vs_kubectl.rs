//! Benchmark: `flotilla build` against `kubectl kustomize` on the same trees, alternating runs,
//! reporting median wall time, the ratio, and peak RSS of each, and checking the outputs are
//! byte-identical. Writes its table to `BENCHMARKS.md` (the section between the
//! `<!-- build-bench -->` markers) and prints it.
//!
//! Run: `cargo bench -p flotilla --bench build_vs_kubectl` (options: `--services N` (default
//! 850, about 10,200 resources), `--large-runs N` (default 1: kubectl needs tens of minutes per
//! run of the large tree), `--runs N` for the small trees (default 5), `--small N` cases).
//! Needs `kubectl` on PATH for the comparison.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    services: usize,
    /// Runs of the large tree (kubectl takes many minutes per run there).
    large_runs: usize,
    runs: usize,
    small_cases: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        services: 850,
        large_runs: 1,
        runs: 5,
        small_cases: 40,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut index = 0;
    while index < raw.len() {
        let value = raw.get(index + 1).and_then(|v| v.parse().ok());
        match (raw[index].as_str(), value) {
            ("--services", Some(v)) => args.services = v,
            ("--runs", Some(v)) => args.runs = v,
            ("--large-runs", Some(v)) => args.large_runs = v,
            ("--small", Some(v)) => args.small_cases = v,
            _ => {}
        }
        index += 1;
    }
    args
}

/// One timed run: wall time, peak RSS in KiB, stdout.
struct Run {
    wall: Duration,
    max_rss_kib: i64,
    stdout: Vec<u8>,
    success: bool,
}

// The child is reaped with `wait4` (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run(program: &str, args: &[&str], dir: &Path) -> Run {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {program}: {error}"));
    let pid = child.id() as libc::pid_t;
    let mut stdout = Vec::new();
    if let Some(mut pipe) = child.stdout {
        use std::io::Read;
        pipe.read_to_end(&mut stdout).expect("read child stdout");
    }
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for the child we spawned and own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage point to valid, writable memory.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    Run {
        wall: started.elapsed(),
        max_rss_kib: usage.ru_maxrss,
        stdout,
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN timings"));
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dir");
    }
    std::fs::write(path, text).expect("write");
}

/// A GitOps-shaped tree: `services` service bases (Deployment, Service, ServiceAccount,
/// ConfigMap generator, name references between them) and dev/staging/prod overlays that each
/// include every base with a namespace, prefix, labels, per-service patches (strategic merge
/// and JSON 6902), image overrides and generators; the root builds all three.
fn generate_tree(root: &Path, services: usize) -> usize {
    let _ = std::fs::remove_dir_all(root);
    for index in 0..services {
        let name = format!("svc{index:04}");
        let dir = root.join("services").join(&name);
        write(
            &dir.join("kustomization.yaml"),
            &format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\n- serviceaccount.yaml\nconfigMapGenerator:\n- name: {name}-config\n  literals:\n  - LOG_LEVEL=info\n  - SERVICE={name}\n  - TOPIC=orders.{index}\ncommonLabels:\n  app: {name}\n"
            ),
        );
        write(
            &dir.join("deployment.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  template:\n    spec:\n      serviceAccountName: {name}\n      containers:\n      - name: app\n        image: registry.example.com/{name}:1.0.0\n        ports:\n        - containerPort: 8080\n        envFrom:\n        - configMapRef:\n            name: {name}-config\n        resources:\n          limits:\n            cpu: 500m\n            memory: 256Mi\n      volumes:\n      - name: config\n        configMap:\n          name: {name}-config\n"
            ),
        );
        write(
            &dir.join("service.yaml"),
            &format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  ports:\n  - port: 80\n    targetPort: 8080\n"),
        );
        write(
            &dir.join("serviceaccount.yaml"),
            &format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n"),
        );
    }
    for (env, replicas) in [("dev", 1), ("staging", 2), ("prod", 3)] {
        let dir = root.join("envs").join(env);
        let mut kustomization = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {env}\nnamePrefix: {env}-\ncommonLabels:\n  env: {env}\nresources:\n"
        );
        for index in 0..services {
            let _ = writeln!(kustomization, "- ../../services/svc{index:04}");
        }
        kustomization.push_str("patches:\n");
        for index in (0..services).step_by(2) {
            let name = format!("svc{index:04}");
            write(
                &dir.join(format!("patches/{name}.yaml")),
                &format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  template:\n    spec:\n      containers:\n      - name: app\n        resources:\n          limits:\n            memory: 512Mi\n"),
            );
            let _ = writeln!(kustomization, "- path: patches/{name}.yaml");
        }
        for index in (1..services).step_by(5) {
            let _ = writeln!(
                kustomization,
                "- target:\n    kind: Deployment\n    name: svc{index:04}\n  patch: |-\n    - op: add\n      path: /spec/template/spec/containers/0/env\n      value:\n      - name: ENVIRONMENT\n        value: {env}"
            );
        }
        kustomization.push_str("images:\n");
        for index in (0..services).step_by(7) {
            let _ = writeln!(
                kustomization,
                "- name: registry.example.com/svc{index:04}\n  newTag: 1.0.{replicas}"
            );
        }
        kustomization.push_str("configMapGenerator:\n");
        for index in (0..services).step_by(3) {
            let _ = writeln!(
                kustomization,
                "- name: svc{index:04}-config\n  behavior: merge\n  literals:\n  - LOG_LEVEL={}",
                if env == "prod" { "warn" } else { "debug" }
            );
        }
        write(&dir.join("kustomization.yaml"), &kustomization);
    }
    write(
        &root.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- envs/dev\n- envs/staging\n- envs/prod\n",
    );
    services * 4 * 3
}

struct Comparison {
    label: String,
    ours: f64,
    theirs: Option<f64>,
    ours_rss: i64,
    theirs_rss: Option<i64>,
    identical: Option<bool>,
}

fn compare(
    label: &str,
    dirs: &[PathBuf],
    runs: usize,
    flotilla: &str,
    kubectl: Option<&str>,
) -> Comparison {
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut ours_rss = 0;
    let mut theirs_rss = 0;
    let mut identical = true;
    for _ in 0..runs {
        let mut ours_total = 0.0;
        let mut theirs_total = 0.0;
        for dir in dirs {
            // Alternate: ours, then theirs, on the same input.
            let mine = run(flotilla, &["build"], dir);
            assert!(mine.success, "flotilla build failed on {}", dir.display());
            ours_total += mine.wall.as_secs_f64();
            ours_rss = ours_rss.max(mine.max_rss_kib);
            if let Some(kubectl) = kubectl {
                let reference = run(kubectl, &["kustomize"], dir);
                theirs_total += reference.wall.as_secs_f64();
                theirs_rss = theirs_rss.max(reference.max_rss_kib);
                identical &= reference.success && reference.stdout == mine.stdout;
            }
        }
        ours.push(ours_total / dirs.len() as f64);
        theirs.push(theirs_total / dirs.len() as f64);
    }
    Comparison {
        label: label.to_string(),
        ours: median(&mut ours),
        theirs: kubectl.map(|_| median(&mut theirs)),
        ours_rss,
        theirs_rss: kubectl.map(|_| theirs_rss),
        identical: kubectl.map(|_| identical),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; ignore it with any other flag we do not know.
    let args = parse_args();
    let flotilla = env!("CARGO_BIN_EXE_flotilla");
    let kubectl = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|_| "kubectl");
    if kubectl.is_none() {
        eprintln!("note: kubectl not found on PATH; reporting flotilla alone");
    }
    let work = std::env::temp_dir().join(format!("flotilla-bench-{}", std::process::id()));
    let tree = work.join("large");
    // `--large-runs 0` skips the large tree (kubectl needs about half an hour on it).
    let large = (args.large_runs > 0).then(|| {
        let resources = generate_tree(&tree, args.services);
        eprintln!(
            "generated {} services, about {resources} resources",
            args.services
        );
        compare(
            &format!(
                "synthetic tree: {} services × 3 overlays (~{resources} resources)",
                args.services
            ),
            std::slice::from_ref(&tree),
            args.large_runs,
            flotilla,
            kubectl,
        )
    });
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../flotilla-kustomize/tests/corpus/cases");
    let mut small_dirs: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.path())
                .filter(|path| path.join("expected.yaml").exists() && !path.join("entry").exists())
                .map(|path| path.join("input"))
                .collect()
        })
        .unwrap_or_default();
    small_dirs.sort();
    // Cases flotilla already reproduces byte for byte (see KNOWN_DIFFERENCES.md for the rest).
    let small_dirs: Vec<PathBuf> = small_dirs
        .into_iter()
        .filter(|dir| {
            let expected = std::fs::read(dir.with_file_name("expected.yaml")).unwrap_or_default();
            let mine = run(flotilla, &["build"], dir);
            mine.success && mine.stdout == expected
        })
        .take(args.small_cases)
        .collect();
    let small = compare(
        &format!(
            "small trees: {} corpus cases, time per directory",
            small_dirs.len()
        ),
        &small_dirs,
        args.runs,
        flotilla,
        kubectl,
    );

    let mut table = String::from(
        "| input | flotilla (median) | kubectl kustomize (median) | speed-up | peak RSS flotilla | peak RSS kubectl | RSS ratio | identical output |\n|---|---|---|---|---|---|---|---|\n",
    );
    for row in large.iter().chain([&small]) {
        let theirs = row
            .theirs
            .map(|t| format!("{:.1} ms", t * 1000.0))
            .unwrap_or_else(|| "n/a".into());
        let ratio = row
            .theirs
            .map(|t| format!("{:.1}×", t / row.ours))
            .unwrap_or_else(|| "n/a".into());
        let theirs_rss = row
            .theirs_rss
            .map(|r| format!("{:.1} MiB", r as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into());
        let rss_ratio = row
            .theirs_rss
            .map(|r| format!("{:.2}", row.ours_rss as f64 / r as f64))
            .unwrap_or_else(|| "n/a".into());
        let identical = match row.identical {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "n/a",
        };
        let _ = writeln!(
            table,
            "| {} | {:.1} ms | {theirs} | {ratio} | {:.1} MiB | {theirs_rss} | {rss_ratio} | {identical} |",
            row.label,
            row.ours * 1000.0,
            row.ours_rss as f64 / 1024.0,
        );
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let section = format!(
        "<!-- build-bench -->\n## `flotilla build` vs `kubectl kustomize`\n\nMeasured by `cargo bench -p flotilla --bench build_vs_kubectl`: large tree {} run(s) per tool, small trees {} runs per tool, alternating on the same input, medians; {cores} cores. Peak RSS from `wait4`.\n\n{table}\n<!-- /build-bench -->\n",
        args.large_runs, args.runs
    );
    print!("{section}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md");
    let existing =
        std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n\n".to_string());
    let updated = match (
        existing.find("<!-- build-bench -->"),
        existing.find("<!-- /build-bench -->"),
    ) {
        (Some(start), Some(end)) => {
            let end = end + "<!-- /build-bench -->\n".len();
            format!(
                "{}{}{}",
                &existing[..start],
                section,
                existing.get(end..).unwrap_or("")
            )
        }
        _ => format!("{existing}{section}"),
    };
    std::fs::write(&path, updated).expect("write BENCHMARKS.md");
    let _ = std::fs::remove_dir_all(&work);
}
