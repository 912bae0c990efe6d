//! Label selectors over objects (parsing is `flotilla_core::label_selector`) and field selectors
//! (`metadata.name`, `metadata.namespace`, with `=`, `==`, `!=`).

use serde_json::Value;

use crate::error::ApiError;
use crate::util::metadata;

/// A parsed label selector (the syntax lives in `flotilla_core::label_selector`); empty
/// matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    selector: flotilla_core::label_selector::LabelSelector,
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        flotilla_core::label_selector::LabelSelector::parse(text)
            .map(|selector| LabelSelector { selector })
            .map_err(|error| ApiError::bad_request(error.to_string()))
    }

    pub fn matches(&self, object: &Value) -> bool {
        if self.selector.is_empty() {
            return true;
        }
        let labels = metadata(object)
            .and_then(|metadata| metadata.get("labels"))
            .and_then(Value::as_object);
        self.selector.matches(|key| {
            labels
                .and_then(|labels| labels.get(key))
                .and_then(Value::as_str)
        })
    }
}

/// A parsed field selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSelector {
    requirements: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn parse(text: &str) -> Result<FieldSelector, ApiError> {
        let mut requirements = Vec::new();
        for part in text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            let (field, equal, value) = if let Some((field, value)) = part.split_once("!=") {
                (field, false, value)
            } else if let Some((field, value)) = part.split_once("==") {
                (field, true, value)
            } else if let Some((field, value)) = part.split_once('=') {
                (field, true, value)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{text}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            if ![
                "metadata.name",
                "metadata.namespace",
                "status.phase",
                "spec.nodeName",
                "type",
            ]
            .contains(&field)
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            requirements.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|(field, equal, value)| {
            let found = field
                .split('.')
                .try_fold(object, |current, part| current.get(part))
                .and_then(Value::as_str)
                .unwrap_or("");
            (found == value) == *equal
        })
    }

    /// The single name this selector pins, if any (`metadata.name=x`).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

/// A `metav1.LabelSelector` written as kube's `LabelSelectorAsSelector(…).String()` writes it:
/// requirements sorted by key (matchLabels `k=v` before expressions on the same key), `k in
/// (a,b)` and `k notin (a,b)` with sorted values, `k` for Exists, `!k` for DoesNotExist; empty
/// for a missing or empty selector. An unknown operator or a misplaced value list is an error.
pub fn label_selector_text(selector: &Value) -> Result<String, String> {
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            requirements.push((
                key.clone(),
                format!("{key}={}", value.as_str().unwrap_or_default()),
            ));
        }
    }
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for expression in expressions {
        let key = expression
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let operator = expression
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .map(|values| values.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        values.sort_unstable();
        let text = match operator {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "for 'in', 'notin' operators, values set can't be empty (key {key})"
                ))
            }
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "values set must be empty for exists and does not exist (key {key})"
                ))
            }
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            other => {
                return Err(format!(
                    "\"{other}\" is not a valid label selector operator"
                ))
            }
        };
        requirements.push((key.to_string(), text));
    }
    requirements.sort_by(|left, right| left.0.cmp(&right.0));
    Ok(requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(","))
}

/// A map of labels as kube's `labels.Set(…).String()` and `labels.FormatLabels` write it
/// (without the latter's `<none>`): `k=v` pairs sorted by key, comma-separated.
pub fn label_map_text(labels: &Value) -> String {
    let mut pairs: Vec<(&String, &str)> = labels
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| (key, value.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort_by(|left, right| left.0.cmp(right.0));
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let object = json!({"metadata": {"name": "n", "namespace": "d", "labels": {"app": "web", "tier": "front"}}});
        for (selector, expected) in [
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier=back", false),
        ] {
            let parsed = LabelSelector::parse(selector).expect("valid selector");
            assert_eq!(parsed.matches(&object), expected, "{selector}");
        }
        assert!(LabelSelector::parse("a in x").is_err());
    }

    #[test]
    fn field_selectors() {
        let object = json!({"metadata": {"name": "n", "namespace": "d"}});
        for (selector, expected) in [
            ("metadata.name=n", true),
            ("metadata.name!=n", false),
            ("metadata.namespace==d,metadata.name=x", false),
        ] {
            assert_eq!(
                FieldSelector::parse(selector)
                    .expect("valid")
                    .matches(&object),
                expected,
                "{selector}"
            );
        }
        assert!(FieldSelector::parse("spec.foo=1").is_err());
    }

    #[test]
    fn label_selectors_as_text() {
        for (selector, expected) in [
            (json!(null), Ok("")),
            (json!({}), Ok("")),
            (
                json!({"matchLabels": {"tier": "front", "app": "web"}}),
                Ok("app=web,tier=front"),
            ),
            (
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [
                    {"key": "env", "operator": "NotIn", "values": ["b", "a"]},
                    {"key": "app", "operator": "Exists"},
                    {"key": "zone", "operator": "DoesNotExist"}]}),
                Ok("app=web,app,env notin (a,b),!zone"),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "Near", "values": ["x"]}]}),
                Err(()),
            ),
            (
                json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                Err(()),
            ),
        ] {
            let text = label_selector_text(&selector).map_err(|_| ());
            assert_eq!(text, expected.map(str::to_string), "{selector}");
        }
        assert_eq!(
            label_map_text(&json!({"b": "2", "a": "1"})),
            "a=1,b=2".to_string()
        );
        assert_eq!(label_map_text(&json!(null)), String::new());
    }
}
