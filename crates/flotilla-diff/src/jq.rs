//! The subset of jq path expressions Argo CD users write in `jqPathExpressions`, evaluated to
//! the concrete paths they select:
//!
//! - field access `.a.b`, `.a["key.with.dots"]`, `.["a"]`
//! - `.a[]` (every item or value), `.a[2]` (one item)
//! - `| select(COND)` where COND is `.x == "v"`, `.x != "v"` (string, number, bool or null
//!   literals), `.x | startswith("p")`, `.x | endswith("s")`, `.x | contains("c")`, or `.x`
//!   (truthy), combined with `and` / `or`
//! - stages chained with `|`
//!
//! Anything else is an error naming the expression and the column, never a panic.

use serde_json::Value;

use crate::path::{FieldPath, Segment};
use crate::DiffError;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Iterate,
    Index(usize),
    Select(Condition),
}

#[derive(Clone, Debug, PartialEq)]
enum Condition {
    Compare {
        path: Vec<Step>,
        equal: bool,
        literal: Value,
    },
    Function {
        path: Vec<Step>,
        function: String,
        argument: String,
    },
    Truthy {
        path: Vec<Step>,
    },
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

struct Parser<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> DiffError {
        DiffError::Jq {
            expression: self.text.to_string(),
            column: self.position + 1,
            message: message.to_string(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.position..]
    }

    fn skip_spaces(&mut self) {
        while self.rest().starts_with(' ') {
            self.position += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_spaces();
        if self.rest().starts_with(token) {
            self.position += token.len();
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> Result<String, DiffError> {
        self.skip_spaces();
        if !self.rest().starts_with('"') {
            return Err(self.error("expected a string in double quotes"));
        }
        let rest = self.rest();
        let mut escaped = false;
        for (offset, character) in rest.char_indices().skip(1) {
            if escaped {
                escaped = false;
                continue;
            }
            if character == '\\' {
                escaped = true;
            } else if character == '"' {
                let literal = &rest[..=offset];
                let value: String = serde_json::from_str(literal)
                    .map_err(|_| self.error("invalid string literal"))?;
                self.position += offset + 1;
                return Ok(value);
            }
        }
        Err(self.error("unterminated string"))
    }

    /// `.a.b[]["x"][0]` — at least the leading dot.
    fn path(&mut self) -> Result<Vec<Step>, DiffError> {
        self.skip_spaces();
        if !self.rest().starts_with('.') {
            return Err(self.error("expected a path starting with `.`"));
        }
        let mut steps = Vec::new();
        loop {
            if self.rest().starts_with(".[") {
                self.position += 1;
                continue;
            }
            if self.rest().starts_with('.') {
                self.position += 1;
                let name: String = self
                    .rest()
                    .chars()
                    .take_while(|character| {
                        character.is_alphanumeric() || *character == '_' || *character == '-'
                    })
                    .collect();
                if !name.is_empty() {
                    self.position += name.len();
                    steps.push(Step::Field(name));
                }
                continue;
            }
            if self.rest().starts_with('[') {
                self.position += 1;
                self.skip_spaces();
                if self.rest().starts_with(']') {
                    self.position += 1;
                    steps.push(Step::Iterate);
                } else if self.rest().starts_with('"') {
                    let name = self.string()?;
                    if !self.eat("]") {
                        return Err(self.error("expected `]`"));
                    }
                    steps.push(Step::Field(name));
                } else {
                    let digits: String = self
                        .rest()
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if digits.is_empty() {
                        return Err(self.error("expected `]`, a string or an index"));
                    }
                    self.position += digits.len();
                    if !self.eat("]") {
                        return Err(self.error("expected `]`"));
                    }
                    steps.push(Step::Index(
                        digits.parse().map_err(|_| self.error("index too large"))?,
                    ));
                }
                continue;
            }
            return Ok(steps);
        }
    }

    fn literal(&mut self) -> Result<Value, DiffError> {
        self.skip_spaces();
        if self.rest().starts_with('"') {
            return Ok(Value::String(self.string()?));
        }
        for (word, value) in [
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
        ] {
            if self.eat(word) {
                return Ok(value);
            }
        }
        let number: String = self
            .rest()
            .chars()
            .take_while(|character| {
                character.is_ascii_digit() || *character == '-' || *character == '.'
            })
            .collect();
        if number.is_empty() {
            return Err(self.error("expected a literal (string, number, true, false or null)"));
        }
        self.position += number.len();
        serde_json::from_str(&number).map_err(|_| self.error("invalid number"))
    }

    fn simple_condition(&mut self) -> Result<Condition, DiffError> {
        if self.eat("(") {
            let inner = self.condition()?;
            if !self.eat(")") {
                return Err(self.error("expected `)`"));
            }
            return Ok(inner);
        }
        let path = self.path()?;
        if self.eat("==") {
            return Ok(Condition::Compare {
                path,
                equal: true,
                literal: self.literal()?,
            });
        }
        if self.eat("!=") {
            return Ok(Condition::Compare {
                path,
                equal: false,
                literal: self.literal()?,
            });
        }
        let checkpoint = self.position;
        if self.eat("|") {
            self.skip_spaces();
            for function in ["startswith", "endswith", "contains"] {
                if self.eat(function) {
                    if !self.eat("(") {
                        return Err(self.error("expected `(`"));
                    }
                    let argument = self.string()?;
                    if !self.eat(")") {
                        return Err(self.error("expected `)`"));
                    }
                    return Ok(Condition::Function {
                        path,
                        function: function.to_string(),
                        argument,
                    });
                }
            }
            self.position = checkpoint;
            return Err(self.error(
                "only startswith, endswith and contains are supported after `|` in a condition",
            ));
        }
        Ok(Condition::Truthy { path })
    }

    fn condition(&mut self) -> Result<Condition, DiffError> {
        let mut left = self.simple_condition()?;
        loop {
            if self.eat("and ") {
                left = Condition::And(Box::new(left), Box::new(self.simple_condition()?));
            } else if self.eat("or ") {
                left = Condition::Or(Box::new(left), Box::new(self.simple_condition()?));
            } else {
                return Ok(left);
            }
        }
    }

    fn expression(&mut self) -> Result<Vec<Step>, DiffError> {
        let mut steps = Vec::new();
        loop {
            self.skip_spaces();
            if self.rest().starts_with("select") {
                self.position += "select".len();
                if !self.eat("(") {
                    return Err(self.error("expected `(` after select"));
                }
                let condition = self.condition()?;
                if !self.eat(")") {
                    return Err(self.error("expected `)` closing select"));
                }
                steps.push(Step::Select(condition));
                // A path may follow a select directly: `select(...) .image`.
                self.skip_spaces();
                if self.rest().starts_with('.') {
                    steps.extend(self.path()?);
                }
            } else {
                steps.extend(self.path()?);
            }
            self.skip_spaces();
            if self.rest().is_empty() {
                return Ok(steps);
            }
            if !self.eat("|") {
                return Err(self.error("unsupported syntax"));
            }
        }
    }
}

/// A parsed jq path expression.
#[derive(Clone, Debug)]
pub struct JqPath {
    steps: Vec<Step>,
}

impl JqPath {
    pub fn parse(expression: &str) -> Result<JqPath, DiffError> {
        let mut parser = Parser {
            text: expression,
            position: 0,
        };
        let steps = parser.expression()?;
        Ok(JqPath { steps })
    }

    /// The paths the expression selects in `value`.
    pub fn select(&self, value: &Value) -> Vec<FieldPath> {
        let mut current: Vec<(FieldPath, &Value)> = vec![(Vec::new(), value)];
        for step in &self.steps {
            let mut next = Vec::new();
            for (path, node) in current {
                match step {
                    Step::Field(name) => {
                        if let Some(child) = node.get(name.as_str()) {
                            let mut path = path.clone();
                            path.push(Segment::Field(name.clone()));
                            next.push((path, child));
                        }
                    }
                    Step::Index(index) => {
                        if let Some(child) = node.get(*index) {
                            let mut path = path.clone();
                            path.push(Segment::Index(*index));
                            next.push((path, child));
                        }
                    }
                    Step::Iterate => match node {
                        Value::Array(items) => {
                            for (index, child) in items.iter().enumerate() {
                                let mut path = path.clone();
                                path.push(Segment::Index(index));
                                next.push((path, child));
                            }
                        }
                        Value::Object(map) => {
                            for (key, child) in map {
                                let mut path = path.clone();
                                path.push(Segment::Field(key.clone()));
                                next.push((path, child));
                            }
                        }
                        _ => {}
                    },
                    Step::Select(condition) => {
                        if holds(condition, node) {
                            next.push((path, node));
                        }
                    }
                }
            }
            current = next;
        }
        current.into_iter().map(|(path, _)| path).collect()
    }
}

fn value_at<'a>(node: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    let mut current = node;
    for step in steps {
        current = match step {
            Step::Field(name) => current.get(name.as_str())?,
            Step::Index(index) => current.get(*index)?,
            _ => return None,
        };
    }
    Some(current)
}

fn holds(condition: &Condition, node: &Value) -> bool {
    match condition {
        Condition::Compare {
            path,
            equal,
            literal,
        } => {
            let value = value_at(node, path).unwrap_or(&Value::Null);
            (value == literal) == *equal
        }
        Condition::Function {
            path,
            function,
            argument,
        } => {
            let Some(text) = value_at(node, path).and_then(Value::as_str) else {
                return false;
            };
            match function.as_str() {
                "startswith" => text.starts_with(argument.as_str()),
                "endswith" => text.ends_with(argument.as_str()),
                _ => text.contains(argument.as_str()),
            }
        }
        Condition::Truthy { path } => !matches!(
            value_at(node, path),
            None | Some(Value::Null) | Some(Value::Bool(false))
        ),
        Condition::And(left, right) => holds(left, node) && holds(right, node),
        Condition::Or(left, right) => holds(left, node) || holds(right, node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(expression: &str, value: &Value) -> Vec<String> {
        JqPath::parse(expression)
            .expect("parses")
            .select(value)
            .iter()
            .map(|path| crate::path::display(path))
            .collect()
    }

    #[test]
    fn selects_paths() {
        let object = json!({"metadata": {"annotations": {"a.b/c": "x"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}, {"name": "istio-proxy", "image": "envoy"}]}});
        assert_eq!(
            paths(".metadata.annotations[\"a.b/c\"]", &object),
            ["metadata.annotations.a.b/c"]
        );
        assert_eq!(
            paths(
                ".spec.containers[] | select(.name == \"istio-proxy\")",
                &object
            ),
            ["spec.containers[1]"]
        );
        assert_eq!(
            paths(
                ".spec.containers[] | select(.name | startswith(\"web\")) | .image",
                &object
            ),
            ["spec.containers[0].image"]
        );
        assert_eq!(
            paths(".spec.containers[0].image", &object),
            ["spec.containers[0].image"]
        );
        assert_eq!(
            paths(
                ".spec.containers[] | select(.name != \"web\" and .image == \"envoy\")",
                &object
            ),
            ["spec.containers[1]"]
        );
        assert!(paths(".spec.missing", &object).is_empty());
    }

    #[test]
    fn unsupported_syntax_is_an_error_with_a_column() {
        for expression in [
            "spec",
            ".a | map(.b)",
            ".a[",
            ".a | select(.b ==)",
            ".a | select(.b | test(\"x\"))",
        ] {
            match JqPath::parse(expression) {
                Err(DiffError::Jq { column, .. }) => assert!(column >= 1, "{expression}"),
                other => panic!("{expression}: expected an error, got {other:?}"),
            }
        }
    }
}
