//! `flotilla schema compat --level LEVEL [--type avro|json|protobuf] OLDEST.. NEWEST`: one
//! subject's versions checked as a schema registry checks a new version
//! (`flotilla_eda::schema::check`): the newest file against the previous one, or every earlier
//! one for the `*_TRANSITIVE` levels. The type comes from the files' extension (`.avsc`, `.json`,
//! `.proto`) unless `--type` says it. Protobuf imports and JSON Schema `$ref`s to other files
//! are read from the importing file's directory, then from each `--include` directory.
//!
//! Exit 0 when the newest version is compatible, 1 when it is not, 2 on an error (a file that
//! cannot be read or parsed: the message names the file, line and column).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flotilla_eda::schema::{check, Incompatibility, Level, SchemaKind, SchemaText};
use serde_json::json;

/// `flotilla schema …`
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Check that the newest of a subject's schema files is compatible with the earlier ones, as
    /// a schema registry would (exit 0: compatible, 1: incompatible, 2: error)
    Compat(CompatArgs),
}

/// `flotilla schema compat`
#[derive(Debug, Args)]
pub struct CompatArgs {
    /// Compatibility level: NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE,
    /// FULL or FULL_TRANSITIVE (BACKWARD: the new schema reads the old data; FORWARD: the old
    /// schema reads the new data; FULL: both; TRANSITIVE: against every earlier version)
    #[arg(long, value_name = "LEVEL", default_value = "BACKWARD", value_parser = parse_level)]
    pub level: Level,
    /// The schema type, when the files' extension does not say it (.avsc, .json, .proto)
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub kind: Option<KindArg>,
    /// Output format: text, or the verdict and incompatibilities as JSON
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
    /// A directory to look for imported and referenced files in (repeatable)
    #[arg(short = 'I', long = "include", value_name = "DIR")]
    pub include: Vec<PathBuf>,
    /// The subject's schema files, oldest first; the last is the version checked
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `--type`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Apache Avro (.avsc)
    Avro,
    /// JSON Schema (.json)
    Json,
    /// Protocol Buffers (.proto)
    Protobuf,
}

/// `-o`
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// The verdict and one line per incompatibility
    Text,
    /// A JSON object: compatible, level, type, versions, incompatibilities
    Json,
}

fn parse_level(text: &str) -> std::result::Result<Level, String> {
    text.parse::<Level>().map_err(|error| error.to_string())
}

/// Runs a `flotilla schema` command; the exit code.
pub fn run(command: SchemaCommand) -> u8 {
    match command {
        SchemaCommand::Compat(args) => match compat(&args) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("{}", crate::render_error(&error));
                2
            }
        },
    }
}

fn compat(args: &CompatArgs) -> Result<u8> {
    let kind = match args.kind {
        Some(KindArg::Avro) => SchemaKind::Avro,
        Some(KindArg::Json) => SchemaKind::Json,
        Some(KindArg::Protobuf) => SchemaKind::Protobuf,
        None => kind_from_extensions(&args.files)?,
    };
    let mut history = Vec::new();
    for file in &args.files {
        let mut schema = read_schema(file)?;
        add_references(
            kind,
            file,
            &schema.text.clone(),
            &args.include,
            &mut schema.references,
        )?;
        history.push(schema);
    }
    let found = check(args.level, kind, &history).map_err(|error| anyhow!("{error}"))?;
    let names: Vec<&str> = history.iter().map(|schema| schema.name.as_str()).collect();
    let mut stdout = std::io::stdout().lock();
    match args.output {
        Output::Json => {
            let value = json!({
                "compatible": found.is_empty(),
                "level": args.level.as_str(),
                "type": kind.as_str(),
                "versions": names,
                "incompatibilities": found,
            });
            writeln!(stdout, "{}", serde_json::to_string_pretty(&value)?)
                .context("writing to standard output")?;
        }
        Output::Text => {
            write!(stdout, "{}", text_report(args.level, kind, &names, &found))
                .context("writing to standard output")?;
        }
    }
    stdout.flush().context("writing to standard output")?;
    Ok(if found.is_empty() { 0 } else { 1 })
}

fn text_report(
    level: Level,
    kind: SchemaKind,
    names: &[&str],
    found: &[Incompatibility],
) -> String {
    let newest = names.last().copied().unwrap_or_default();
    let checked = level.earlier_versions(names.len());
    if found.is_empty() {
        let against = if checked.is_empty() {
            "nothing to check against".to_string()
        } else {
            format!(
                "against {}",
                checked
                    .iter()
                    .map(|index| format!("`{}`", names[*index]))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return format!("compatible: `{newest}` ({kind}, {level}), {against}\n");
    }
    let mut text = format!(
        "incompatible: `{newest}` ({kind}, {level}): {} problem{}\n",
        found.len(),
        if found.len() == 1 { "" } else { "s" }
    );
    for item in found {
        let at = if item.path.is_empty() {
            String::new()
        } else {
            format!(" at {}", item.path)
        };
        text.push_str(&format!(
            "  {} against `{}` ({}): {} [{}{at}]\n",
            item.newer_name,
            item.older_name,
            item.direction.as_str(),
            item.message,
            item.rule
        ));
    }
    text
}

fn kind_from_extensions(files: &[PathBuf]) -> Result<SchemaKind> {
    let kinds: BTreeSet<&str> = files
        .iter()
        .map(|file| {
            SchemaKind::from_path(&file.to_string_lossy())
                .map(SchemaKind::as_str)
                .ok_or_else(|| {
                    anyhow!(
                        "`{}` has no schema extension (.avsc, .json, .proto)\n\nhint: say the type with --type avro|json|protobuf",
                        file.display()
                    )
                })
        })
        .collect::<Result<_>>()?;
    match kinds.into_iter().collect::<Vec<_>>().as_slice() {
        ["avro"] => Ok(SchemaKind::Avro),
        ["json"] => Ok(SchemaKind::Json),
        ["protobuf"] => Ok(SchemaKind::Protobuf),
        several => bail!(
            "the files are of different types ({})\n\nhint: give one subject's versions, or say the type with --type",
            several.join(", ")
        ),
    }
}

fn read_schema(file: &Path) -> Result<SchemaText> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read `{}`", file.display()))?;
    Ok(SchemaText::new(file.display().to_string(), text))
}

/// The files a schema imports (Protobuf `import "…"`) or refers to (JSON Schema `"$ref":
/// "other.json#…"`), read from the schema's directory or an `--include` directory, and theirs
/// in turn, each once, by the name the schema uses.
fn add_references(
    kind: SchemaKind,
    file: &Path,
    text: &str,
    include: &[PathBuf],
    references: &mut Vec<SchemaText>,
) -> Result<()> {
    let mut pending: Vec<(PathBuf, String)> = vec![(file.to_path_buf(), text.to_string())];
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some((from, text)) = pending.pop() {
        for name in referenced_names(kind, &text) {
            if !seen.insert(name.clone()) {
                continue;
            }
            let directory = from.parent().map(Path::to_path_buf).unwrap_or_default();
            let candidates = std::iter::once(directory.join(&name))
                .chain(include.iter().map(|dir| dir.join(&name)));
            // A file not found is left to the checker, which names it and the line importing it
            // (or knows it: the well-known Protobuf types).
            if let Some(path) = candidates.into_iter().find(|path| path.is_file()) {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read `{}`", path.display()))?;
                references.push(SchemaText::new(name.clone(), text.clone()));
                pending.push((path, text));
            }
        }
    }
    Ok(())
}

fn referenced_names(kind: SchemaKind, text: &str) -> Vec<String> {
    let mut names = Vec::new();
    match kind {
        SchemaKind::Protobuf => {
            for line in text.lines() {
                let line = line.trim_start();
                let Some(rest) = line.strip_prefix("import") else {
                    continue;
                };
                let rest = rest.trim_start();
                let rest = rest
                    .strip_prefix("public")
                    .or_else(|| rest.strip_prefix("weak"))
                    .unwrap_or(rest)
                    .trim_start();
                if let Some(quoted) = rest.strip_prefix('"') {
                    if let Some((name, _)) = quoted.split_once('"') {
                        names.push(name.to_string());
                    }
                }
            }
        }
        SchemaKind::Json => {
            let mut rest = text;
            while let Some(index) = rest.find("\"$ref\"") {
                rest = &rest[index + 6..];
                let value = rest.trim_start().strip_prefix(':').map(str::trim_start);
                if let Some(quoted) = value.and_then(|value| value.strip_prefix('"')) {
                    if let Some((target, _)) = quoted.split_once('"') {
                        let location = target.split('#').next().unwrap_or_default();
                        if !location.is_empty() && !location.contains("://") {
                            names.push(location.to_string());
                        }
                    }
                }
            }
        }
        SchemaKind::Avro => {}
    }
    names
}
