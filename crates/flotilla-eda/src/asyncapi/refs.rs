//! The repository files a document reads: each parsed once (YAML or JSON; `.proto` and other
//! text kept opaque), `$ref`s followed (`#/local/pointer`, `relative/file.yaml#/pointer`,
//! `../schemas/item.avsc`; at most [`MAX_HOPS`] hops, a cycle stops with an error instead of
//! looping; `http:`/`https:` and other absolute references are not followed), and the line and
//! column of a node, for messages that name where a problem is.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

use saphyr_parser::{Event, Parser};
use serde_json::Value;

/// Most `$ref` hops followed from one reference before giving up.
pub const MAX_HOPS: usize = 32;

/// Files larger than this are not parsed (the YAML reader's own bound is larger; a document's
/// schemas are small).
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// A node in a repository file: the file's path and a JSON pointer into it (`""` for the
/// whole file).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: String,
    pub pointer: String,
}

impl Location {
    pub fn new(file: &str, pointer: &str) -> Location {
        Location {
            file: file.to_string(),
            pointer: pointer.to_string(),
        }
    }

    /// The location of a child node (a key of a mapping or an index of a sequence).
    pub fn child(&self, token: &str) -> Location {
        Location {
            file: self.file.clone(),
            pointer: format!(
                "{}/{}",
                self.pointer,
                token.replace('~', "~0").replace('/', "~1")
            ),
        }
    }

    /// The pointer as a dotted field path (`channels.items.bindings.kafka`), as findings name
    /// fields.
    pub fn dotted(&self) -> String {
        tokens(&self.pointer).join(".")
    }
}

impl fmt::Display for Location {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(formatter, "{}", self.file)
        } else {
            write!(formatter, "{}#{}", self.file, self.pointer)
        }
    }
}

/// The tokens of a JSON pointer, unescaped.
pub fn tokens(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// A repository file as read.
#[derive(Debug)]
pub enum Parsed {
    /// YAML or JSON, as a JSON tree (the first document of a multi-document file).
    Tree(Value),
    /// A file kept as text (`.proto`, `.avdl`, ...).
    Opaque(String),
    /// YAML or JSON that does not parse: where and why.
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
    /// No such file among the repository files.
    Missing,
}

/// Why a reference does not resolve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefError {
    /// The file named is not in the repository.
    MissingFile(String),
    /// The file does not parse.
    InvalidFile {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The pointer names no node of the file.
    MissingPointer(Location),
    /// A relative path that climbs above the repository root.
    LeavesRepository(String),
    /// The chain of references comes back to itself or is longer than [`MAX_HOPS`].
    Cycle(Location),
    TooManyHops(Location),
    /// A pointer into a file that is not YAML or JSON.
    Opaque(Location),
}

impl fmt::Display for RefError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefError::MissingFile(file) => {
                write!(formatter, "file `{file}` is not in the repository")
            }
            RefError::InvalidFile {
                file,
                line,
                column,
                message,
            } => write!(formatter, "`{file}`:{line}:{column}: {message}"),
            RefError::MissingPointer(location) => write!(formatter, "`{location}` names nothing"),
            RefError::LeavesRepository(path) => {
                write!(formatter, "`{path}` leaves the repository")
            }
            RefError::Cycle(location) => {
                write!(formatter, "references loop back to `{location}`")
            }
            RefError::TooManyHops(location) => write!(
                formatter,
                "more than {MAX_HOPS} references in a row, at `{location}`"
            ),
            RefError::Opaque(location) => write!(
                formatter,
                "`{location}` points into a file that is not YAML or JSON"
            ),
        }
    }
}

/// What a `$ref` value names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A node in a repository file.
    Node(Location),
    /// An absolute reference (`https://…`, `urn:…`): not followed.
    External(String),
}

/// The repository files, parsed on demand.
pub struct Repository<'a> {
    files: &'a BTreeMap<String, String>,
    parsed: RefCell<HashMap<String, Rc<Parsed>>>,
}

impl<'a> Repository<'a> {
    pub fn new(files: &'a BTreeMap<String, String>) -> Repository<'a> {
        Repository {
            files,
            parsed: RefCell::new(HashMap::new()),
        }
    }

    /// The files, by path.
    pub fn files(&self) -> &'a BTreeMap<String, String> {
        self.files
    }

    /// A file, parsed (once).
    pub fn parsed(&self, file: &str) -> Rc<Parsed> {
        if let Some(parsed) = self.parsed.borrow().get(file) {
            return parsed.clone();
        }
        let parsed = Rc::new(match self.files.get(file) {
            None => Parsed::Missing,
            Some(text) => parse_file(file, text),
        });
        self.parsed
            .borrow_mut()
            .insert(file.to_string(), parsed.clone());
        parsed
    }

    /// The node at a location, cloned.
    pub fn node(&self, location: &Location) -> Result<Value, RefError> {
        match &*self.parsed(&location.file) {
            Parsed::Missing => Err(RefError::MissingFile(location.file.clone())),
            Parsed::Invalid {
                line,
                column,
                message,
            } => Err(RefError::InvalidFile {
                file: location.file.clone(),
                line: *line,
                column: *column,
                message: message.clone(),
            }),
            Parsed::Opaque(text) if location.pointer.is_empty() => Ok(Value::String(text.clone())),
            Parsed::Opaque(_) => Err(RefError::Opaque(location.clone())),
            Parsed::Tree(tree) => tree
                .pointer(&location.pointer)
                .cloned()
                .ok_or_else(|| RefError::MissingPointer(location.clone())),
        }
    }

    /// Whether a location names an opaque (non-YAML) file.
    pub fn is_opaque(&self, file: &str) -> bool {
        matches!(&*self.parsed(file), Parsed::Opaque(_))
    }

    /// Follows `value` while it is a `{$ref: …}`: the node it ends at and where that is.
    /// A value that is no reference is returned as it is, at `at`.
    pub fn resolve(&self, at: &Location, value: &Value) -> Result<(Location, Value), RefError> {
        let mut location = at.clone();
        let mut current = value.clone();
        let mut seen = HashSet::new();
        for _ in 0..=MAX_HOPS {
            let Some(reference) = reference_of(&current) else {
                return Ok((location, current));
            };
            let target = match target(&location.file, reference)? {
                Target::Node(target) => target,
                // An absolute reference is left as it is: the caller sees the `$ref`.
                Target::External(_) => return Ok((location, current)),
            };
            if !seen.insert(target.clone()) {
                return Err(RefError::Cycle(target));
            }
            current = self.node(&target)?;
            location = target;
        }
        Err(RefError::TooManyHops(location))
    }

    /// The 1-based line and column of a location (of the nearest enclosing node the file has
    /// when the pointer goes further than the file), when the file is YAML or JSON.
    pub fn position(&self, location: &Location) -> Option<(usize, usize)> {
        let text = self.files.get(&location.file)?;
        if text.len() > MAX_FILE_BYTES {
            return None;
        }
        locate(text, &tokens(&location.pointer))
    }

    /// `file:line:column`, or the file alone when the position is unknown.
    pub fn describe(&self, location: &Location) -> String {
        match self.position(location) {
            Some((line, column)) => format!("{}:{line}:{column}", location.file),
            None => location.file.clone(),
        }
    }
}

/// The `$ref` string of a reference object.
pub fn reference_of(value: &Value) -> Option<&str> {
    value.as_object()?.get("$ref")?.as_str()
}

/// Where a reference written in `file` points.
pub fn target(file: &str, reference: &str) -> Result<Target, RefError> {
    let (path, fragment) = match reference.split_once('#') {
        Some((path, fragment)) => (path, fragment),
        None => (reference, ""),
    };
    if has_scheme(path) {
        return Ok(Target::External(reference.to_string()));
    }
    let file = if path.is_empty() {
        file.to_string()
    } else {
        join(file, &percent_decode(path))?
    };
    let pointer = percent_decode(fragment);
    Ok(Target::Node(Location { file, pointer }))
}

fn has_scheme(path: &str) -> bool {
    match path.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || "+-.".contains(character))
                && scheme.len() > 1
        }
        None => false,
    }
}

/// `relative` read from the directory of `file`, normalised (`./`, `..`), as a repository path.
pub fn join(file: &str, relative: &str) -> Result<String, RefError> {
    let mut parts: Vec<&str> = if relative.starts_with('/') {
        Vec::new()
    } else {
        let mut parts: Vec<&str> = file.split('/').collect();
        parts.pop();
        parts
    };
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(RefError::LeavesRepository(relative.to_string()));
                }
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a file is read as YAML/JSON (by its extension).
pub fn is_structured(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    [".yaml", ".yml", ".json", ".avsc"]
        .iter()
        .any(|extension| lower.ends_with(extension))
}

fn parse_file(file: &str, text: &str) -> Parsed {
    if !is_structured(file) {
        return Parsed::Opaque(text.to_string());
    }
    if text.len() > MAX_FILE_BYTES {
        return Parsed::Invalid {
            line: 1,
            column: 1,
            message: format!("larger than {} MiB", MAX_FILE_BYTES / (1024 * 1024)),
        };
    }
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".json") || lower.ends_with(".avsc") {
        // JSON is read as JSON: YAML would accept text no JSON reader does.
        return match serde_json::from_str(text) {
            Ok(tree) => Parsed::Tree(tree),
            Err(error) => Parsed::Invalid {
                line: error.line().max(1),
                column: error.column().max(1),
                message: {
                    let message = error.to_string();
                    match message.rsplit_once(" at line ") {
                        Some((message, _)) => message.to_string(),
                        None => message,
                    }
                },
            },
        };
    }
    match flotilla_core::yaml_read::parse_documents(text) {
        Ok(documents) => Parsed::Tree(
            documents
                .iter()
                .map(flotilla_core::json::to_json)
                .find(|document| !document.is_null())
                .unwrap_or(Value::Null),
        ),
        Err(error) => Parsed::Invalid {
            line: error.line,
            column: error.column,
            message: error.message,
        },
    }
}

/// The position of the node at `target` in a YAML (or JSON) text: the first document only; the
/// nearest enclosing node when the text has no such node.
fn locate(text: &str, target: &[String]) -> Option<(usize, usize)> {
    enum Frame {
        /// `key`: the key just read, and where it is (a value is found at its key).
        Mapping {
            key: Option<(String, (usize, usize))>,
            pushed: bool,
        },
        Sequence {
            next: usize,
            pushed: bool,
        },
    }
    let mut parser = Parser::new_from_str(text);
    let mut frames: Vec<Frame> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut best = None;
    while let Some(Ok((event, span))) = parser.next_event() {
        match event {
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => continue,
            Event::StreamEnd | Event::DocumentEnd => break,
            Event::MappingEnd | Event::SequenceEnd => {
                let pushed = match frames.pop() {
                    Some(Frame::Mapping { pushed, .. } | Frame::Sequence { pushed, .. }) => pushed,
                    None => false,
                };
                if pushed {
                    path.pop();
                }
                continue;
            }
            _ => {}
        }
        if let Some(Frame::Mapping { key, .. }) = frames.last_mut() {
            if key.is_none() {
                match &event {
                    Event::Scalar(text, ..) => {
                        *key = Some((text.to_string(), (span.start.line(), span.start.col() + 1)));
                        continue;
                    }
                    // A collection as a key: positions past it are not worth the bookkeeping.
                    _ => return best,
                }
            }
        }
        let mut position = (span.start.line(), span.start.col() + 1);
        let token = match frames.last_mut() {
            None => None,
            Some(Frame::Mapping { key, .. }) => key.take().map(|(key, at)| {
                position = at;
                key
            }),
            Some(Frame::Sequence { next, .. }) => {
                let token = next.to_string();
                *next += 1;
                Some(token)
            }
        };
        let pushed = token.is_some();
        if let Some(token) = token {
            path.push(token);
        }
        if path.as_slice() == target {
            return Some(position);
        }
        if target.starts_with(&path) {
            best = Some(position);
        }
        match event {
            Event::MappingStart(..) => frames.push(Frame::Mapping { key: None, pushed }),
            Event::SequenceStart(..) => frames.push(Frame::Sequence { next: 0, pushed }),
            _ => {
                if pushed {
                    path.pop();
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_paths() {
        assert_eq!(
            join("asyncapi/app.yaml", "./schemas/a.avsc"),
            Ok("asyncapi/schemas/a.avsc".into())
        );
        assert_eq!(
            join("asyncapi/app.yaml", "../schemas/a.avsc"),
            Ok("schemas/a.avsc".into())
        );
        assert_eq!(join("app.yaml", "b.yaml"), Ok("b.yaml".into()));
        assert!(matches!(
            join("app.yaml", "../b.yaml"),
            Err(RefError::LeavesRepository(_))
        ));
    }

    #[test]
    fn targets() {
        assert_eq!(
            target("a/b.yaml", "#/components/schemas/X"),
            Ok(Target::Node(Location::new(
                "a/b.yaml",
                "/components/schemas/X"
            )))
        );
        assert_eq!(
            target("a/b.yaml", "c.yaml#/x%20y"),
            Ok(Target::Node(Location::new("a/c.yaml", "/x y")))
        );
        assert_eq!(
            target("a/b.yaml", "https://example.com/s.json"),
            Ok(Target::External("https://example.com/s.json".into()))
        );
    }

    #[test]
    fn locates_nodes() {
        let text = "a: 1\nb:\n  c:\n  - x\n  - {d: 2}\n";
        let at = |pointer: &str| locate(text, &tokens(pointer));
        // A mapping's value is found at its key.
        assert_eq!(at("/a"), Some((1, 1)));
        assert_eq!(at("/b/c/1/d"), Some((5, 6)));
        assert_eq!(at("/b/c/0"), Some((4, 5)));
        // Beyond the text: the nearest enclosing node.
        assert_eq!(at("/b/c/1/e"), Some((5, 5)));
        assert_eq!(at(""), Some((1, 1)));
    }

    #[test]
    fn resolves_chains_and_stops_cycles() {
        let mut files = BTreeMap::new();
        files.insert(
            "doc.yaml".to_string(),
            "a: {$ref: '#/b'}\nb: {$ref: 'other.yaml#/c'}\nloop: {$ref: '#/loop'}\n".to_string(),
        );
        files.insert("other.yaml".to_string(), "c: {type: string}\n".to_string());
        let repository = Repository::new(&files);
        let root = Location::new("doc.yaml", "");
        let a = repository.node(&root.child("a")).expect("a");
        let (location, value) = repository.resolve(&root.child("a"), &a).expect("resolves");
        assert_eq!(location, Location::new("other.yaml", "/c"));
        assert_eq!(value["type"], "string");
        let looping = repository.node(&root.child("loop")).expect("loop");
        assert!(matches!(
            repository.resolve(&root.child("loop"), &looping),
            Err(RefError::Cycle(_))
        ));
    }
}
