//! The names a solution is made of, checked as Kubernetes and git check them: DNS labels
//! (RFC 1123, as namespaces and Services need), git repository URLs, image repositories and
//! tags. Each check returns what is wrong in words (`None` when the name is fine).

/// Why `name` is not an RFC 1123 DNS label (lower-case alphanumerics and `-`, starting and
/// ending alphanumeric, at most 63 characters).
pub fn dns_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > 63 {
        return Some(format!(
            "is {} characters long: a DNS label has at most 63",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|character| !matches!(character, 'a'..='z' | '0'..='9' | '-'))
    {
        return Some(format!(
            "is not a DNS label: `{bad}` is not allowed (lower-case letters, digits and `-` only)"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("is not a DNS label: it must start and end with a letter or digit".into());
    }
    None
}

/// Why `url` is not a git repository URL: `https://host/path`, `http://`, `ssh://`, `git://`,
/// `file:///path`, or scp-like `user@host:path`.
pub fn git_url_problem(url: &str) -> Option<String> {
    let problem = || {
        Some(
            "is not a git repository URL (https://host/org/repo.git, ssh://…, git@host:org/repo.git or file:///path)"
                .to_string(),
        )
    };
    if url.chars().any(char::is_whitespace) || url.is_empty() {
        return problem();
    }
    for scheme in ["https://", "http://", "ssh://", "git://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = host.rsplit('@').next().unwrap_or(host);
            if host.is_empty() || path.trim_matches('/').is_empty() {
                return problem();
            }
            return None;
        }
    }
    if let Some(path) = url.strip_prefix("file://") {
        return (!path.starts_with('/') || path.len() < 2)
            .then(|| "is not a file URL with an absolute path (file:///srv/git/repo)".into());
    }
    // scp-like: user@host:path, a colon before any slash.
    if let Some((host, path)) = url.split_once(':') {
        if host.contains('@') && !host.contains('/') && !path.is_empty() {
            return None;
        }
    }
    problem()
}

/// The repository's name: the last path segment without `.git` (`orders` for
/// `https://github.com/shop/orders.git`).
pub fn repository_name(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let last = trimmed
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(trimmed)
        .trim_end_matches(".git");
    last.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// `org/repo` of a repository URL (what webhooks name as `repository.full_name`).
pub fn repository_full_name(url: &str) -> String {
    let trimmed = url.trim_end_matches('/').trim_end_matches(".git");
    let path = match trimmed.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map(|(_, path)| path).unwrap_or(""),
        None => trimmed.split_once(':').map(|(_, path)| path).unwrap_or(""),
    };
    path.trim_matches('/').to_string()
}

/// Why `image` is not an image repository without tag or digest (`quay.io/shop/orders`,
/// `registry:5000/ns/name`).
pub fn image_repository_problem(image: &str) -> Option<String> {
    if image.is_empty() {
        return Some("is empty".into());
    }
    if image.contains('@') {
        return Some("names a digest: give the repository only (quay.io/shop/orders)".into());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        return Some("names a tag: give the repository only (quay.io/shop/orders)".into());
    }
    let components: Vec<&str> = image.split('/').collect();
    let path = if components.len() > 1 && looks_like_a_registry(components[0]) {
        &components[1..]
    } else {
        &components[..]
    };
    for component in path {
        let valid = !component.is_empty()
            && component
                .chars()
                .all(|character| matches!(character, 'a'..='z' | '0'..='9' | '.' | '_' | '-'))
            && component
                .chars()
                .next()
                .is_some_and(|first| first.is_ascii_alphanumeric());
        if !valid {
            return Some(format!(
                "has the path component `{component}`: lower-case letters, digits, `.`, `_` and `-` only"
            ));
        }
    }
    None
}

fn looks_like_a_registry(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

/// Why `tag` is not an image tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
pub fn tag_problem(tag: &str) -> Option<String> {
    let valid = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .next()
            .is_some_and(|first| first.is_ascii_alphanumeric() || first == '_')
        && tag
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "_.-".contains(character));
    (!valid).then(|| "is not an image tag (letters, digits, `_`, `.`, `-`; at most 128)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert_eq!(dns_label_problem("orders-v2"), None);
        assert!(dns_label_problem("Orders").is_some());
        assert!(dns_label_problem("-orders").is_some());
        assert!(dns_label_problem(&"a".repeat(64)).is_some());
        assert!(dns_label_problem("").is_some());
    }

    #[test]
    fn git_urls() {
        for good in [
            "https://github.com/shop/orders.git",
            "http://gitea.local:3000/shop/orders",
            "ssh://git@github.com/shop/orders.git",
            "git@github.com:shop/orders.git",
            "file:///srv/git/orders",
        ] {
            assert_eq!(git_url_problem(good), None, "{good}");
        }
        for bad in [
            "github.com/shop/orders",
            "https://github.com",
            "not a url",
            "file://relative",
            "",
        ] {
            assert!(git_url_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn repository_names() {
        assert_eq!(
            repository_name("https://github.com/shop/Order_Service.git"),
            "order-service"
        );
        assert_eq!(repository_name("git@github.com:shop/orders.git"), "orders");
        assert_eq!(
            repository_full_name("https://github.com/shop/orders.git"),
            "shop/orders"
        );
        assert_eq!(
            repository_full_name("git@github.com:shop/orders.git"),
            "shop/orders"
        );
    }

    #[test]
    fn images_and_tags() {
        assert_eq!(image_repository_problem("quay.io/shop/orders"), None);
        assert_eq!(image_repository_problem("localhost:5000/orders"), None);
        assert!(image_repository_problem("quay.io/shop/orders:1.0").is_some());
        assert!(image_repository_problem("quay.io/Shop/orders").is_some());
        assert_eq!(tag_problem("1.2.3-rc1"), None);
        assert!(tag_problem("-x").is_some());
    }
}
