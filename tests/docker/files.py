"""Readers for the deployment files under docker/: Dockerfile instructions, .dockerignore rules, Compose
variable interpolation and the rag-harden command lines they contain. Just enough of each format for the
checks in test_docker_files.py; what these readers do not understand fails loudly, never silently."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for ins in self.all("ENV"):
            for token in shlex.split(ins.args):
                name, sep, value = token.partition("=")
                assert sep, f"line {ins.line}: ENV in the legacy `ENV NAME value` form: {ins.args!r}"
                values[name] = value
        return values

    def args(self) -> dict[str, str]:
        values = {}
        for ins in self.all("ARG"):
            name, _, value = ins.args.partition("=")
            values[name] = value
        return values

    def workdir(self) -> str:
        last = self.last("WORKDIR")
        assert last is not None, "the stage sets no WORKDIR"
        return last.args

    def copies(self) -> list[tuple[list[str], str, dict[str, str]]]:
        """(sources, destination, flags) of each COPY."""
        out = []
        for ins in self.all("COPY"):
            tokens = shlex.split(ins.args)
            flags = dict(t[2:].partition("=")[::2] for t in tokens if t.startswith("--"))
            paths = [t for t in tokens if not t.startswith("--")]
            out.append((paths[:-1], paths[-1], flags))
        return out


def parse_dockerfile(path: Path) -> list[Stage]:
    """Instructions grouped by stage; line continuations joined, comments and parser directives dropped."""
    stages: list[Stage] = []
    pending: list[str] = []
    start = 0
    header: list[Instruction] = []  # ARGs before the first FROM
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        text = raw.strip()
        if text.startswith("#") or (not pending and not text):
            continue
        if not pending:
            start = number
        if text.endswith("\\"):
            pending.append(text[:-1].strip())
            continue
        pending.append(text)
        keyword, _, rest = " ".join(p for p in pending if p).partition(" ")
        pending = []
        ins = Instruction(keyword.upper(), rest.strip(), start)
        if ins.keyword == "FROM":
            stages.append(Stage(base=ins.args))
        elif stages:
            stages[-1].instructions.append(ins)
        else:
            assert ins.keyword == "ARG", f"{path}:{start}: {ins.keyword} before the first FROM"
            header.append(ins)
    assert not pending, f"{path}: ends inside a line continuation"
    return stages


def exec_form(ins: Instruction) -> list[str]:
    """The JSON argv of an exec-form CMD or HEALTHCHECK ... CMD; shell form is refused."""
    args = ins.args
    if ins.keyword == "HEALTHCHECK":
        args = args[args.index(" CMD ") + 5 :].strip()
    assert args.startswith("["), f"line {ins.line}: {ins.keyword} must use the exec form (a JSON array)"
    argv = json.loads(args)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    return argv


def shell_commands(ins: Instruction) -> list[list[str]]:
    """The simple commands of a shell-form RUN (split on && and ;), each as an argv."""
    return [shlex.split(part) for part in re.split(r"&&|;", ins.args) if part.strip()]


# --- .dockerignore ------------------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def ignored(rules: list[str], rel_path: str) -> bool:
    """Docker's rule: the last matching pattern wins, `!` re-includes, and a pattern that matches a folder
    matches everything below it."""
    parts = rel_path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for rule in rules:
        negate = rule.startswith("!")
        regex = _pattern_regex(rule.lstrip("!").strip("/"))
        if any(regex.fullmatch(c) for c in candidates):
            result = not negate
    return result


def dockerignore_rules(path: Path) -> list[str]:
    return [
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]


# --- Compose interpolation ----------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def variables(text: str) -> set[str]:
    return {m.group("name") for m in _VARIABLE.finditer(text)}


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        value = env.get(name)
        empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op is not None and op.endswith("?") and empty:
            raise KeyError(f"{name}: {arg}")
        if op is not None and op.endswith("-") and empty:
            return arg
        return value or ""

    assert "$$" not in value, "escaped dollars are not handled here"
    return _VARIABLE.sub(one, value)


def interpolate_tree(node: object, env: Mapping[str, str]) -> object:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    return node


def dotenv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path}: not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values
