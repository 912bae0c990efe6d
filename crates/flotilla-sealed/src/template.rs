//! The Go-template subset the sealed-secrets controller evaluates in `spec.template.data`, over
//! the decrypted values (`.name`, `index . "name"`), with the common sprig functions:
//! `printf` (`%s %d %v %q %%`), `upper`, `lower`, `trim`, `trimPrefix`, `trimSuffix`,
//! `replace`, `quote`, `squote`, `b64enc`, `b64dec`, `default`, `indent`, `nindent`, `cat`,
//! `print`; pipelines with `|`; `{{-` and `-}}` trim markers.
//!
//! Anything else (`range`, `if`, variables, other functions) is a clear error naming the
//! construct. Errors never carry a decrypted value.

use std::collections::BTreeMap;

use flotilla_core::base64::{decode_standard, encode_standard};

/// Why a template could not be evaluated (no variant holds plaintext).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unterminated action `{{{{`")]
    Unterminated,
    #[error("{construct} is not supported in template data (supported: field access, index, printf and common string functions)")]
    Unsupported { construct: String },
    #[error("no decrypted value named `{name}`")]
    MissingValue { name: String },
    #[error("function `{function}` takes {expected} argument(s), got {got}")]
    Arity {
        function: String,
        expected: &'static str,
        got: usize,
    },
    #[error("string literal is not terminated")]
    Literal,
    #[error("`b64dec` input is not base64")]
    Base64,
}

/// Evaluates `template` with the decrypted `values`.
pub fn render(template: &str, values: &BTreeMap<String, Vec<u8>>) -> Result<String, TemplateError> {
    let mut output = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let mut literal = &rest[..start];
        let after_open = &rest[start + 2..];
        let (trim_left, after_open) = match after_open.strip_prefix('-') {
            Some(after) if after.starts_with([' ', '\t', '\n']) => (true, after),
            _ => (false, after_open),
        };
        if trim_left {
            literal = literal.trim_end();
        }
        output.push_str(literal);
        let end = after_open.find("}}").ok_or(TemplateError::Unterminated)?;
        if after_open[..end].contains("{{") {
            return Err(TemplateError::Unterminated);
        }
        let mut action = &after_open[..end];
        let mut after_close = &after_open[end + 2..];
        if let Some(trimmed) = action.strip_suffix('-') {
            if trimmed.ends_with([' ', '\t', '\n']) {
                action = trimmed;
                after_close = after_close.trim_start();
            }
        }
        output.push_str(&evaluate_pipeline(action.trim(), values)?);
        rest = after_close;
    }
    output.push_str(rest);
    Ok(output)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Field(String),
    Dot,
    Word(String),
    Text(String),
    Number(i64),
    Pipe,
    Open,
    Close,
}

fn tokenize(action: &str) -> Result<Vec<Token>, TemplateError> {
    let mut tokens = Vec::new();
    let characters: Vec<char> = action.chars().collect();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        match character {
            ' ' | '\t' | '\n' | '\r' => index += 1,
            '|' => {
                tokens.push(Token::Pipe);
                index += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                index += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                index += 1;
            }
            '"' | '`' => {
                let quote = character;
                let mut text = String::new();
                index += 1;
                loop {
                    let Some(&next) = characters.get(index) else {
                        return Err(TemplateError::Literal);
                    };
                    index += 1;
                    if next == quote {
                        break;
                    }
                    if next == '\\' && quote == '"' {
                        let escaped = characters
                            .get(index)
                            .copied()
                            .ok_or(TemplateError::Literal)?;
                        index += 1;
                        text.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                    } else {
                        text.push(next);
                    }
                }
                tokens.push(Token::Text(text));
            }
            '.' => {
                let start = index + 1;
                let mut end = start;
                while end < characters.len()
                    && (characters[end].is_alphanumeric() || characters[end] == '_')
                {
                    end += 1;
                }
                if end == start {
                    tokens.push(Token::Dot);
                } else {
                    tokens.push(Token::Field(characters[start..end].iter().collect()));
                }
                index = end;
            }
            '$' => {
                return Err(TemplateError::Unsupported {
                    construct: "template variables (`$`)".into(),
                });
            }
            _ if character.is_ascii_digit() || character == '-' => {
                let start = index;
                index += 1;
                while index < characters.len() && characters[index].is_ascii_digit() {
                    index += 1;
                }
                let text: String = characters[start..index].iter().collect();
                tokens.push(Token::Number(text.parse().map_err(|_| {
                    TemplateError::Unsupported {
                        construct: format!("`{text}`"),
                    }
                })?));
            }
            _ if character.is_alphabetic() => {
                let start = index;
                while index < characters.len()
                    && (characters[index].is_alphanumeric() || characters[index] == '_')
                {
                    index += 1;
                }
                tokens.push(Token::Word(characters[start..index].iter().collect()));
            }
            other => {
                return Err(TemplateError::Unsupported {
                    construct: format!("`{other}`"),
                })
            }
        }
    }
    Ok(tokens)
}

fn value_of(name: &str, values: &BTreeMap<String, Vec<u8>>) -> Result<String, TemplateError> {
    values
        .get(name)
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        .ok_or_else(|| TemplateError::MissingValue {
            name: name.to_string(),
        })
}

fn evaluate_pipeline(
    action: &str,
    values: &BTreeMap<String, Vec<u8>>,
) -> Result<String, TemplateError> {
    if action.starts_with("/*") {
        return Ok(String::new());
    }
    let tokens = tokenize(action)?;
    if let Some(Token::Word(word)) = tokens.first() {
        if matches!(
            word.as_str(),
            "if" | "range" | "with" | "else" | "end" | "define" | "template" | "block"
        ) {
            return Err(TemplateError::Unsupported {
                construct: format!("`{word}`"),
            });
        }
    }
    let mut result: Option<String> = None;
    for command in tokens.split(|token| *token == Token::Pipe) {
        result = Some(evaluate_command(command, result.take(), values)?);
    }
    Ok(result.unwrap_or_default())
}

/// Evaluates an argument token (or parenthesised sub-pipeline) to text.
fn argument(
    tokens: &[Token],
    position: &mut usize,
    values: &BTreeMap<String, Vec<u8>>,
) -> Result<String, TemplateError> {
    let token = tokens
        .get(*position)
        .cloned()
        .ok_or(TemplateError::Unsupported {
            construct: "missing argument".into(),
        })?;
    *position += 1;
    match token {
        Token::Field(name) => value_of(&name, values),
        Token::Text(text) => Ok(text),
        Token::Number(number) => Ok(number.to_string()),
        Token::Dot => Err(TemplateError::Unsupported {
            construct: "`.` as a value (use `.name` or `index . \"name\"`)".into(),
        }),
        Token::Open => {
            let start = *position;
            let mut depth = 1;
            while *position < tokens.len() {
                match tokens[*position] {
                    Token::Open => depth += 1,
                    Token::Close => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                *position += 1;
            }
            let inner = &tokens[start..*position];
            *position += 1;
            let mut result: Option<String> = None;
            for command in inner.split(|token| *token == Token::Pipe) {
                result = Some(evaluate_command(command, result.take(), values)?);
            }
            Ok(result.unwrap_or_default())
        }
        Token::Word(word) => Err(TemplateError::Unsupported {
            construct: format!("`{word}` as an argument (wrap calls in parentheses)"),
        }),
        Token::Pipe | Token::Close => Err(TemplateError::Unsupported {
            construct: "`|` or `)` here".into(),
        }),
    }
}

fn evaluate_command(
    command: &[Token],
    piped: Option<String>,
    values: &BTreeMap<String, Vec<u8>>,
) -> Result<String, TemplateError> {
    let Some(first) = command.first() else {
        return Err(TemplateError::Unsupported {
            construct: "an empty pipeline stage".into(),
        });
    };
    let Token::Word(function) = first else {
        let mut position = 0;
        let value = argument(command, &mut position, values)?;
        if position == command.len() && piped.is_none() {
            return Ok(value);
        }
        return Err(TemplateError::Unsupported {
            construct: "a value followed by arguments".into(),
        });
    };
    if function == "index" {
        // index . "name"
        if command.get(1) != Some(&Token::Dot) {
            return Err(TemplateError::Unsupported {
                construct: "index of anything but `.`".into(),
            });
        }
        let mut position = 2;
        let name = argument(command, &mut position, values)?;
        return value_of(&name, values);
    }
    let mut arguments = Vec::new();
    let mut position = 1;
    while position < command.len() {
        arguments.push(argument(command, &mut position, values)?);
    }
    if let Some(piped) = piped {
        arguments.push(piped);
    }
    let arity = |expected: &'static str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(TemplateError::Arity {
                function: function.clone(),
                expected,
                got: arguments.len(),
            })
        }
    };
    Ok(match function.as_str() {
        "upper" => {
            arity("1", arguments.len() == 1)?;
            arguments[0].to_uppercase()
        }
        "lower" => {
            arity("1", arguments.len() == 1)?;
            arguments[0].to_lowercase()
        }
        "trim" => {
            arity("1", arguments.len() == 1)?;
            arguments[0].trim().to_string()
        }
        "trimPrefix" => {
            arity("2", arguments.len() == 2)?;
            arguments[1]
                .strip_prefix(arguments[0].as_str())
                .unwrap_or(&arguments[1])
                .to_string()
        }
        "trimSuffix" => {
            arity("2", arguments.len() == 2)?;
            arguments[1]
                .strip_suffix(arguments[0].as_str())
                .unwrap_or(&arguments[1])
                .to_string()
        }
        "replace" => {
            arity("3", arguments.len() == 3)?;
            arguments[2].replace(arguments[0].as_str(), &arguments[1])
        }
        "quote" => arguments
            .iter()
            .map(|argument| format!("{argument:?}"))
            .collect::<Vec<_>>()
            .join(" "),
        "squote" => arguments
            .iter()
            .map(|argument| format!("'{argument}'"))
            .collect::<Vec<_>>()
            .join(" "),
        "b64enc" => {
            arity("1", arguments.len() == 1)?;
            encode_standard(arguments[0].as_bytes())
        }
        "b64dec" => {
            arity("1", arguments.len() == 1)?;
            String::from_utf8_lossy(
                &decode_standard(arguments[0].trim()).ok_or(TemplateError::Base64)?,
            )
            .into_owned()
        }
        "default" => {
            arity("2", arguments.len() == 2)?;
            if arguments[1].is_empty() {
                arguments[0].clone()
            } else {
                arguments[1].clone()
            }
        }
        "indent" | "nindent" => {
            arity("2", arguments.len() == 2)?;
            let width: usize = arguments[0]
                .parse()
                .map_err(|_| TemplateError::Unsupported {
                    construct: format!("a non-numeric `{function}` width"),
                })?;
            let pad = " ".repeat(width);
            let indented = arguments[1]
                .lines()
                .map(|line| format!("{pad}{line}"))
                .collect::<Vec<_>>()
                .join("\n");
            if function == "nindent" {
                format!("\n{indented}")
            } else {
                indented
            }
        }
        "cat" => arguments
            .iter()
            .filter(|argument| !argument.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        "print" => arguments.concat(),
        "printf" => {
            arity("at least 1", !arguments.is_empty())?;
            printf(&arguments[0], &arguments[1..])?
        }
        other => {
            return Err(TemplateError::Unsupported {
                construct: format!("function `{other}`"),
            })
        }
    })
}

fn printf(format: &str, arguments: &[String]) -> Result<String, TemplateError> {
    let mut output = String::new();
    let mut next = arguments.iter();
    let mut characters = format.chars();
    while let Some(character) = characters.next() {
        if character != '%' {
            output.push(character);
            continue;
        }
        match characters.next() {
            Some('%') => output.push('%'),
            Some('s') | Some('v') | Some('d') => {
                output.push_str(next.next().map(String::as_str).unwrap_or("%!s(MISSING)"))
            }
            Some('q') => output.push_str(&format!(
                "{:?}",
                next.next().map(String::as_str).unwrap_or("")
            )),
            Some(other) => {
                return Err(TemplateError::Unsupported {
                    construct: format!("printf verb `%{other}`"),
                })
            }
            None => output.push('%'),
        }
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<String, Vec<u8>> {
        BTreeMap::from([
            ("username".to_string(), b"admin".to_vec()),
            ("password".to_string(), b"S3cr3t".to_vec()),
        ])
    }

    #[test]
    fn renders_the_common_forms() {
        let values = values();
        assert_eq!(
            render("postgres://{{ index . \"username\" }}@db", &values).expect("ok"),
            "postgres://admin@db"
        );
        assert_eq!(
            render("{{ .username }}:{{ .password }}", &values).expect("ok"),
            "admin:S3cr3t"
        );
        assert_eq!(
            render("{{ .username | upper }}", &values).expect("ok"),
            "ADMIN"
        );
        assert_eq!(
            render(
                "{{ printf \"%s:%s\" .username .password | b64enc }}",
                &values
            )
            .expect("ok"),
            "YWRtaW46UzNjcjN0"
        );
        assert_eq!(render("a {{- \" b \" -}} c", &values).expect("ok"), "a b c");
        assert_eq!(
            render("{{ default \"x\" \"\" }}", &values).expect("ok"),
            "x"
        );
        assert_eq!(
            render("{{ (upper .username) | quote }}", &values).expect("ok"),
            "\"ADMIN\""
        );
        assert_eq!(
            render("user: {{ .username | nindent 2 }}", &values).expect("ok"),
            "user: \n  admin"
        );
    }

    #[test]
    fn errors_are_clear_and_hold_no_values() {
        let values = values();
        for (template, fragment) in [
            ("{{ .missing }}", "no decrypted value named `missing`"),
            ("{{ range . }}", "`range` is not supported"),
            ("{{ .password | sha256sum }}", "function `sha256sum`"),
            ("{{ .password ", "unterminated"),
            ("{{ $x := 1 }}", "variables"),
        ] {
            let error = render(template, &values).expect_err(template).to_string();
            assert!(error.contains(fragment), "{template}: {error}");
            assert!(!error.contains("S3cr3t"), "{error}");
        }
    }
}
