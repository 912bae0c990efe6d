//! Mistakes of a new user's first hour, run as commands: a command whose reader goes away ends
//! quietly, as Unix tools do (`flotilla build DIR | head -1` on an output larger than a pipe
//! holds neither panics nor prints anything); `up --repo` with a path that does not exist is
//! refused at start; a second `up` in the same directory or on a taken address is refused with
//! what holds it and the flag to change, and never prints an address it does not serve; an
//! unreachable cluster is named with the cause, and a missing kubeconfig with where `up` writes
//! one; `app get` shows the mirror that is synced; `build` names a missing directory once; and
//! the commands a user expects of a CLI are there (`completion`, `version`, `app list -A`,
//! `-o json|yaml` on `app diff`, `app sync` and `app wait`).

mod cli_support;
use cli_support::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A scratch directory of this test, empty.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("flotilla-first-hour-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    dir
}

/// Runs a command that is expected to end; one that has not ended after two minutes (a command
/// that should have refused to start and serves instead) is killed and the test fails.
fn run_bounded(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start flotilla");
    let pid = child.id() as i32;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("wait for flotilla"),
        Err(_) => {
            // SAFETY: killing our own child process, which has not been waited for yet.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            let output = receiver
                .recv()
                .expect("the waiting thread answers")
                .expect("wait for flotilla");
            panic!("the command kept running:\n{}", text(&output));
        }
    }
}

/// A `flotilla up` running in the background, killed when dropped.
struct Up {
    child: Child,
    /// Its standard output so far (the banner).
    banner: String,
    stderr_file: PathBuf,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Up {
    /// Starts `flotilla up` in `data_dir` on any free ports and waits for its banner.
    fn start(data_dir: &Path) -> Up {
        let stderr_file = data_dir.with_extension("stderr");
        let mut child = flotilla()
            .args(["up", "--repo-poll", "1h", "--simulate-delay-ms", "50"])
            .args(["--sealing-key-bits", "1024", "--log-level", "warn"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--cluster-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_file).expect("stderr file"))
            .spawn()
            .expect("start flotilla up");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut up = Up {
            child,
            banner: String::new(),
            stderr_file,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = lines.recv_timeout(left) else {
                break;
            };
            up.banner.push_str(&line);
            up.banner.push('\n');
            if line.contains("press Ctrl-C") {
                // Later lines (status changes) are read and dropped.
                std::thread::spawn(move || for _ in lines {});
                return up;
            }
        }
        panic!(
            "flotilla up did not start:\n{}\nstderr:\n{}",
            up.banner,
            std::fs::read_to_string(&up.stderr_file).unwrap_or_default()
        );
    }

    /// The value after `label` on a banner line (`  cluster:    https://…`).
    fn banner_value(&self, label: &str) -> String {
        self.banner
            .lines()
            .find_map(|line| line.trim_start().strip_prefix(label))
            .map(|rest| rest.trim().to_string())
            .unwrap_or_else(|| panic!("no `{label}` in the banner:\n{}", self.banner))
    }

    /// The address of the embedded cluster, `127.0.0.1:PORT`.
    fn cluster_address(&self) -> String {
        let value = self.banner_value("cluster:");
        let url = value.split_whitespace().next().expect("a URL");
        url.trim_start_matches("https://").to_string()
    }

    /// The address of the metrics, webhook and certificate listener, `127.0.0.1:PORT`.
    fn web_address(&self) -> String {
        let value = self.banner_value("sealing:");
        let url = value
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .expect("the certificate URL");
        url.trim_start_matches("http://")
            .trim_end_matches("/v1/cert.pem")
            .to_string()
    }
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    let dir = scratch("pipes");
    let mut kustomization = String::from("configMapGenerator:\n");
    for index in 0..3000 {
        kustomization.push_str(&format!(
            "- name: settings-{index}\n  literals:\n  - key=a-value-long-enough-to-fill-a-pipe-{index}\n"
        ));
    }
    std::fs::write(dir.join("kustomization.yaml"), kustomization).expect("write");
    let mut child = flotilla()
        .arg("build")
        .arg(&dir)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run flotilla build");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("first line");
    // The reader (`head -1`) is gone now.
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(first, "apiVersion: v1\n");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
    assert_ne!(output.status.code(), Some(101), "no panic: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn up_refuses_a_repository_path_that_does_not_exist() {
    let output = flotilla()
        .args(["up", "--repo", "/no/such/path", "--data-dir"])
        .arg(std::env::temp_dir().join(format!("flotilla-no-repo-{}", std::process::id())))
        .output()
        .expect("run flotilla up");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}{stderr}");
    assert!(!stdout.contains("flotilla is up"), "{stdout}");
    assert!(
        stderr.contains("`/no/such/path` does not exist"),
        "{stderr}"
    );
}

#[test]
fn a_second_up_is_refused_with_what_holds_its_directory_or_address() {
    let root = scratch("second-up");
    let first_dir = root.join("first");
    let up = Up::start(&first_dir);
    let cluster_address = up.cluster_address();
    let web_address = up.web_address();
    // The banner names the addresses actually bound (`--listen 127.0.0.1:0` took a free port).
    assert!(!cluster_address.ends_with(":0"), "{}", up.banner);
    assert!(!web_address.ends_with(":0"), "{}", up.banner);

    // The same directory: the running `up` is named, with what to do.
    let second = run_bounded(
        flotilla()
            .args(["up", "--sealing-key-bits", "1024", "--data-dir"])
            .arg(&first_dir)
            .args(["--cluster-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"]),
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(
        stderr.contains(&format!("another `flotilla up` (pid {}", up.child.id()))
            && stderr.contains(&format!("is running in `{}`", first_dir.display())),
        "{}",
        text(&second)
    );
    assert!(stderr.contains("--data-dir"), "{}", text(&second));
    assert!(
        !stderr.contains("Database already open"),
        "{}",
        text(&second)
    );
    assert!(!stderr.contains("--cluster-listen"), "{}", text(&second));

    // The listener's address taken: the address, the reason and `--listen`; nothing served.
    let taken = run_bounded(
        flotilla()
            .args(["up", "--sealing-key-bits", "1024", "--data-dir"])
            .arg(root.join("taken-listener"))
            .args(["--cluster-listen", "127.0.0.1:0", "--listen", &web_address]),
    );
    let stderr = String::from_utf8_lossy(&taken.stderr);
    assert_eq!(taken.status.code(), Some(1), "{}", text(&taken));
    assert!(
        stderr.contains(&format!("cannot listen on {web_address}"))
            && stderr.contains("the address is in use")
            && stderr.contains("`--listen ADDRESS`"),
        "{}",
        text(&taken)
    );
    let stdout = String::from_utf8_lossy(&taken.stdout);
    assert!(
        !stdout.contains("flotilla is up") && !stdout.contains(&web_address),
        "{}",
        text(&taken)
    );

    // The cluster's address taken: the same, with `--cluster-listen`.
    let taken = run_bounded(
        flotilla()
            .args(["up", "--sealing-key-bits", "1024", "--data-dir"])
            .arg(root.join("taken-cluster"))
            .args([
                "--cluster-listen",
                &cluster_address,
                "--listen",
                "127.0.0.1:0",
            ]),
    );
    let stderr = String::from_utf8_lossy(&taken.stderr);
    assert_eq!(taken.status.code(), Some(1), "{}", text(&taken));
    assert!(
        stderr.contains(&format!("cannot listen on {cluster_address}"))
            && stderr.contains("the address is in use")
            && stderr.contains("`--cluster-listen ADDRESS`"),
        "{}",
        text(&taken)
    );
    assert!(
        !String::from_utf8_lossy(&taken.stdout).contains("flotilla is up"),
        "{}",
        text(&taken)
    );
    drop(up);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn app_commands_show_the_mirror_every_namespace_and_data_as_json_or_yaml() {
    let root = scratch("app-data");
    let data_dir = root.join("up");
    let up = Up::start(&data_dir);
    let kubeconfig = data_dir.join("cluster/kubeconfig");
    let app = |arguments: &[&str]| {
        run_bounded(
            flotilla()
                .arg("app")
                .args(arguments)
                .arg("--kubeconfig")
                .arg(&kubeconfig),
        )
    };

    // `app get` says that a local mirror is what is synced.
    let got = app(&["get", "inventory"]);
    assert!(got.status.success(), "{}", text(&got));
    let mirror = format!(
        "Synced from:   file://{}",
        std::fs::canonicalize(&data_dir)
            .expect("data dir")
            .join("example-repo")
            .display()
    );
    assert!(
        String::from_utf8_lossy(&got.stdout).contains(&mirror),
        "{mirror}\n{}",
        text(&got)
    );

    // `app wait -o json` prints the Application, and nothing else, once it is ready (apps-dev
    // exists once the root Application has synced).
    let waited = app(&["wait", "inventory", "--timeout", "2m"]);
    assert!(waited.status.success(), "{}", text(&waited));
    let waited = app(&["wait", "apps-dev", "--timeout", "2m", "-o", "json"]);
    assert!(waited.status.success(), "{}", text(&waited));
    let application: serde_json::Value = serde_json::from_slice(&waited.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&waited)));
    assert_eq!(application["metadata"]["name"], "apps-dev");
    assert_eq!(application["status"]["sync"]["status"], "Synced");

    // `app list -A`: every namespace, with a NAMESPACE column; `-o yaml` a List.
    let listed = app(&["list", "-A"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let listed_text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed_text.starts_with("NAMESPACE"), "{}", text(&listed));
    assert!(
        listed_text
            .lines()
            .any(|line| line.starts_with("argocd") && line.contains("apps-dev")),
        "{}",
        text(&listed)
    );
    let listed = app(&["list", "--all-namespaces", "-o", "yaml"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(
        String::from_utf8_lossy(&listed.stdout).starts_with("apiVersion: v1\nitems:\n"),
        "{}",
        text(&listed)
    );

    // `app diff -o json`: the differences as data, the exit code as without it.
    let diffed = app(&["diff", "apps-dev", "-o", "json"]);
    assert_eq!(diffed.status.code(), Some(0), "{}", text(&diffed));
    let preview: serde_json::Value = serde_json::from_slice(&diffed.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&diffed)));
    assert_eq!(preview["hasDifferences"], false, "{preview}");
    assert_eq!(preview["differences"], serde_json::json!([]), "{preview}");

    // `app sync -o yaml`: the Application after the sync.
    let synced = app(&["sync", "apps-dev", "--timeout", "2m", "-o", "yaml"]);
    assert!(synced.status.success(), "{}", text(&synced));
    let synced_text = String::from_utf8_lossy(&synced.stdout);
    assert!(
        synced_text.starts_with("apiVersion: argoproj.io/v1alpha1\nkind: Application\n")
            && synced_text.contains("phase: Succeeded"),
        "{}",
        text(&synced)
    );
    drop(up);
    let _ = std::fs::remove_dir_all(&root);
}

/// A kubeconfig whose server is `server`.
fn kubeconfig_for(path: &Path, server: &str) {
    std::fs::write(
        path,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n"),
    )
    .expect("write the kubeconfig");
}

#[test]
fn an_unreachable_cluster_is_named_with_the_cause() {
    let root = scratch("unreachable");
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port");
    let kubeconfig = root.join("kubeconfig");
    kubeconfig_for(&kubeconfig, &format!("https://127.0.0.1:{port}"));
    for (arguments, code) in [
        (&["list"][..], 1),
        (&["get", "web"][..], 1),
        (&["diff", "web"][..], 2),
    ] {
        let output = run_bounded(
            flotilla()
                .arg("app")
                .args(arguments)
                .arg("--kubeconfig")
                .arg(&kubeconfig),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{}", text(&output));
        assert!(
            stderr.starts_with(&format!(
                "error: cannot reach the cluster at https://127.0.0.1:{port}: connection refused"
            )),
            "{}",
            text(&output)
        );
        assert!(
            !stderr.contains("serves no Applications"),
            "{}",
            text(&output)
        );
        assert!(stderr.contains("\n\nhint: "), "{}", text(&output));
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_cluster_without_applications_is_said_to_serve_none() {
    let root = scratch("no-applications");
    let mut child = flotilla()
        .args([
            "cluster",
            "serve",
            "--insecure-http",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(root.join("cluster"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start flotilla cluster serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Up {
        child,
        banner: String::new(),
        stderr_file: PathBuf::new(),
    };
    // Its first line says where it serves; the kubeconfig is written before it.
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("first line");
    assert!(
        first.starts_with("flotilla cluster serving on http://"),
        "{first}"
    );
    let output = run_bounded(
        flotilla()
            .args(["app", "list", "--kubeconfig"])
            .arg(root.join("cluster/kubeconfig")),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stderr.starts_with("error: the cluster at http://127.0.0.1:")
            && stderr.contains("serves no Applications"),
        "{}",
        text(&output)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_missing_kubeconfig_is_named_with_where_up_writes_one() {
    let root = scratch("no-kubeconfig");
    let explicit = run_bounded(
        flotilla()
            .args(["app", "list", "--kubeconfig"])
            .arg(root.join("no-such-kubeconfig")),
    );
    let stderr = String::from_utf8_lossy(&explicit.stderr);
    assert_eq!(explicit.status.code(), Some(1), "{}", text(&explicit));
    assert!(
        stderr.starts_with(&format!(
            "error: kubeconfig `{}` does not exist",
            root.join("no-such-kubeconfig").display()
        )),
        "{}",
        text(&explicit)
    );
    assert!(!stderr.contains("'\""), "{}", text(&explicit));
    assert!(
        stderr.contains("--kubeconfig") && stderr.contains(".flotilla/cluster/kubeconfig"),
        "{}",
        text(&explicit)
    );

    // Neither --kubeconfig nor KUBECONFIG, and no ~/.kube/config: the default path is named; in
    // a directory where `flotilla up` ran, the hint names the file it wrote.
    let home = root.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let default = run_bounded(
        flotilla()
            .args(["app", "list"])
            .env_remove("KUBECONFIG")
            .env("HOME", &home)
            .current_dir(&root),
    );
    let stderr = String::from_utf8_lossy(&default.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: kubeconfig `{}` does not exist",
            home.join(".kube/config").display()
        )) && stderr.contains("KUBECONFIG"),
        "{}",
        text(&default)
    );
    std::fs::create_dir_all(root.join(".flotilla/cluster")).expect("up's directory");
    kubeconfig_for(
        &root.join(".flotilla/cluster/kubeconfig"),
        "https://127.0.0.1:1",
    );
    let beside_up = run_bounded(
        flotilla()
            .args(["app", "list"])
            .env_remove("KUBECONFIG")
            .env("HOME", &home)
            .current_dir(&root),
    );
    assert!(
        String::from_utf8_lossy(&beside_up.stderr)
            .contains("hint: `flotilla up` wrote `.flotilla/cluster/kubeconfig` here: pass `--kubeconfig .flotilla/cluster/kubeconfig`"),
        "{}",
        text(&beside_up)
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn build_names_a_missing_directory_once() {
    let output = run_bounded(flotilla().args(["build", "/no/such/dir"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        stderr.starts_with("error: `/no/such/dir` does not exist\n"),
        "{}",
        text(&output)
    );
    assert_eq!(
        stderr.matches("/no/such/dir").count(),
        1,
        "{}",
        text(&output)
    );
    assert!(!stderr.contains("os error"), "{}", text(&output));
}

#[test]
fn build_help_says_its_default_once() {
    let output = run_bounded(flotilla().args(["build", "--help"]));
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", text(&output));
    let dir_line = help
        .lines()
        .find(|line| line.trim_start().starts_with("[DIR]"))
        .unwrap_or_else(|| panic!("{help}"));
    assert_eq!(dir_line.matches("default").count(), 1, "{dir_line}");
}

#[test]
fn completion_scripts_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "_flotilla()"),
        ("zsh", "#compdef flotilla"),
        ("fish", "complete -c flotilla"),
    ] {
        let output = run_bounded(flotilla().args(["completion", shell]));
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{}", text(&output));
        assert!(script.contains(marker), "{shell}: {script}");
        // Subcommands and their flags are completed.
        assert!(
            script.contains("app") && script.contains("all-namespaces"),
            "{shell}: {script}"
        );
    }
}

#[test]
fn version_prints_the_version_commit_and_target() {
    let output = run_bounded(flotilla().arg("version"));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        printed.starts_with(&format!("flotilla {}\n", env!("CARGO_PKG_VERSION"))),
        "{printed}"
    );
    assert!(
        printed.contains("\ncommit:") && printed.contains("\ntarget:"),
        "{printed}"
    );
    let output = run_bounded(flotilla().args(["version", "-o", "json"]));
    assert!(output.status.success(), "{}", text(&output));
    let version: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output)));
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    for field in ["gitCommit", "rustcVersion", "target"] {
        assert!(
            version[field]
                .as_str()
                .is_some_and(|value| !value.is_empty()),
            "{field}: {version}"
        );
    }
    let output = run_bounded(flotilla().args(["version", "-o", "yaml"]));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("\nversion: "),
        "{}",
        text(&output)
    );
}
