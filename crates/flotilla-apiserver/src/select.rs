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
}
