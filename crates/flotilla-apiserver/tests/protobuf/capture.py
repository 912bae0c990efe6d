#!/usr/bin/env python3
"""Captures the protobuf request bodies kubectl sends for typed `create`/`run` commands.

Usage: python3 capture.py [KUBECTL [CASE...]]   (run from this directory; KUBECTL defaults to
`kubectl`; naming cases captures only those)

For each case it starts nothing but a loopback HTTP server (127.0.0.1, an ephemeral port)
that answers discovery GETs with a minimal resource list, other GETs with a 404 Status and POSTs with 201, runs the command against it with
`--server`, and writes `<case>/request.bin` (the raw POST body) and `<case>/dry-run.json`
(the same command with `-o json --dry-run=client`: the object kubectl built, as JSON).
and `<case>/expected.json`: `dry-run.json` without its `null`s (Go prints the zero time and nil
slices as `null`; the decoder leaves them out), which the Rust test compares with the decoded body.
"""
import http.server
import json
import os
import subprocess
import sys
import threading


def without_nulls(value):
    """The object as kube-apiserver keeps it: Go prints zero times and nil slices as `null`."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value

CASES = {
    "namespace": ["create", "namespace", "foo"],
    "configmap": ["create", "configmap", "c", "--from-literal=a=b", "--from-literal=empty="],
    "configmap-binary": ["create", "configmap", "bin", "--from-file=files/binary.dat",
                         "--from-literal=text=hello"],
    "secret-generic": ["create", "secret", "generic", "s", "--from-literal=k=v"],
    "secret-generic-typed": ["create", "secret", "generic", "typed", "--type=example.com/custom",
                             "--from-literal=empty=", "--from-literal=user=admin"],
    "secret-tls": ["create", "secret", "tls", "t", "--cert=files/tls.crt", "--key=files/tls.key"],
    "secret-docker-registry": ["create", "secret", "docker-registry", "reg",
                               "--docker-server=registry.example.test", "--docker-username=u",
                               "--docker-password=p", "--docker-email=u@example.test"],
    "serviceaccount": ["create", "serviceaccount", "sa"],
    "deployment": ["create", "deployment", "web", "--image=nginx", "--replicas=0", "--port=80"],
    "deployment-multi": ["create", "deployment", "multi", "--image=nginx", "--image=busybox"],
    "job": ["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
    "cronjob": ["create", "cronjob", "c", "--image=busybox", "--schedule=*/1 * * * *"],
    "cronjob-command": ["create", "cronjob", "cc", "--image=busybox", "--schedule=0 3 * * *",
                        "--restart=Never", "--", "date"],
    "role": ["create", "role", "r", "--verb=get", "--resource=pods"],
    "role-names": ["create", "role", "rn", "--verb=get,list", "--resource=pods,deployments.apps",
                   "--resource-name=one", "--resource-name=two"],
    "rolebinding": ["create", "rolebinding", "rb", "--role=r", "--user=u"],
    "rolebinding-serviceaccount": ["create", "rolebinding", "rbsa", "--clusterrole=view",
                                   "--serviceaccount=ns1:sa1", "--group=g"],
    "clusterrole": ["create", "clusterrole", "cr", "--verb=get", "--resource=nodes"],
    "clusterrole-urls": ["create", "clusterrole", "cru", "--verb=get",
                         "--non-resource-url=/logs/*", "--non-resource-url=/healthz"],
    "clusterrole-aggregation": ["create", "clusterrole", "agg",
                                "--aggregation-rule=rbac.example.com/aggregate-to-monitoring=true"],
    "clusterrolebinding": ["create", "clusterrolebinding", "crb", "--clusterrole=cr", "--group=g"],
    "service-clusterip": ["create", "service", "clusterip", "s", "--tcp=80:8080"],
    "service-headless": ["create", "service", "clusterip", "h", "--clusterip=None", "--tcp=5432"],
    "service-nodeport": ["create", "service", "nodeport", "n", "--tcp=80:8080"],
    "service-nodeport-fixed": ["create", "service", "nodeport", "nf", "--tcp=443:8443",
                               "--node-port=30080"],
    "service-loadbalancer": ["create", "service", "loadbalancer", "lb", "--tcp=80:http"],
    "service-externalname": ["create", "service", "externalname", "ext",
                             "--external-name=db.example.test"],
    "quota": ["create", "quota", "q", "--hard=pods=2,cpu=1"],
    "quota-scopes": ["create", "quota", "qs", "--hard=pods=5,memory=1Gi,requests.cpu=500m",
                     "--scopes=BestEffort,NotTerminating"],
    "priorityclass": ["create", "priorityclass", "pc", "--value=1000"],
    "priorityclass-options": ["create", "priorityclass", "pco", "--value=-5", "--global-default",
                              "--description=low priority", "--preemption-policy=Never"],
    "poddisruptionbudget": ["create", "poddisruptionbudget", "pdb", "--selector=a=b",
                            "--min-available=1"],
    "poddisruptionbudget-percent": ["create", "poddisruptionbudget", "pdbp",
                                    "--selector=app=web,tier=api",
                                    "--max-unavailable=50%"],
    "ingress": ["create", "ingress", "i", "--rule=foo.com/bar=svc1:8080,tls=my-cert"],
    "ingress-options": ["create", "ingress", "io", "--class=nginx",
                        "--rule=foo.com/path*=svc:http", "--rule=/exact=svc2:80",
                        "--default-backend=defaultsvc:8080", "--annotation=a=b",
                        "--rule=bar.com/=svc3:443,tls"],
    # `autoscale` reads the Deployment first (answered with DEPLOYMENT below) and sends
    # autoscaling/v2.
    "hpa": ["autoscale", "deployment", "web", "--max=5"],
    "hpa-cpu": ["autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=70"],
}


# Just enough discovery for kubectl's REST mapper (`run`, `create role` resolve resources).
RESOURCES = {
    "v1": [("pods", "Pod", True), ("nodes", "Node", False), ("configmaps", "ConfigMap", True),
           ("secrets", "Secret", True), ("services", "Service", True),
           ("serviceaccounts", "ServiceAccount", True), ("namespaces", "Namespace", False),
           ("resourcequotas", "ResourceQuota", True)],
    "apps/v1": [("deployments", "Deployment", True), ("deployments/scale", "Scale", True)],
    "batch/v1": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    "rbac.authorization.k8s.io/v1": [("roles", "Role", True), ("clusterroles", "ClusterRole", False),
                                     ("rolebindings", "RoleBinding", True),
                                     ("clusterrolebindings", "ClusterRoleBinding", False)],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
}

# The Deployment `autoscale` reads.
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": "default", "uid": "u-1",
                           "resourceVersion": "1"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                       "template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}


def discovery(path):
    path = path.split("?")[0]
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = []
        for group_version in RESOURCES:
            if "/" in group_version:
                group, version = group_version.split("/")
                entry = {"groupVersion": group_version, "version": version}
                groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    group_version = path[len("/api/"):] if path.startswith("/api/") else path[len("/apis/"):]
    if group_version in RESOURCES:
        resources = [{"name": name, "singularName": kind.lower(), "namespaced": namespaced,
                      "kind": kind, "verbs": ["create", "get", "list"]}
                     for name, kind, namespaced in RESOURCES[group_version]]
        for resource in resources:
            if resource["name"].endswith("/scale"):
                resource.update(group="autoscaling", version="v1", singularName="")
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                "resources": resources}
    return None


class Recorder(http.server.BaseHTTPRequestHandler):
    bodies = []

    def _reply(self, code, document):
        data = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.split("?")[0] == "/apis/apps/v1/namespaces/default/deployments/web":
            self._reply(200, DEPLOYMENT)
            return
        document = discovery(self.path)
        if document is not None:
            self._reply(200, document)
            return
        self._reply(404, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Failure", "reason": "NotFound", "code": 404})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        Recorder.bodies.append((self.path, self.headers.get("Content-Type"), body))
        self._reply(201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                          "status": "Success", "code": 201})

    def log_message(self, *arguments):
        pass


def main():
    kubectl = sys.argv[1] if len(sys.argv) > 1 else "kubectl"
    chosen = sys.argv[2:]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    for case, arguments in CASES.items():
        if chosen and case not in chosen:
            continue
        Recorder.bodies = []
        run = subprocess.run([kubectl, "--server", url] + arguments,
                             capture_output=True, text=True)
        posts = [b for b in Recorder.bodies if b[1] == "application/vnd.kubernetes.protobuf"]
        if run.returncode != 0 or len(posts) != 1:
            print("%s: FAILED rc=%d posts=%d %s" % (case, run.returncode, len(posts), run.stderr))
            continue
        os.makedirs(case, exist_ok=True)
        with open(os.path.join(case, "request.bin"), "wb") as file:
            file.write(posts[0][2])
        # The dry-run flags go before `--`, after which everything is the container's command.
        split = arguments.index("--") if "--" in arguments else len(arguments)
        dry_arguments = arguments[:split] + ["-o", "json", "--dry-run=client"] + arguments[split:]
        dry = subprocess.run([kubectl, "--server", url] + dry_arguments,
                             capture_output=True, text=True)
        with open(os.path.join(case, "dry-run.json"), "w") as file:
            file.write(dry.stdout)
        with open(os.path.join(case, "expected.json"), "w") as file:
            json.dump(without_nulls(json.loads(dry.stdout)), file, indent=2)
            file.write("\n")
        print("%s: %s %d bytes" % (case, posts[0][0], len(posts[0][2])))
    server.shutdown()


if __name__ == "__main__":
    main()
