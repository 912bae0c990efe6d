//! `config/<prefix>cicd/`: the pipelines namespace and its Tekton objects, in KAM's numbered
//! layout (`01-namespaces` … `08-routes`, plus `09-secrets`).
//!
//! The CI pipeline (`app-ci-pipeline`) clones a service at the pushed commit, runs its tests,
//! builds and pushes its image tagged with the commit, and then commits that tag and the
//! pushed digest to the first environment's service overlay in the GitOps repository: the
//! link from a built image to the overlays that KAM leaves to the user. A push to the GitOps
//! repository runs `ci-dryrun-from-push-pipeline`, which renders every overlay. Tasks the
//! OpenShift Pipelines operator ships (`git-clone`, `buildah`) are referenced through the
//! cluster resolver (ClusterTasks were removed in OpenShift Pipelines 1.17).

use serde_json::{json, Value};

use crate::generate::{labels, paths, Plan, SecretSpec, SecretValue};
use crate::manifest::{Solution, GIT_TOKEN_CREDENTIAL, REGISTRY_CREDENTIAL};
use crate::names;

/// Where operators that watch every namespace are installed.
pub const OPERATORS_NAMESPACE: &str = "openshift-operators";
/// Where catalog sources live.
pub const MARKETPLACE_NAMESPACE: &str = "openshift-marketplace";
/// The pipelines' service account (the name OpenShift Pipelines gives it).
pub const PIPELINE_SERVICE_ACCOUNT: &str = "pipeline";
/// Where the OpenShift Pipelines operator installs the tasks it ships.
pub const SHIPPED_TASKS_NAMESPACE: &str = "openshift-pipelines";
/// The image the generated tasks run git in.
pub const GIT_IMAGE: &str = "docker.io/alpine/git:v2.47.2";
/// The image the generated tasks run kustomize in.
pub const KUSTOMIZE_IMAGE: &str = "registry.k8s.io/kustomize/kustomize:v5.5.0";

/// The namespace an operator is installed in: `openshift-operators` when it can watch all
/// namespaces, else a namespace of its own (with an OperatorGroup).
pub fn operator_namespace(package: &flotilla_catalog::Package) -> String {
    if package.supports(flotilla_catalog::InstallModeType::AllNamespaces) {
        OPERATORS_NAMESPACE.into()
    } else {
        package.name.clone()
    }
}

/// The namespaces the solution's operators are installed in.
pub fn operator_namespaces(solution: &Solution) -> Vec<String> {
    let catalog = flotilla_catalog::Catalog::embedded();
    let mut namespaces: Vec<String> = solution
        .operators
        .iter()
        .filter_map(|operator| catalog.package(&operator.package))
        .map(operator_namespace)
        .collect();
    namespaces.sort();
    namespaces.dedup();
    namespaces
}

/// The RoleBinding that lets Argo CD's application controller manage a namespace (OpenShift
/// GitOps' controller is not cluster-admin).
pub fn argocd_admin(solution: &Solution, namespace: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "argocd-admin", "namespace": namespace, "labels": labels(solution)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
        "subjects": [{
            "kind": "ServiceAccount",
            "name": format!("{}-argocd-application-controller", solution.argocd_namespace),
            "namespace": solution.argocd_namespace,
        }],
    })
}

/// A task the operator ships, through the cluster resolver.
fn shipped_task(name: &str) -> Value {
    json!({"resolver": "cluster", "params": [
        {"name": "kind", "value": "task"},
        {"name": "name", "value": name},
        {"name": "namespace", "value": SHIPPED_TASKS_NAMESPACE},
    ]})
}

/// The name of a service's webhook secret.
pub fn webhook_secret_name(service: &str) -> String {
    format!("webhook-secret-{service}")
}

pub const GITOPS_WEBHOOK_SECRET: &str = "gitops-webhook-secret";
pub const WEBHOOK_SECRET_KEY: &str = "webhook-secret-key";
pub const GIT_TOKEN_SECRET: &str = "git-host-basic-auth-token";
pub const REGISTRY_SECRET: &str = "regcred";

pub(crate) fn generate(solution: &Solution, plan: &mut Plan) {
    let namespace = solution.cicd_namespace();
    let base = format!("{}/base", paths::cicd(&namespace));
    let meta =
        |name: &str| json!({"name": name, "namespace": namespace, "labels": labels(solution)});
    let mut resources: Vec<String> = Vec::new();
    let mut put = |plan: &mut Plan, file: &str, documents: &[Value]| {
        plan.file(format!("{base}/{file}"), documents);
        resources.push(file.to_string());
    };
    put(
        plan,
        "01-namespaces/cicd-environment.yaml",
        &[json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": labels(solution), "annotations": {"app.openshift.io/vcs-uri": format!("{}?ref={}", solution.gitops_repo_url, solution.gitops_revision)}},
        })],
    );
    put(
        plan,
        "02-rolebindings/argocd-admin.yaml",
        &[argocd_admin(solution, &namespace)],
    );
    let mut account_secrets = Vec::new();
    if solution
        .credentials
        .iter()
        .any(|credential| credential == GIT_TOKEN_CREDENTIAL)
    {
        account_secrets.push(json!({"name": GIT_TOKEN_SECRET}));
    }
    if solution
        .credentials
        .iter()
        .any(|credential| credential == REGISTRY_CREDENTIAL)
    {
        account_secrets.push(json!({"name": REGISTRY_SECRET}));
    }
    let mut account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(PIPELINE_SERVICE_ACCOUNT),
    });
    if !account_secrets.is_empty() {
        account["secrets"] = json!(account_secrets);
        if solution
            .credentials
            .iter()
            .any(|credential| credential == REGISTRY_CREDENTIAL)
        {
            account["imagePullSecrets"] = json!([{"name": REGISTRY_SECRET}]);
        }
    }
    put(
        plan,
        "02-rolebindings/pipeline-service-account.yaml",
        &[account],
    );
    // The event listener reads its triggers and creates PipelineRuns.
    put(
        plan,
        "02-rolebindings/pipeline-triggers-rolebinding.yaml",
        &[json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta("pipeline-triggers"),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "tekton-triggers-eventlistener-roles"},
            "subjects": [{"kind": "ServiceAccount", "name": PIPELINE_SERVICE_ACCOUNT, "namespace": namespace}],
        })],
    );
    put(
        plan,
        "03-tasks/run-tests-task.yaml",
        &[run_tests_task(&meta("run-tests"))],
    );
    put(
        plan,
        "03-tasks/update-image-task.yaml",
        &[update_image_task(&meta("update-image"))],
    );
    put(
        plan,
        "03-tasks/render-overlays-task.yaml",
        &[render_overlays_task(&meta("render-overlays"))],
    );
    put(
        plan,
        "04-pipelines/app-ci-pipeline.yaml",
        &[app_ci_pipeline(&meta("app-ci-pipeline"))],
    );
    put(
        plan,
        "04-pipelines/ci-dryrun-from-push-pipeline.yaml",
        &[dryrun_pipeline(&meta("ci-dryrun-from-push-pipeline"))],
    );
    put(
        plan,
        "05-bindings/github-push-binding.yaml",
        &[json!({
            "apiVersion": "triggers.tekton.dev/v1beta1",
            "kind": "TriggerBinding",
            "metadata": meta("github-push-binding"),
            "spec": {"params": [
                {"name": "REPO_URL", "value": "$(body.repository.clone_url)"},
                {"name": "REPO_FULL_NAME", "value": "$(body.repository.full_name)"},
                {"name": "COMMIT_SHA", "value": "$(body.head_commit.id)"},
            ]},
        })],
    );
    // The environment a new image goes to first: the first environment that runs the service.
    let mut triggers = vec![json!({
        "name": "ci-dryrun-from-push",
        "interceptors": interceptors(GITOPS_WEBHOOK_SECRET, &names::repository_full_name(&solution.gitops_repo_url)),
        "bindings": [{"ref": "github-push-binding", "kind": "TriggerBinding"}],
        "template": {"ref": "ci-dryrun-from-push-template"},
    })];
    let mut seen = std::collections::BTreeSet::new();
    for environment in &solution.environments {
        for app in &environment.apps {
            for service in &app.services {
                if !seen.insert(service.name.clone()) {
                    continue;
                }
                let binding = format!("{}-binding", service.name);
                put(
                    plan,
                    &format!("05-bindings/{binding}.yaml"),
                    &[json!({
                        "apiVersion": "triggers.tekton.dev/v1beta1",
                        "kind": "TriggerBinding",
                        "metadata": meta(&binding),
                        "spec": {"params": [
                            {"name": "IMAGE", "value": service.image},
                            {"name": "GITOPS_REPO_URL", "value": solution.gitops_repo_url},
                            {"name": "OVERLAY", "value": paths::service_overlay(&environment.name, &app.name, &service.name)},
                        ]},
                    })],
                );
                triggers.push(json!({
                    "name": format!("app-ci-build-from-push-{}", service.name),
                    "interceptors": interceptors(&webhook_secret_name(&service.name), &names::repository_full_name(&service.source_url)),
                    "bindings": [{"ref": "github-push-binding", "kind": "TriggerBinding"}, {"ref": binding, "kind": "TriggerBinding"}],
                    "template": {"ref": "app-ci-template"},
                }));
                plan.secrets.push(SecretSpec {
                    path: format!(
                        "{base}/09-secrets/{}.yaml",
                        webhook_secret_name(&service.name)
                    ),
                    namespace: namespace.clone(),
                    name: webhook_secret_name(&service.name),
                    secret_type: "Opaque".into(),
                    annotations: Default::default(),
                    keys: [(WEBHOOK_SECRET_KEY.to_string(), SecretValue::Random(20))].into(),
                });
            }
        }
    }
    put(
        plan,
        "06-templates/app-ci-build-from-push-template.yaml",
        &[app_ci_template(&meta("app-ci-template"))],
    );
    put(
        plan,
        "06-templates/ci-dryrun-from-push-template.yaml",
        &[dryrun_template(&meta("ci-dryrun-from-push-template"))],
    );
    put(
        plan,
        "07-eventlisteners/cicd-event-listener.yaml",
        &[json!({
            "apiVersion": "triggers.tekton.dev/v1beta1",
            "kind": "EventListener",
            "metadata": meta("cicd-event-listener"),
            "spec": {"serviceAccountName": PIPELINE_SERVICE_ACCOUNT, "triggers": triggers},
        })],
    );
    put(
        plan,
        "08-routes/gitops-webhook-event-listener.yaml",
        &[json!({
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "metadata": meta("gitops-webhook-event-listener-route"),
            "spec": {
                "to": {"kind": "Service", "name": "el-cicd-event-listener", "weight": 100},
                "port": {"targetPort": "http-listener"},
                "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
            },
        })],
    );
    plan.secrets.push(SecretSpec {
        path: format!("{base}/09-secrets/{GITOPS_WEBHOOK_SECRET}.yaml"),
        namespace: namespace.clone(),
        name: GITOPS_WEBHOOK_SECRET.into(),
        secret_type: "Opaque".into(),
        annotations: Default::default(),
        keys: [(WEBHOOK_SECRET_KEY.to_string(), SecretValue::Random(20))].into(),
    });
    if solution
        .credentials
        .iter()
        .any(|credential| credential == GIT_TOKEN_CREDENTIAL)
    {
        plan.secrets.push(SecretSpec {
            path: format!("{base}/09-secrets/{GIT_TOKEN_SECRET}.yaml"),
            namespace: namespace.clone(),
            name: GIT_TOKEN_SECRET.into(),
            secret_type: "kubernetes.io/basic-auth".into(),
            annotations: [(
                "tekton.dev/git-0".to_string(),
                git_host(&solution.gitops_repo_url),
            )]
            .into(),
            keys: [
                (
                    "username".to_string(),
                    SecretValue::Given("git-username".into()),
                ),
                (
                    "password".to_string(),
                    SecretValue::Given(GIT_TOKEN_CREDENTIAL.into()),
                ),
            ]
            .into(),
        });
    }
    if solution
        .credentials
        .iter()
        .any(|credential| credential == REGISTRY_CREDENTIAL)
    {
        plan.secrets.push(SecretSpec {
            path: format!("{base}/09-secrets/{REGISTRY_SECRET}.yaml"),
            namespace: namespace.clone(),
            name: REGISTRY_SECRET.into(),
            secret_type: "kubernetes.io/dockerconfigjson".into(),
            annotations: Default::default(),
            keys: [(
                ".dockerconfigjson".to_string(),
                SecretValue::Given(REGISTRY_CREDENTIAL.into()),
            )]
            .into(),
        });
    }
    for secret in &plan.secrets {
        if let Some(file) = secret.path.strip_prefix(&format!("{base}/")) {
            resources.push(file.to_string());
        }
    }
    resources.sort();
    plan.kustomization(&base, &resources, json!({}));
    plan.kustomization(
        &format!("{}/overlays", paths::cicd(&namespace)),
        &["../base".to_string()],
        json!({}),
    );
}

/// `https://host` of a repository URL (the host Tekton's git credentials apply to).
fn git_host(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest)),
        None => {
            let host = url.split(':').next().unwrap_or(url);
            format!("https://{}", host.rsplit('@').next().unwrap_or(host))
        }
    }
}

/// GitHub's interceptor (the webhook secret, push events) and a CEL filter on the repository.
fn interceptors(secret: &str, full_name: &str) -> Value {
    json!([
        {"ref": {"name": "github", "kind": "ClusterInterceptor"}, "params": [
            {"name": "secretRef", "value": {"secretName": secret, "secretKey": WEBHOOK_SECRET_KEY}},
            {"name": "eventTypes", "value": ["push"]},
        ]},
        {"ref": {"name": "cel", "kind": "ClusterInterceptor"}, "params": [
            {"name": "filter", "value": format!("body.repository.full_name == '{full_name}'")},
        ]},
    ])
}

fn run_tests_task(metadata: &Value) -> Value {
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "Task",
        "metadata": metadata,
        "spec": {
            "description": "Runs the service's tests in its source tree: `make test` when a Makefile has a test target, else the script given.",
            "params": [
                {"name": "TEST_IMAGE", "type": "string", "default": "registry.access.redhat.com/ubi9/ubi:latest"},
                {"name": "TEST_SCRIPT", "type": "string", "default": "if [ -f Makefile ] && grep -q '^test:' Makefile; then make test; else echo 'no test target: nothing to run'; fi"},
            ],
            "workspaces": [{"name": "source"}],
            "steps": [{
                "name": "test",
                "image": "$(params.TEST_IMAGE)",
                "workingDir": "$(workspaces.source.path)",
                "script": "#!/bin/sh\nset -eu\n$(params.TEST_SCRIPT)\n",
            }],
        },
    })
}

fn update_image_task(metadata: &Value) -> Value {
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "Task",
        "metadata": metadata,
        "spec": {
            "description": "Commits a built image (tag and digest) to a service overlay of the GitOps repository: the first environment then deploys it, and `flotilla promote` moves it on.",
            "params": [
                {"name": "GITOPS_REPO_URL", "type": "string"},
                {"name": "OVERLAY", "type": "string", "description": "the service overlay, relative to the repository root"},
                {"name": "IMAGE", "type": "string", "description": "the image without tag"},
                {"name": "TAG", "type": "string"},
                {"name": "DIGEST", "type": "string", "default": ""},
            ],
            "workspaces": [{"name": "gitops"}],
            "steps": [
                {
                    "name": "clone",
                    "image": GIT_IMAGE,
                    "workingDir": "$(workspaces.gitops.path)",
                    "script": "#!/bin/sh\nset -eu\nrm -rf repo\ngit clone --depth 1 \"$(params.GITOPS_REPO_URL)\" repo\n",
                },
                {
                    "name": "set-image",
                    "image": KUSTOMIZE_IMAGE,
                    "workingDir": "$(workspaces.gitops.path)/repo/$(params.OVERLAY)",
                    "script": "#!/bin/sh\nset -eu\nif [ -n \"$(params.DIGEST)\" ]; then\n  kustomize edit set image \"$(params.IMAGE)=$(params.IMAGE):$(params.TAG)@$(params.DIGEST)\"\nelse\n  kustomize edit set image \"$(params.IMAGE)=$(params.IMAGE):$(params.TAG)\"\nfi\n",
                },
                {
                    "name": "commit-and-push",
                    "image": GIT_IMAGE,
                    "workingDir": "$(workspaces.gitops.path)/repo",
                    "script": "#!/bin/sh\nset -eu\ngit config user.name 'flotilla pipeline'\ngit config user.email 'pipeline@flotilla.invalid'\ngit add \"$(params.OVERLAY)\"\nif git diff --cached --quiet; then echo 'the overlay already has this image'; exit 0; fi\ngit commit -m \"Deploy $(params.IMAGE):$(params.TAG) to $(params.OVERLAY)\"\nfor attempt in 1 2 3 4 5; do\n  if git push origin HEAD; then exit 0; fi\n  git pull --rebase origin HEAD\ndone\necho 'could not push after 5 attempts' >&2\nexit 1\n",
                },
            ],
        },
    })
}

fn render_overlays_task(metadata: &Value) -> Value {
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "Task",
        "metadata": metadata,
        "spec": {
            "description": "Renders every overlay of the GitOps repository, so a push that breaks one fails here.",
            "workspaces": [{"name": "source"}],
            "steps": [{
                "name": "render",
                "image": KUSTOMIZE_IMAGE,
                "workingDir": "$(workspaces.source.path)",
                "script": "#!/bin/sh\nset -eu\nfor overlay in $(find . -path '*/overlays/kustomization.yaml' -exec dirname {} \\;) bootstrap config/argocd; do\n  echo \"rendering $overlay\"\n  kustomize build \"$overlay\" > /dev/null\ndone\n",
            }],
        },
    })
}

fn app_ci_pipeline(metadata: &Value) -> Value {
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "Pipeline",
        "metadata": metadata,
        "spec": {
            "description": "Builds, tests and pushes a service's image, then commits its tag and digest to the first environment's overlay.",
            "params": [
                {"name": "REPO_URL", "type": "string"},
                {"name": "COMMIT_SHA", "type": "string"},
                {"name": "IMAGE", "type": "string"},
                {"name": "GITOPS_REPO_URL", "type": "string"},
                {"name": "OVERLAY", "type": "string"},
            ],
            "workspaces": [{"name": "source"}, {"name": "gitops"}],
            "tasks": [
                {
                    "name": "clone-source",
                    "taskRef": shipped_task("git-clone"),
                    "params": [{"name": "URL", "value": "$(params.REPO_URL)"}, {"name": "REVISION", "value": "$(params.COMMIT_SHA)"}],
                    "workspaces": [{"name": "output", "workspace": "source"}],
                },
                {
                    "name": "test",
                    "runAfter": ["clone-source"],
                    "taskRef": {"name": "run-tests", "kind": "Task"},
                    "workspaces": [{"name": "source", "workspace": "source"}],
                },
                {
                    "name": "build-image",
                    "runAfter": ["test"],
                    "taskRef": shipped_task("buildah"),
                    "params": [{"name": "IMAGE", "value": "$(params.IMAGE):$(params.COMMIT_SHA)"}],
                    "workspaces": [{"name": "source", "workspace": "source"}],
                },
                {
                    "name": "update-dev-overlay",
                    "runAfter": ["build-image"],
                    "taskRef": {"name": "update-image", "kind": "Task"},
                    "params": [
                        {"name": "GITOPS_REPO_URL", "value": "$(params.GITOPS_REPO_URL)"},
                        {"name": "OVERLAY", "value": "$(params.OVERLAY)"},
                        {"name": "IMAGE", "value": "$(params.IMAGE)"},
                        {"name": "TAG", "value": "$(params.COMMIT_SHA)"},
                        {"name": "DIGEST", "value": "$(tasks.build-image.results.IMAGE_DIGEST)"},
                    ],
                    "workspaces": [{"name": "gitops", "workspace": "gitops"}],
                },
            ],
        },
    })
}

fn dryrun_pipeline(metadata: &Value) -> Value {
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "Pipeline",
        "metadata": metadata,
        "spec": {
            "description": "Renders every overlay of the GitOps repository at the pushed commit.",
            "params": [{"name": "REPO_URL", "type": "string"}, {"name": "COMMIT_SHA", "type": "string"}],
            "workspaces": [{"name": "source"}],
            "tasks": [
                {
                    "name": "clone-gitops",
                    "taskRef": shipped_task("git-clone"),
                    "params": [{"name": "URL", "value": "$(params.REPO_URL)"}, {"name": "REVISION", "value": "$(params.COMMIT_SHA)"}],
                    "workspaces": [{"name": "output", "workspace": "source"}],
                },
                {
                    "name": "render",
                    "runAfter": ["clone-gitops"],
                    "taskRef": {"name": "render-overlays", "kind": "Task"},
                    "workspaces": [{"name": "source", "workspace": "source"}],
                },
            ],
        },
    })
}

fn workspace_claim() -> Value {
    json!({"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}})
}

fn app_ci_template(metadata: &Value) -> Value {
    let mut source = workspace_claim();
    source["name"] = json!("source");
    let mut gitops = workspace_claim();
    gitops["name"] = json!("gitops");
    json!({
        "apiVersion": "triggers.tekton.dev/v1beta1",
        "kind": "TriggerTemplate",
        "metadata": metadata,
        "spec": {
            "params": [{"name": "REPO_URL"}, {"name": "COMMIT_SHA"}, {"name": "IMAGE"}, {"name": "GITOPS_REPO_URL"}, {"name": "OVERLAY"}, {"name": "REPO_FULL_NAME"}],
            "resourcetemplates": [{
                "apiVersion": "tekton.dev/v1",
                "kind": "PipelineRun",
                "metadata": {"generateName": "app-ci-pipeline-run-"},
                "spec": {
                    "pipelineRef": {"name": "app-ci-pipeline"},
                    "taskRunTemplate": {"serviceAccountName": PIPELINE_SERVICE_ACCOUNT},
                    "params": [
                        {"name": "REPO_URL", "value": "$(tt.params.REPO_URL)"},
                        {"name": "COMMIT_SHA", "value": "$(tt.params.COMMIT_SHA)"},
                        {"name": "IMAGE", "value": "$(tt.params.IMAGE)"},
                        {"name": "GITOPS_REPO_URL", "value": "$(tt.params.GITOPS_REPO_URL)"},
                        {"name": "OVERLAY", "value": "$(tt.params.OVERLAY)"},
                    ],
                    "workspaces": [source, gitops],
                },
            }],
        },
    })
}

fn dryrun_template(metadata: &Value) -> Value {
    let mut source = workspace_claim();
    source["name"] = json!("source");
    json!({
        "apiVersion": "triggers.tekton.dev/v1beta1",
        "kind": "TriggerTemplate",
        "metadata": metadata,
        "spec": {
            "params": [{"name": "REPO_URL"}, {"name": "COMMIT_SHA"}, {"name": "REPO_FULL_NAME"}],
            "resourcetemplates": [{
                "apiVersion": "tekton.dev/v1",
                "kind": "PipelineRun",
                "metadata": {"generateName": "ci-dryrun-from-push-pipeline-run-"},
                "spec": {
                    "pipelineRef": {"name": "ci-dryrun-from-push-pipeline"},
                    "taskRunTemplate": {"serviceAccountName": PIPELINE_SERVICE_ACCOUNT},
                    "params": [
                        {"name": "REPO_URL", "value": "$(tt.params.REPO_URL)"},
                        {"name": "COMMIT_SHA", "value": "$(tt.params.COMMIT_SHA)"},
                    ],
                    "workspaces": [source],
                },
            }],
        },
    })
}
