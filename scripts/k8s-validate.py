"""Strict offline validation of rendered Kubernetes manifests (run by scripts/k8s-tools.mjs's venv).

Reads a multi-document YAML stream (`kustomize build` output) on stdin and validates every object
against the bundled Kubernetes JSON schemas of each version given with --versions, in strict mode:
an unknown field is an error, and so is an apiVersion/kind that has no schema in that version
(a removed API). Prints one JSON document on stdout:

  {"objects": [...], "problems": ["<kind>/<name> (<version>): <message>", ...],
   "embedded": {"ConfigMap/<name>/<key>": <parsed YAML>, ...}}

`embedded` holds the parsed value of every ConfigMap key ending in .yaml or .yml, so the caller
can inspect configuration files (Prometheus, prometheus-adapter, Grafana) without a YAML parser.
Exits 0 when it could read the input, whatever it found; the caller asserts on `problems`.
"""

import argparse
import functools
import json
import sys

import yaml
from kubernetes_validate import utils


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", required=True, help="comma-separated Kubernetes versions, e.g. 1.30.0,1.37.0")
    args = parser.parse_args()
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]

    # Every object of a version shares one definitions file: read each schema file once.
    utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)

    objects = [doc for doc in yaml.safe_load_all(sys.stdin) if doc is not None]
    problems = []
    embedded = {}
    for obj in objects:
        kind = obj.get("kind", "?")
        name = (obj.get("metadata") or {}).get("name", "?")
        for version in versions:
            try:
                utils.validate(obj, version, strict=True)
            except utils.ValidationError as error:
                path = ".".join(str(part) for part in error.path)
                problems.append(f"{kind}/{name} ({version}): {path}: {error.message}")
            except utils.SchemaNotFoundError as error:
                problems.append(f"{kind}/{name} ({version}): {error.message}")
        if kind == "ConfigMap":
            for key, value in (obj.get("data") or {}).items():
                if key.endswith((".yaml", ".yml")):
                    try:
                        embedded[f"ConfigMap/{name}/{key}"] = yaml.safe_load(value)
                    except yaml.YAMLError as error:
                        problems.append(f"ConfigMap/{name}: {key} is not valid YAML: {error}")

    json.dump({"objects": objects, "problems": problems, "embedded": embedded}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
