//! Kubernetes `Status` errors: one enum for everything a request can fail with, and its rendering
//! as a `metav1.Status` object with the reason and HTTP code kube-apiserver would use.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One cause inside `Status.details.causes`.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusCause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// What a request failed with; rendered as a Kubernetes `Status`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        group: String,
        resource: String,
        name: String,
    },
    #[error("the server could not find the requested resource")]
    UnknownResource,
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        group: String,
        resource: String,
        name: String,
    },
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {message}")]
    Conflict {
        group: String,
        resource: String,
        name: String,
        message: String,
    },
    #[error("Apply failed with {} conflict(s): {}", causes.len(), conflict_summary(causes))]
    ApplyConflict {
        group: String,
        resource: String,
        name: String,
        causes: Vec<StatusCause>,
    },
    /// 422. The message qualifies the kind with its group (`Deployment.apps "web" is invalid`).
    #[error(
        "{} \"{name}\" is invalid: {}",
        qualified_kind(kind, group),
        invalid_summary(causes)
    )]
    Invalid {
        group: String,
        kind: String,
        name: String,
        causes: Vec<StatusCause>,
    },
    #[error("{message}")]
    BadRequest { message: String },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("{message}")]
    NotAcceptable { message: String },
    #[error("the request is too large; limit is {limit} bytes")]
    RequestEntityTooLarge { limit: usize },
    #[error("{message}")]
    Expired { message: String },
    #[error("{message}")]
    MethodNotAllowed { message: String },
    /// 504: e.g. a list at a resourceVersion newer than the server has.
    #[error("Timeout: {message}")]
    Timeout { message: String },
    #[error("{message}")]
    Forbidden {
        group: String,
        resource: String,
        name: String,
        message: String,
    },
    #[error("Unauthorized")]
    Unauthorized,
    #[error("internal error: {message}")]
    Internal { message: String },
    /// 500 with no reason: an error kube-apiserver passes on as its library wrote it, not as a
    /// Kubernetes status (a server-side apply configuration of the wrong type).
    #[error("{message}")]
    Unclassified { message: String },
}

/// `Deployment.apps`, or `ConfigMap` for the core group, as Go prints a `GroupKind`.
fn qualified_kind(kind: &str, group: &str) -> String {
    if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    }
}

fn conflict_summary(causes: &[StatusCause]) -> String {
    causes
        .iter()
        .map(|cause| format!("{} {}", cause.message, cause.field))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The causes as kube's error aggregate words them: one as it is, several in brackets, each
/// distinct message once.
fn invalid_summary(causes: &[StatusCause]) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(causes.len());
    for cause in causes {
        let part = if cause.field.is_empty() {
            cause.message.clone()
        } else {
            format!("{}: {}", cause.field, cause.message)
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("[{}]", parts.join(", "))
    }
}

impl ApiError {
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError::NotFound {
            group: group.to_string(),
            resource: resource.to_string(),
            name: name.to_string(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
        }
    }

    pub fn invalid_field(
        group: &str,
        kind: &str,
        name: &str,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        ApiError::Invalid {
            group: group.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            causes: vec![StatusCause {
                reason: "FieldValueInvalid".to_string(),
                message: message.into(),
                field: field.to_string(),
            }],
        }
    }

    /// The HTTP status code kube-apiserver uses for this error.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownResource => 404,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict { .. } => 409,
            ApiError::Invalid { .. } => 422,
            ApiError::BadRequest { .. } => 400,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::NotAcceptable { .. } => 406,
            ApiError::RequestEntityTooLarge { .. } => 413,
            ApiError::Expired { .. } => 410,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Timeout { .. } => 504,
            ApiError::Forbidden { .. } => 403,
            ApiError::Unauthorized => 401,
            ApiError::Internal { .. } | ApiError::Unclassified { .. } => 500,
        }
    }

    /// The `Status.reason` kube-apiserver uses for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownResource => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::BadRequest { .. } => "BadRequest",
            ApiError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            ApiError::NotAcceptable { .. } => "NotAcceptable",
            ApiError::RequestEntityTooLarge { .. } => "RequestEntityTooLarge",
            ApiError::Expired { .. } => "Expired",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::Timeout { .. } => "Timeout",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Internal { .. } => "InternalError",
            ApiError::Unclassified { .. } => "",
        }
    }

    /// The error as a `metav1.Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        let details = match self {
            ApiError::NotFound {
                group,
                resource,
                name,
            }
            | ApiError::AlreadyExists {
                group,
                resource,
                name,
            }
            | ApiError::Conflict {
                group,
                resource,
                name,
                ..
            }
            | ApiError::Forbidden {
                group,
                resource,
                name,
                ..
            } => Some(json!({"name": name, "group": group, "kind": resource})),
            ApiError::ApplyConflict {
                group,
                resource,
                name,
                causes,
            } => Some(json!({
                "name": name, "group": group, "kind": resource, "causes": causes_json(causes)
            })),
            ApiError::Invalid {
                group,
                kind,
                name,
                causes,
            } => Some(json!({
                "name": name, "group": group, "kind": kind, "causes": causes_json(causes)
            })),
            _ => None,
        };
        if let (ApiError::Unclassified { .. }, Some(map)) = (self, status.as_object_mut()) {
            // kube leaves an unknown reason out.
            map.remove("reason");
        }
        if let Some(details) = details {
            let mut details = details;
            if let Some(map) = details.as_object_mut() {
                // kube leaves empty details out (a refused list names no object).
                for key in ["group", "name"] {
                    if map.get(key).and_then(Value::as_str) == Some("") {
                        map.remove(key);
                    }
                }
            }
            status["details"] = details;
        }
        status
    }
}

fn causes_json(causes: &[StatusCause]) -> Value {
    Value::Array(
        causes
            .iter()
            .map(|cause| json!({"reason": cause.reason, "message": cause.message, "field": cause.field}))
            .collect(),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        (code, [("content-type", "application/json")], body).into_response()
    }
}
