//! Embeds the bundled example solution (`examples/inventory/`) so `flotilla up` can write it out
//! as a git repository without the source tree at hand, embeds the install manifests
//! (`deploy/`) for `flotilla install`, and records what `flotilla version`
//! prints (the git commit, the compiler, the target).

use std::path::{Path, PathBuf};

fn collect(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// What a command prints, trimmed, when it runs and succeeds.
fn output_of(program: &str, arguments: &[&str], directory: &Path) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(arguments)
        .current_dir(directory)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// `flotilla version`'s facts: the commit (when the source is a git checkout and git is at
/// hand; the build runs again when HEAD or the branch it names moves), the compiler and the
/// target.
fn version_facts(manifest_dir: &Path) {
    let commit = output_of("git", &["rev-parse", "HEAD"], manifest_dir);
    println!(
        "cargo:rustc-env=FLOTILLA_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    if commit.is_some() {
        let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
        if let Some(branch) = output_of("git", &["symbolic-ref", "-q", "HEAD"], manifest_dir) {
            watched.push(branch);
        }
        for name in watched {
            if let Some(path) = output_of("git", &["rev-parse", "--git-path", &name], manifest_dir)
            {
                let path = manifest_dir.join(path);
                if path.exists() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    println!(
        "cargo:rustc-env=FLOTILLA_RUSTC_VERSION={}",
        output_of(&rustc, &["--version"], manifest_dir).unwrap_or_else(|| "unknown".into())
    );
    println!(
        "cargo:rustc-env=FLOTILLA_TARGET={}",
        std::env::var("TARGET").unwrap_or_else(|_| "unknown".into())
    );
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    version_facts(&manifest_dir);
    let example = manifest_dir.join("../../examples/inventory");
    println!("cargo:rerun-if-changed={}", example.display());
    let mut files = Vec::new();
    collect(&example, &mut files);
    files.sort();
    let mut generated = String::from("/// The bundled example solution: (path, contents).\npub const EXAMPLE_FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let relative = file
            .strip_prefix(&example)
            .expect("collected under the example")
            .to_string_lossy()
            .replace('\\', "/");
        let absolute = std::fs::canonicalize(file).expect("file exists");
        generated.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            absolute.to_string_lossy()
        ));
    }
    generated.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("example_files.rs");
    std::fs::write(out, generated).expect("write the generated file");
    embed_deploy(&manifest_dir);
}

/// Embeds the install manifests (`deploy/`, its kustomizations and YAML files) for `flotilla
/// install`.
fn embed_deploy(manifest_dir: &Path) {
    let deploy = manifest_dir.join("../../deploy");
    println!("cargo:rerun-if-changed={}", deploy.display());
    let mut files = Vec::new();
    collect(&deploy, &mut files);
    files.retain(|file| {
        file.extension()
            .is_some_and(|extension| extension == "yaml")
    });
    files.sort();
    let mut generated = String::from(
        "/// The install manifests, `deploy/`: (path, contents).\npub const DEPLOY_FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let relative = file
            .strip_prefix(&deploy)
            .expect("collected under deploy")
            .to_string_lossy()
            .replace('\\', "/");
        let absolute = std::fs::canonicalize(file).expect("file exists");
        generated.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            absolute.to_string_lossy()
        ));
    }
    generated.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("deploy_files.rs");
    std::fs::write(out, generated).expect("write the generated file");
}
