//! The health rules, one module per kind (or per family of kinds sharing one upstream rule), and
//! the table that picks a rule by API group and kind.

use serde_json::Value;

use crate::Health;

pub(crate) mod common;

mod apiservice;
mod application;
mod certmanager;
mod daemonset;
mod deployment;
mod eventstreams;
mod hpa;
mod ingress;
mod job;
mod olm;
mod pod;
mod pvc;
mod queuemanager;
mod registry;
mod replicaset;
mod route;
mod sealedsecret;
mod service;
mod statefulset;
mod strimzi;
mod tekton;

pub(crate) type Rule = fn(&Value) -> Health;

pub(crate) fn rule_for(group: &str, kind: &str) -> Option<Rule> {
    let rule: Rule = match (group, kind) {
        ("apps" | "extensions", "Deployment") => deployment::health,
        ("apps", "StatefulSet") => statefulset::health,
        ("apps" | "extensions", "DaemonSet") => daemonset::health,
        ("apps" | "extensions", "ReplicaSet") => replicaset::health,
        ("", "Pod") => pod::health,
        ("batch", "Job") => job::health,
        ("", "Service") => service::health,
        ("networking.k8s.io" | "extensions", "Ingress") => ingress::health,
        ("", "PersistentVolumeClaim") => pvc::health,
        ("apiregistration.k8s.io", "APIService") => apiservice::health,
        ("autoscaling", "HorizontalPodAutoscaler") => hpa::health,
        ("kafka.strimzi.io" | "eventstreams.ibm.com", "KafkaRebalance") => strimzi::rebalance,
        (
            "kafka.strimzi.io" | "eventstreams.ibm.com",
            "Kafka" | "KafkaTopic" | "KafkaUser" | "KafkaConnect" | "KafkaConnector"
            | "KafkaMirrorMaker2" | "KafkaBridge" | "KafkaNodePool",
        ) => strimzi::health,
        ("eventstreams.ibm.com", "EventStreams" | "EventStreamsGeoReplicator") => {
            eventstreams::health
        }
        ("mq.ibm.com", "QueueManager") => queuemanager::health,
        ("registry.apicur.io", "ApicurioRegistry" | "ApicurioRegistry3") => registry::health,
        ("cert-manager.io", "Certificate") => certmanager::certificate,
        ("cert-manager.io", "Issuer" | "ClusterIssuer") => certmanager::issuer,
        ("operators.coreos.com", "Subscription") => olm::subscription,
        ("operators.coreos.com", "InstallPlan") => olm::install_plan,
        ("operators.coreos.com", "ClusterServiceVersion") => olm::cluster_service_version,
        ("operators.coreos.com", "CatalogSource") => olm::catalog_source,
        ("tekton.dev", "PipelineRun" | "TaskRun") => tekton::health,
        ("route.openshift.io", "Route") => route::health,
        ("bitnami.com", "SealedSecret") => sealedsecret::health,
        ("argoproj.io", "Application") => application::health,
        _ => return None,
    };
    Some(rule)
}
