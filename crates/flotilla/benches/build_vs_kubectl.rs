//! Benchmark: `flotilla build` against `kubectl kustomize` on the same trees, alternating runs,
//! reporting median wall time, the ratio, and peak RSS of each, and checking the outputs are
//! byte-identical. Writes its table to `BENCHMARKS.md` (the section between the
//! `<!-- build-bench -->` markers) and prints it.
//!
//! Run: `cargo bench -p flotilla --bench build_vs_kubectl -- [options]`:
//! - `--sizes 1500,3000`: synthetic trees of about that many objects (12 per service: a
//!   Deployment, Service, ServiceAccount and ConfigMap in each of three overlays), so 125 and 250
//!   services; the table reports the number of objects actually built;
//! - `--runs N` (default 5): runs per tool of every tree, alternating tools on each input;
//! - `--baseline PATH`: another `flotilla` binary (e.g. one built before a change) measured in
//!   the same alternation, for before/after;
//! - `--flotilla PATH`: the binary measured (default: the one cargo built for this bench; a copy
//!   keeps a long run safe from builds that replace `target/release/flotilla` meanwhile);
//! - `--large-services N` with `--large-runs N` (default 0: skipped): the large tree (850
//!   services, about 10,200 objects; kubectl needs about half an hour per run there). When it is
//!   not run, the large-tree note of the previous run is kept in BENCHMARKS.md as it was;
//! - `--small N` (default 40, 0 skips): corpus cases flotilla reproduces exactly, time per
//!   directory;
//! - `--keep DIR`: generate the trees under DIR and leave them there (for profiling);
//!   `--generate-only` stops after generating.
//!
//! Needs `kubectl` on PATH for the comparison.

#[path = "../../../benches/benchmarks_md.rs"]
mod benchmarks_md;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    /// Target object counts of the synthetic trees.
    sizes: Vec<usize>,
    runs: usize,
    baseline: Option<String>,
    flotilla: Option<String>,
    large_services: usize,
    /// Runs of the large tree (kubectl takes many minutes per run there); 0 skips it.
    large_runs: usize,
    small_cases: usize,
    keep: Option<PathBuf>,
    generate_only: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        sizes: vec![1500, 3000],
        runs: 5,
        baseline: None,
        flotilla: None,
        large_services: 850,
        large_runs: 0,
        small_cases: 40,
        keep: None,
        generate_only: false,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut index = 0;
    while index < raw.len() {
        let text = raw.get(index + 1).cloned().unwrap_or_default();
        let number = text.parse::<usize>().ok();
        let mut takes_value = true;
        match (raw[index].as_str(), number) {
            ("--sizes", _) => {
                args.sizes = text
                    .split(',')
                    .filter(|size| !size.trim().is_empty())
                    .map(|size| {
                        size.trim()
                            .parse()
                            .unwrap_or_else(|_| panic!("--sizes: `{size}` is not a number"))
                    })
                    .collect()
            }
            ("--runs", Some(v)) => args.runs = v.max(1),
            ("--baseline", _) => args.baseline = Some(text),
            ("--flotilla", _) => args.flotilla = Some(text),
            ("--large-services", Some(v)) => args.large_services = v,
            ("--large-runs", Some(v)) => args.large_runs = v,
            ("--small", Some(v)) => args.small_cases = v,
            ("--keep", _) => args.keep = Some(PathBuf::from(text)),
            ("--generate-only", _) => {
                args.generate_only = true;
                takes_value = false;
            }
            // `cargo bench` passes `--bench`; anything unknown is ignored.
            _ => takes_value = false,
        }
        index += if takes_value { 2 } else { 1 };
    }
    args
}

/// One timed run: wall time, CPU time (user and system), peak RSS in KiB, stdout.
struct Run {
    wall: Duration,
    cpu: Duration,
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
        cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
        stdout,
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
    }
}

fn timeval(time: libc::timeval) -> Duration {
    Duration::from_secs(time.tv_sec.max(0) as u64)
        + Duration::from_micros(time.tv_usec.max(0) as u64)
}

fn median(values: &[f64]) -> f64 {
    let mut values = values.to_vec();
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

/// Objects per service in the synthetic tree: Deployment, Service, ServiceAccount and ConfigMap,
/// in each of the three overlays.
const OBJECTS_PER_SERVICE: usize = 4 * 3;

/// A GitOps-shaped tree: `services` service bases (Deployment, Service, ServiceAccount,
/// ConfigMap generator, name references between them) and dev/staging/prod overlays that each
/// include every base with a namespace, prefix, labels, per-service patches (strategic merge
/// and JSON 6902), image overrides and generators; the root builds all three.
fn generate_tree(root: &Path, services: usize) {
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
}

/// The number of documents in a build's output.
fn documents(output: &[u8]) -> usize {
    if output.is_empty() {
        return 0;
    }
    1 + output
        .windows(5)
        .filter(|window| window == b"\n---\n")
        .count()
}

/// The samples of one tool on one input.
#[derive(Default)]
struct Samples {
    /// Wall time per run (per directory, for a set of small trees), seconds.
    times: Vec<f64>,
    /// CPU time per run (user and system, the process alone), seconds: what the machine's
    /// other work disturbs least.
    cpu_times: Vec<f64>,
    max_rss_kib: i64,
    /// Every run succeeded and printed what kubectl printed (when kubectl ran).
    identical: bool,
}

impl Samples {
    fn new() -> Self {
        Samples {
            identical: true,
            ..Samples::default()
        }
    }

    fn median_ms(&self) -> f64 {
        median(&self.times) * 1000.0
    }

    fn range_ms(&self) -> (f64, f64) {
        let min = self.times.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.times.iter().copied().fold(0.0, f64::max);
        (min * 1000.0, max * 1000.0)
    }
}

struct Comparison {
    label: String,
    /// Objects in the output (the first directory's, for a single tree).
    objects: usize,
    ours: Samples,
    baseline: Option<Samples>,
    theirs: Option<Samples>,
}

/// Runs every tool `runs` times on `dirs`, alternating (baseline, flotilla, kubectl) on each
/// directory, and compares every output with kubectl's (or with flotilla's first, when kubectl
/// is absent).
fn compare(
    label: &str,
    dirs: &[PathBuf],
    runs: usize,
    flotilla: &str,
    baseline: Option<&str>,
    kubectl: Option<&str>,
) -> Comparison {
    let mut ours = Samples::new();
    let mut before = baseline.map(|_| Samples::new());
    let mut theirs = kubectl.map(|_| Samples::new());
    let mut objects = 0;
    for round in 0..runs {
        let mut totals = [0.0_f64; 3];
        let mut cpu_totals = [0.0_f64; 3];
        for (index, dir) in dirs.iter().enumerate() {
            let mut outputs: [Option<Run>; 3] = [None, None, None];
            if let Some(baseline) = baseline {
                outputs[0] = Some(run(baseline, &["build"], dir));
            }
            outputs[1] = Some(run(flotilla, &["build"], dir));
            if let Some(kubectl) = kubectl {
                outputs[2] = Some(run(kubectl, &["kustomize"], dir));
            }
            let mine = outputs[1].as_ref().expect("flotilla ran");
            assert!(mine.success, "flotilla build failed on {}", dir.display());
            if round == 0 && index == 0 {
                objects = documents(&mine.stdout);
            }
            let reference = outputs[2].as_ref().unwrap_or(mine);
            for (slot, samples) in [
                (0, before.as_mut()),
                (1, Some(&mut ours)),
                (2, theirs.as_mut()),
            ] {
                let (Some(output), Some(samples)) = (outputs[slot].as_ref(), samples) else {
                    continue;
                };
                totals[slot] += output.wall.as_secs_f64();
                cpu_totals[slot] += output.cpu.as_secs_f64();
                samples.max_rss_kib = samples.max_rss_kib.max(output.max_rss_kib);
                samples.identical &=
                    output.success && reference.success && output.stdout == reference.stdout;
            }
        }
        for (slot, samples) in [
            (0, before.as_mut()),
            (1, Some(&mut ours)),
            (2, theirs.as_mut()),
        ] {
            if let Some(samples) = samples {
                samples.times.push(totals[slot] / dirs.len() as f64);
                samples.cpu_times.push(cpu_totals[slot] / dirs.len() as f64);
            }
        }
        eprintln!(
            "  {label}: round {}/{runs}: flotilla {:.1} ms{}{}",
            round + 1,
            ours.times.last().copied().unwrap_or(0.0) * 1000.0,
            before
                .as_ref()
                .and_then(|b| b.times.last())
                .map(|t| format!(", baseline {:.1} ms", t * 1000.0))
                .unwrap_or_default(),
            theirs
                .as_ref()
                .and_then(|k| k.times.last())
                .map(|t| format!(", kubectl {:.1} ms", t * 1000.0))
                .unwrap_or_default(),
        );
    }
    Comparison {
        label: label.to_string(),
        objects,
        ours,
        baseline: before,
        theirs,
    }
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn time_cell(samples: &Samples) -> String {
    let (min, max) = samples.range_ms();
    if samples.times.len() > 1 {
        format!("{:.1} ms ({min:.1}–{max:.1})", samples.median_ms())
    } else {
        format!("{:.1} ms", samples.median_ms())
    }
}

impl Samples {
    fn cpu_median_ms(&self) -> f64 {
        median(&self.cpu_times) * 1000.0
    }
}

/// One column of the table: its header, whether it is right-aligned, and its cell for a row.
type Column = (String, bool, Box<dyn Fn(&Comparison) -> String>);

fn table(rows: &[Comparison], with_baseline: bool) -> String {
    let na = || "n/a".to_string();
    let mut columns: Vec<Column> = vec![
        ("input".into(), false, Box::new(|row| row.label.clone())),
        (
            "objects".into(),
            true,
            Box::new(|row| row.objects.to_string()),
        ),
        (
            "flotilla".into(),
            true,
            Box::new(|row| time_cell(&row.ours)),
        ),
    ];
    if with_baseline {
        columns.push((
            "flotilla before".into(),
            true,
            Box::new(move |row| row.baseline.as_ref().map(time_cell).unwrap_or_else(na)),
        ));
    }
    columns.push((
        "kubectl kustomize".into(),
        true,
        Box::new(move |row| row.theirs.as_ref().map(time_cell).unwrap_or_else(na)),
    ));
    columns.push((
        "speed-up vs kubectl".into(),
        true,
        Box::new(move |row| {
            row.theirs
                .as_ref()
                .map(|t| format!("{:.1}×", t.median_ms() / row.ours.median_ms()))
                .unwrap_or_else(na)
        }),
    ));
    if with_baseline {
        columns.push((
            "before → after".into(),
            true,
            Box::new(move |row| {
                row.baseline
                    .as_ref()
                    .map(|b| format!("{:.1}× faster", b.median_ms() / row.ours.median_ms()))
                    .unwrap_or_else(na)
            }),
        ));
    }
    let cpu = |samples: &Samples| format!("{:.1} ms", samples.cpu_median_ms());
    columns.push((
        "CPU flotilla".into(),
        true,
        Box::new(move |row| cpu(&row.ours)),
    ));
    if with_baseline {
        columns.push((
            "CPU before".into(),
            true,
            Box::new(move |row| row.baseline.as_ref().map(cpu).unwrap_or_else(na)),
        ));
    }
    columns.push((
        "CPU kubectl".into(),
        true,
        Box::new(move |row| row.theirs.as_ref().map(cpu).unwrap_or_else(na)),
    ));
    columns.push((
        "peak RSS flotilla".into(),
        true,
        Box::new(|row| mib(row.ours.max_rss_kib)),
    ));
    if with_baseline {
        columns.push((
            "peak RSS before".into(),
            true,
            Box::new(move |row| {
                row.baseline
                    .as_ref()
                    .map(|b| mib(b.max_rss_kib))
                    .unwrap_or_else(na)
            }),
        ));
    }
    columns.push((
        "peak RSS kubectl".into(),
        true,
        Box::new(move |row| {
            row.theirs
                .as_ref()
                .map(|t| mib(t.max_rss_kib))
                .unwrap_or_else(na)
        }),
    ));
    columns.push((
        "identical output".into(),
        false,
        Box::new(|row| {
            let yes = |identical: bool| if identical { "yes" } else { "NO" };
            match (&row.theirs, &row.baseline) {
                (None, _) => "n/a (no kubectl)".to_string(),
                (Some(_), Some(before)) => format!(
                    "{} (before: {})",
                    yes(row.ours.identical),
                    yes(before.identical)
                ),
                (Some(_), None) => yes(row.ours.identical).to_string(),
            }
        }),
    ));
    let mut text = String::from("|");
    for (header, _, _) in &columns {
        let _ = write!(text, " {header} |");
    }
    text.push_str("\n|");
    for (_, right, _) in &columns {
        text.push_str(if *right { "---:|" } else { "---|" });
    }
    text.push('\n');
    for row in rows {
        text.push('|');
        for (_, _, cell) in &columns {
            let _ = write!(text, " {} |", cell(row));
        }
        text.push('\n');
    }
    text
}

/// Today's date (UTC) as `YYYY-MM-DD`, for the report.
fn today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

const LARGE_START: &str = "<!-- build-bench-large -->";
const LARGE_END: &str = "<!-- /build-bench-large -->";

fn main() {
    let args = parse_args();
    let flotilla = args
        .flotilla
        .as_deref()
        .unwrap_or(env!("CARGO_BIN_EXE_flotilla"));
    let kubectl = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|_| "kubectl");
    if kubectl.is_none() {
        eprintln!("note: kubectl not found on PATH; reporting flotilla alone");
    }
    let keep = args.keep.is_some();
    let work = args.keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("flotilla-bench-{}", std::process::id()))
    });
    let trees: Vec<(usize, PathBuf)> = args
        .sizes
        .iter()
        .map(|&size| {
            let services = size.div_ceil(OBJECTS_PER_SERVICE).max(1);
            let dir = work.join(format!("synthetic-{size}"));
            generate_tree(&dir, services);
            eprintln!(
                "generated {} ({services} services, about {} objects)",
                dir.display(),
                services * OBJECTS_PER_SERVICE
            );
            (services, dir)
        })
        .collect();
    let large_tree = work.join("large");
    if args.large_runs > 0 {
        generate_tree(&large_tree, args.large_services);
        eprintln!(
            "generated {} ({} services)",
            large_tree.display(),
            args.large_services
        );
    }
    if args.generate_only {
        return;
    }
    let baseline = args.baseline.as_deref();
    let mut rows = Vec::new();
    for (services, dir) in &trees {
        rows.push(compare(
            &format!("synthetic tree, {services} services × 3 overlays"),
            std::slice::from_ref(dir),
            args.runs,
            flotilla,
            baseline,
            kubectl,
        ));
    }
    if args.small_cases > 0 {
        let corpus =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../flotilla-kustomize/tests/corpus/cases");
        let mut small_dirs: Vec<PathBuf> = std::fs::read_dir(&corpus)
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.path())
                    .filter(|path| {
                        path.join("expected.yaml").exists() && !path.join("entry").exists()
                    })
                    .map(|path| path.join("input"))
                    .collect()
            })
            .unwrap_or_default();
        small_dirs.sort();
        // Cases flotilla already reproduces byte for byte (see KNOWN_DIFFERENCES.md for the rest).
        let small_dirs: Vec<PathBuf> = small_dirs
            .into_iter()
            .filter(|dir| {
                let expected =
                    std::fs::read(dir.with_file_name("expected.yaml")).unwrap_or_default();
                let mine = run(flotilla, &["build"], dir);
                mine.success && mine.stdout == expected
            })
            .take(args.small_cases)
            .collect();
        let mut small = compare(
            &format!(
                "small trees: {} corpus cases, time per directory",
                small_dirs.len()
            ),
            &small_dirs,
            args.runs,
            flotilla,
            baseline,
            kubectl,
        );
        small.objects = small_dirs
            .iter()
            .map(|dir| documents(&run(flotilla, &["build"], dir).stdout))
            .sum();
        rows.push(small);
    }
    let large = (args.large_runs > 0).then(|| {
        compare(
            &format!(
                "large synthetic tree, {} services × 3 overlays",
                args.large_services
            ),
            std::slice::from_ref(&large_tree),
            args.large_runs,
            flotilla,
            baseline,
            kubectl,
        )
    });

    let date = today();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let sizes: Vec<String> = args.sizes.iter().map(usize::to_string).collect();
    let mut options = format!("--sizes {} --runs {}", sizes.join(","), args.runs);
    if baseline.is_some() {
        options.push_str(" --baseline BINARY");
    }
    if args.small_cases != 40 {
        let _ = write!(options, " --small {}", args.small_cases);
    }
    let mut section = format!(
        "## `flotilla build` vs `kubectl kustomize`\n\nMeasured by `cargo bench -p flotilla --bench build_vs_kubectl -- {options}` on {date} ({cores} cores): every tool run {} times on each input, alternating{} on the same input; medians of wall time, with the range in brackets, and of CPU time (user and system, from `wait4`: what other work on the machine disturbs least); peak RSS from `wait4` (the largest of the runs); outputs compared byte for byte with kubectl's. Objects: documents in the output (for the small trees, summed over the cases).\n\n{}",
        args.runs,
        if baseline.is_some() {
            " (flotilla before, flotilla, kubectl)"
        } else {
            " (flotilla, kubectl)"
        },
        table(&rows, baseline.is_some()),
    );
    // The section as it stands, for the large tree's note.
    let existing = std::fs::read_to_string(benchmarks_md::path()).unwrap_or_default();
    // The large tree takes kubectl about half an hour a run: its note stays as measured on its
    // own date unless this run measured it again.
    let large_note = match &large {
        Some(large) => format!(
            "{LARGE_START}\nLarge tree, measured on {date} by `-- --large-services {} --large-runs {}` ({} run(s) per tool{}):\n\n{}{LARGE_END}\n",
            args.large_services,
            args.large_runs,
            args.large_runs,
            if args.large_runs == 1 { ", a single sample, not a median" } else { "" },
            table(std::slice::from_ref(large), baseline.is_some()),
        ),
        None => match (existing.find(LARGE_START), existing.find(LARGE_END)) {
            (Some(start), Some(end)) if start < end => {
                format!("{}\n", &existing[start..end + LARGE_END.len()])
            }
            _ => String::new(),
        },
    };
    if !large_note.is_empty() {
        section.push('\n');
        section.push_str(&large_note);
    }
    print!("{section}");
    benchmarks_md::write("build-bench", &section);
    if !keep {
        let _ = std::fs::remove_dir_all(&work);
    }
}
