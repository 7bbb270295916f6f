"""Checks that ogrom's deployment files agree with each other and with the code: what a
schema validator cannot see. Run by scripts/validate-deploy; needs PyYAML.

    python3 consistency.py ROOT RENDERED.yaml [MORE.yaml ...]

ROOT is the repository (for src/config.rs, Dockerfile, docker-compose.yml and
deploy/kubernetes/); the YAML files are the Kubernetes objects to check together (the
rendered kustomization, the Secret, the Jobs). Prints one line per failed check and exits 1
if any failed.
"""

import glob
import os
import re
import sys
from urllib.parse import urlsplit

import yaml


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice (plain YAML keeps the last
    one silently: a second `resources:` would quietly replace the first)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=UniqueKeyLoader) if d is not None]


failures = []
checks = 0


def check(ok, message):
    global checks
    checks += 1
    if not ok:
        failures.append(message)
    return ok


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def millis_to_s(value, default_ms):
    try:
        return int(value) / 1000
    except (TypeError, ValueError):
        return default_ms / 1000


def main():
    root = sys.argv[1]
    paths = sys.argv[2:]

    # Every YAML file we own parses, with no duplicate keys.
    yaml_files = sorted(
        set(glob.glob(os.path.join(root, "deploy", "**", "*.yaml"), recursive=True))
        | set(glob.glob(os.path.join(root, "deploy", "**", "*.yml"), recursive=True))
        | {os.path.join(root, "docker-compose.yml")}
    )
    for path in yaml_files:
        try:
            load_all(path)
            check(True, "")
        except (yaml.YAMLError, OSError) as e:
            check(False, f"{os.path.relpath(path, root)}: {e}")

    docs = []
    for path in paths:
        try:
            docs += load_all(path)
        except yaml.YAMLError as e:
            check(False, f"{path}: {e}")
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)

    # The settings the binary knows: every `env = "OGROM_..."` in src/config.rs.
    config_rs = os.path.join(root, "src", "config.rs")
    known = set()
    if os.path.exists(config_rs):
        with open(config_rs, encoding="utf-8") as f:
            known = set(re.findall(r'env\s*=\s*"(OGROM_[A-Z0-9_]+)"', f.read()))
    check(known, "src/config.rs names no OGROM_* variable: cannot check setting names")

    def check_setting(name, where):
        if known:
            check(
                name in known,
                f"{where}: {name} is not a setting of ogrom (src/config.rs); a misspelt "
                "variable is silently ignored",
            )

    configmaps = {d["metadata"]["name"]: d for d in by_kind.get("ConfigMap", [])}
    secrets = {d["metadata"]["name"]: d for d in by_kind.get("Secret", [])}
    settings = {}
    for kind, objs in (("ConfigMap", configmaps), ("Secret", secrets)):
        for name, obj in objs.items():
            for key in {**(obj.get("data") or {}), **(obj.get("stringData") or {})}:
                check_setting(key, f"{kind} {name}")
            settings.update(obj.get("data") or {})
            settings.update(obj.get("stringData") or {})
    for name, obj in secrets.items():
        for key in ("OGROM_DATABASE_URL", "OGROM_PARTNER_API_KEY"):
            check(key in (obj.get("stringData") or {}) or key in (obj.get("data") or {}),
                  f"Secret {name}: no {key}")
    for name, obj in configmaps.items():
        for secret_key in ("OGROM_DATABASE_URL", "OGROM_PARTNER_API_KEY", "OGROM_JWT_HS256_SECRET",
                           "OGROM_DEBUG_SECRET"):
            check(secret_key not in (obj.get("data") or {}),
                  f"ConfigMap {name}: {secret_key} is a secret; it belongs in the Secret")

    def pod_checks(owner, pod_spec):
        for c in pod_spec.get("containers", []):
            where = f"{owner} container {c.get('name')}"
            for e in c.get("env", []) or []:
                if e.get("name", "").startswith("OGROM_"):
                    check_setting(e["name"], where)
            for ref in c.get("envFrom", []) or []:
                if "configMapRef" in ref:
                    check(ref["configMapRef"]["name"] in configmaps,
                          f"{where}: envFrom ConfigMap {ref['configMapRef']['name']} is not defined")
                if "secretRef" in ref:
                    check(ref["secretRef"]["name"] in secrets,
                          f"{where}: envFrom Secret {ref['secretRef']['name']} is not defined")
            sc = c.get("securityContext") or {}
            check(sc.get("readOnlyRootFilesystem") is True, f"{where}: root filesystem not read-only")
            check(sc.get("allowPrivilegeEscalation") is False, f"{where}: privilege escalation allowed")
            check("ALL" in ((sc.get("capabilities") or {}).get("drop") or []),
                  f"{where}: capabilities not dropped")
            res = c.get("resources") or {}
            check(res.get("requests") and res.get("limits"), f"{where}: no resource requests/limits")
        psc = pod_spec.get("securityContext") or {}
        check(psc.get("runAsNonRoot") is True, f"{owner}: runAsNonRoot not set")
        if dockerfile_uid is not None:
            check(psc.get("runAsUser") == dockerfile_uid,
                  f"{owner}: runAsUser {psc.get('runAsUser')} is not the image's user {dockerfile_uid}")

    # The image's numeric user (Dockerfile: USER uid[:gid]).
    dockerfile_uid = None
    dockerfile = os.path.join(root, "Dockerfile")
    if os.path.exists(dockerfile):
        with open(dockerfile, encoding="utf-8") as f:
            users = re.findall(r"^USER\s+(\d+)", f.read(), re.M)
        if check(users, "Dockerfile: no numeric USER (runAsNonRoot needs one)"):
            dockerfile_uid = int(users[-1])

    deployments = by_kind.get("Deployment", [])
    check(len(deployments) == 1, f"expected one Deployment, found {len(deployments)}")
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    image_repos = set()
    for dep in deployments:
        name = dep["metadata"]["name"]
        owner = f"Deployment {name}"
        spec = dep["spec"]
        pod = spec["template"]["spec"]
        pod_labels = spec["template"]["metadata"].get("labels", {})
        check(labels_match(spec["selector"].get("matchLabels"), pod_labels),
              f"{owner}: selector does not match its pod labels")
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        check(spec.get("strategy", {}).get("type", "RollingUpdate") == "RollingUpdate"
              and ru.get("maxUnavailable") in (0, "0", "0%"),
              f"{owner}: rolling update must have maxUnavailable 0")
        check(ru.get("maxSurge") not in (None, 0, "0", "0%"), f"{owner}: maxSurge must be at least 1")
        if any(h["spec"]["scaleTargetRef"]["name"] == name for h in hpas):
            check("replicas" not in spec,
                  f"{owner}: has `replicas` although an HPA scales it (every apply would reset it)")
        pod_checks(owner, pod)
        listen = settings.get("OGROM_LISTEN", "127.0.0.1:8080")
        listen_port = int(listen.rsplit(":", 1)[1])
        prefix = settings.get("OGROM_PATH_PREFIX", "")
        check(not listen.startswith("127."), f"ConfigMap: OGROM_LISTEN {listen} is loopback only")
        for c in pod["containers"]:
            where = f"{owner} container {c['name']}"
            image_repos.add(c["image"].rsplit(":", 1)[0])
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            check(listen_port in ports.values(),
                  f"{where}: no containerPort {listen_port} (OGROM_LISTEN {listen})")
            probes = {k: c.get(k) for k in ("startupProbe", "readinessProbe", "livenessProbe")}
            for kind, want in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live"),
                               ("startupProbe", "/health/live")):
                probe = probes[kind]
                if not check(probe and "httpGet" in probe, f"{where}: no HTTP {kind}"):
                    continue
                get = probe["httpGet"]
                check(get.get("path") == prefix + want,
                      f"{where}: {kind} path {get.get('path')} is not {prefix + want}")
                port = get.get("port")
                check(ports.get(port) == listen_port or port == listen_port,
                      f"{where}: {kind} port {port} is not the listening port {listen_port}")
            # The drain: a preStop sleep, as an exec `sleep N` or the native sleep action.
            pre = ((c.get("lifecycle") or {}).get("preStop")) or {}
            drain = None
            if "sleep" in pre:
                drain = int(pre["sleep"]["seconds"])
            elif "exec" in pre:
                cmd = pre["exec"].get("command") or []
                if len(cmd) == 2 and cmd[0] == "sleep":
                    drain = int(cmd[1])
            if check(drain, f"{where}: no preStop sleep (the drain)"):
                grace = pod.get("terminationGracePeriodSeconds", 30)
                request = millis_to_s(settings.get("OGROM_REQUEST_TIMEOUT_MS"), 10_000)
                # After SIGTERM the gateway drains on its own, then waits for requests in
                # flight up to its shutdown timeout (defaults as in src/config.rs).
                own_drain = millis_to_s(settings.get("OGROM_SHUTDOWN_DRAIN_MS"), 5_000)
                in_flight = millis_to_s(settings.get("OGROM_SHUTDOWN_TIMEOUT_MS"), 10_000)
                check(in_flight >= request,
                      f"{owner}: OGROM_SHUTDOWN_TIMEOUT_MS ({in_flight:g} s) is below "
                      f"OGROM_REQUEST_TIMEOUT_MS ({request:g} s): a shutdown would cut requests")
                need = drain + own_drain + in_flight + 5
                check(grace >= need,
                      f"{owner}: terminationGracePeriodSeconds {grace} < preStop {drain} + "
                      f"gateway drain {own_drain:g} + in-flight bound {in_flight:g} + 5 s margin "
                      f"= {need:g}")
        # Services, the PDB and the HPA point at these pods.
        for svc in by_kind.get("Service", []):
            sel = svc["spec"].get("selector") or {}
            if labels_match(sel, pod_labels):
                for p in svc["spec"]["ports"]:
                    tp = p.get("targetPort", p["port"])
                    names = {pp.get("name") for c in pod["containers"] for pp in c.get("ports", [])}
                    nums = {pp["containerPort"] for c in pod["containers"] for pp in c.get("ports", [])}
                    check(tp in names or tp in nums,
                          f"Service {svc['metadata']['name']}: targetPort {tp} is no container port")
        check(any(labels_match(s["spec"].get("selector"), pod_labels) for s in by_kind.get("Service", [])),
              f"{owner}: no Service selects its pods")
        pdbs = [p for p in by_kind.get("PodDisruptionBudget", [])
                if labels_match(p["spec"]["selector"].get("matchLabels"), pod_labels)]
        check(pdbs, f"{owner}: no PodDisruptionBudget selects its pods")
        targeting = [h for h in hpas if h["spec"]["scaleTargetRef"]["name"] == name
                     and h["spec"]["scaleTargetRef"]["kind"] == "Deployment"]
        if check(targeting, f"{owner}: no HorizontalPodAutoscaler scales it"):
            check(targeting[0]["spec"].get("minReplicas", 1) >= 2,
                  f"HPA {targeting[0]['metadata']['name']}: minReplicas below 2 leaves no replica during a drain")
        for job in by_kind.get("Job", []):
            jlabels = job["spec"]["template"]["metadata"].get("labels", {})
            check(not labels_match(spec["selector"].get("matchLabels"), jlabels),
                  f"Job {job['metadata']['name']}: its pods carry the gateway's labels "
                  "(the Service would send traffic to them)")

    for job in by_kind.get("Job", []):
        owner = f"Job {job['metadata']['name']}"
        pod = job["spec"]["template"]["spec"]
        pod_checks(owner, pod)
        for c in pod["containers"]:
            check(c["image"].rsplit(":", 1)[0] in image_repos,
                  f"{owner}: image {c['image']} is not the gateway's image")

    # The kustomization lists every manifest beside it, except those applied on purpose by
    # hand (the Secret's placeholders, the Jobs).
    kdir = os.path.join(root, "deploy", "kubernetes")
    kfile = os.path.join(kdir, "kustomization.yaml")
    if os.path.exists(kfile):
        listed = set(load_all(kfile)[0].get("resources", []))
        for path in glob.glob(os.path.join(kdir, "*.yaml")):
            base = os.path.basename(path)
            if base in ("kustomization.yaml", "secret.yaml"):
                continue
            check(base in listed, f"deploy/kubernetes/{base} is not in kustomization.yaml")

    # docker-compose.yml: setting names are real, and the URLs name services of the file.
    compose_path = os.path.join(root, "docker-compose.yml")
    if os.path.exists(compose_path):
        compose = load_all(compose_path)[0]
        services = compose.get("services", {})
        for sname, svc in services.items():
            env = svc.get("environment") or {}
            if isinstance(env, list):
                env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
            for key, value in env.items():
                if key.startswith("OGROM_"):
                    check_setting(key, f"docker-compose.yml service {sname}")
                if key in ("OGROM_DATABASE_URL", "OGROM_ELASTICSEARCH_URL", "OGROM_PARTNER_URL") and value:
                    host = urlsplit(value).hostname
                    check(host in services,
                          f"docker-compose.yml service {sname}: {key} points at {host}, no service of that name")

    for f in failures:
        print(f"FAIL {f}")
    if failures:
        print(f"consistency: {len(failures)} of {checks} checks failed")
        return 1
    print(f"ok   consistency: {checks} checks (setting names against src/config.rs, drain and "
          "grace period, probes, ports, selectors, users, kustomization, compose URLs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
