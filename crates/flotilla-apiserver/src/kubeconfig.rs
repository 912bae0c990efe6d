//! The kubeconfig written to `DIR/kubeconfig`: one cluster (server URL and CA), one user (bearer
//! token) and a current context, so `kubectl --kubeconfig DIR/kubeconfig` works at once.

use base64::Engine;

/// The kubeconfig text for a server.
pub fn render(server_url: &str, ca_pem: Option<&str>, token: Option<&str>) -> String {
    let mut text =
        String::from("apiVersion: v1\nkind: Config\nclusters:\n- name: flotilla\n  cluster:\n");
    text.push_str(&format!("    server: {server_url}\n"));
    if let Some(ca_pem) = ca_pem {
        let encoded = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
        text.push_str(&format!("    certificate-authority-data: {encoded}\n"));
    }
    text.push_str("users:\n- name: flotilla\n  user:\n");
    match token {
        Some(token) => text.push_str(&format!("    token: {token}\n")),
        None => text.push_str("    {}\n"),
    }
    text.push_str("contexts:\n- name: flotilla\n  context:\n    cluster: flotilla\n    user: flotilla\n    namespace: default\ncurrent-context: flotilla\n");
    text
}
