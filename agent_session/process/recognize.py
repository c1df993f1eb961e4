"""Which processes are coding agents, which of them are roots, and their trees.

Recognition looks only at what names the program being run: the process name
(comm), the executable's basename, ``argv[0]`` and, when an interpreter runs a
script (``node …/bin/codex``), the script path. Loose words elsewhere in argv
never count, so ``python run.py --model claude-x``, ``grep codex`` or
``cat …/@openai/codex/package.json`` are not agents. Those tokens are read as
paths, component by component: a package marker counts only as whole
directories with the program file inside them, and an ``argv[0]`` holding a
whole command line (``npm install -g @anthropic-ai/claude-code@latest``, as
``exec -a`` or a process rewriting its title leaves it) is not a path at all.

A labelled process is a root unless its *parent* carries the same label: that
keeps ``node codex.js`` → native ``codex`` and Gemini's node relaunch in one
tree, while an agent started from another agent's tool shell (the shell sits
between them) is its own root with its own session. A ``codex exec`` run
directly by a long-lived ``codex app-server`` is its own root too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..model import AgentType
from .info import ProcessInfo

__all__ = [
    "AgentTree",
    "agent_args",
    "build_trees",
    "codex_positionals",
    "codex_subcommand",
    "is_codex_host",
    "label_process",
    "path_components",
    "program_tokens",
]

_BASE_NAMES = {"claude": AgentType.CLAUDE, "codex": AgentType.CODEX, "gemini": AgentType.GEMINI}
#: Basenames (lower case, ``.exe`` and script suffixes stripped) that name an agent.
AGENT_BASENAMES: dict[str, AgentType] = {
    f"{base}{suffix}": agent for base, agent in _BASE_NAMES.items() for suffix in ("", "-cli", "-code")
}
#: npm package directories (path components) an agent's program file sits inside.
PACKAGE_DIRS: tuple[tuple[tuple[str, ...], AgentType], ...] = (
    (("@anthropic-ai", "claude-code"), AgentType.CLAUDE),
    (("@openai", "codex"), AgentType.CODEX),
    (("@google", "gemini-cli"), AgentType.GEMINI),
)
#: Prefixes of Codex's per-platform package directories (``@openai/codex-linux-x64``).
PLATFORM_DIR_PREFIXES: tuple[tuple[str, AgentType], ...] = (
    ("codex-linux-", AgentType.CODEX),
    ("codex-darwin-", AgentType.CODEX),
    ("codex-win32-", AgentType.CODEX),
)
_INTERPRETERS = ("node", "nodejs", "bun", "deno", "python", "pypy", "tsx", "ts-node")
#: Interpreter options that take the next token as their value.
_VALUE_OPTIONS = frozenset(
    {"-r", "--require", "--import", "--loader", "--experimental-loader", "-X", "-W", "--conditions", "-C"}
)
_SCRIPT_SUFFIXES = (".exe", ".js", ".mjs", ".cjs", ".ts", ".py")
#: Codex global options that consume the next token (so it is not the subcommand).
_CODEX_VALUE_OPTIONS = frozenset(
    {
        "-c",
        "--config",
        "-m",
        "--model",
        "-p",
        "--profile",
        "-s",
        "--sandbox",
        "-a",
        "--ask-for-approval",
        "-C",
        "--cd",
        "-i",
        "--image",
        "--add-dir",
        "--enable",
        "--disable",
        "--local-provider",
        "--oss-provider",
        "--listen",
    }
)


def _basename(path: str) -> str:
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix in _SCRIPT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_interpreter(token: str) -> bool:
    base = _basename(token)
    for name in _INTERPRETERS:
        if base == name or (base.startswith(name) and all(c in "0123456789." for c in base[len(name) :])):
            return True
    return False


def _script_index(cmdline: Sequence[str]) -> int | None:
    """Index of the script an interpreter runs, or None (``-c``/``-m``/``-e``/REPL)."""
    i = 1
    while i < len(cmdline):
        tok = cmdline[i]
        if tok in ("-c", "-m", "-e", "--eval", "-p", "--print"):
            return None
        if tok in ("run", "exec") and i == 1 and _basename(cmdline[0]) in ("bun", "deno"):
            i += 1
            continue
        if tok in _VALUE_OPTIONS:
            i += 2
            continue
        if tok.startswith("-"):
            i += 1
            continue
        return i
    return None


def program_tokens(cmdline: Sequence[str]) -> tuple[str, ...]:
    """The argv tokens that name the program: ``argv[0]`` and an interpreter's script."""
    if not cmdline:
        return ()
    if _is_interpreter(cmdline[0]):
        idx = _script_index(cmdline)
        if idx is not None:
            return (cmdline[0], cmdline[idx])
    return (cmdline[0],)


def agent_args(cmdline: Sequence[str]) -> tuple[str, ...]:
    """The arguments given to the program itself (after the script for interpreters)."""
    if not cmdline:
        return ()
    if _is_interpreter(cmdline[0]):
        idx = _script_index(cmdline)
        return tuple(cmdline[idx + 1 :]) if idx is not None else ()
    return tuple(cmdline[1:])


_DRIVE = re.compile(r"^[A-Za-z]:/")


def path_components(token: str) -> list[str] | None:
    """``token`` split into path components, or None when it cannot be a path.

    A token with whitespace is a path only when it is anchored (``/``, ``~/``,
    ``./``, ``../`` or a drive) and no component starts or ends with a space:
    ``/Users/Jo Doe/bin/claude`` is a path, while a command line that was
    written into ``argv[0]`` — ``npm install -g @anthropic-ai/claude-code@latest``
    or ``/usr/bin/sudo /opt/bin/claude`` — is not, and so names no program.
    """
    norm = token.replace("\\", "/")
    parts = norm.rstrip("/").split("/")
    if any(c.isspace() for c in norm):
        anchored = norm.startswith(("/", "~/", "./", "../")) or _DRIVE.match(norm) is not None
        if not anchored or any(part != part.strip() for part in parts):
            return None
    return parts


def _in_package(parts: Sequence[str]) -> AgentType | None:
    """The agent whose npm package directory holds this path (the file is inside it)."""
    lowered = [part.lower() for part in parts]
    # The last component is the file itself: a directory must come before it.
    for i in range(len(lowered) - 1):
        for prefix, agent in PLATFORM_DIR_PREFIXES:
            if lowered[i].startswith(prefix):
                return agent
        for dirs, agent in PACKAGE_DIRS:
            end = i + len(dirs)
            if end < len(lowered) and tuple(lowered[i:end]) == dirs:
                return agent
    return None


def _label_token(token: str) -> AgentType | None:
    parts = path_components(token)
    if not parts or not parts[-1]:
        return None
    agent = AGENT_BASENAMES.get(_basename(parts[-1]))
    if agent is not None:
        return agent
    return _in_package(parts) if len(parts) > 1 else None


def label_process(name: str | None, exe: str | None, cmdline: Sequence[str]) -> AgentType | None:
    """The agent this process runs, from its name, executable or program path only."""
    for token in program_tokens(cmdline):
        agent = _label_token(token)
        if agent is not None:
            return agent
    if exe:
        agent = _label_token(exe)
        if agent is not None:
            return agent
    if name and not any(c.isspace() or c in "/\\" for c in name):
        return AGENT_BASENAMES.get(_basename(name))
    return None


def codex_positionals(cmdline: Sequence[str]) -> list[str]:
    """Positional arguments of a codex command line, skipping global option values."""
    args = agent_args(cmdline)
    out: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        if tok in _CODEX_VALUE_OPTIONS:
            i += 2
            continue
        if not tok.startswith("-"):
            out.append(tok)
        i += 1
    return out


def codex_subcommand(cmdline: Sequence[str]) -> str | None:
    """First positional argument of a codex command line (``exec``, ``resume``, ``app-server``…)."""
    positionals = codex_positionals(cmdline)
    return positionals[0] if positionals else None


def is_codex_host(cmdline: Sequence[str]) -> bool:
    """A ``codex app-server``: long-lived, may host several threads at once."""
    return codex_subcommand(cmdline) == "app-server"


@dataclass(frozen=True)
class AgentTree:
    """One agent root and the processes it owns (root first, then descendants by pid).

    ``members`` excludes the subtrees of other agent roots nested below.
    """

    agent_type: AgentType
    root: ProcessInfo
    members: tuple[ProcessInfo, ...]
    #: Members that carry the root's label (the root, a native child, a relaunch).
    labelled: tuple[ProcessInfo, ...]
    #: True for a ``codex app-server``, which may serve several sessions.
    host: bool = False

    @property
    def root_pid(self) -> int:
        return self.root.pid

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(p.pid for p in self.members)


def _is_own_root(
    proc: ProcessInfo, agent: AgentType, parent: ProcessInfo | None, parent_label: AgentType | None
) -> bool:
    if parent is None or parent_label != agent or parent.pid == proc.pid:
        return True
    # A `codex exec` spawned by a long-lived app-server runs its own thread.
    return (
        agent is AgentType.CODEX
        and codex_subcommand(proc.cmdline) == "exec"
        and is_codex_host(parent.cmdline)
    )


def build_trees(processes: Iterable[ProcessInfo]) -> list[AgentTree]:
    """Agent roots with their trees, oldest root first."""
    by_pid: dict[int, ProcessInfo] = {}
    children: dict[int, list[int]] = {}
    labels: dict[int, AgentType] = {}
    for proc in processes:
        by_pid[proc.pid] = proc
        agent = label_process(proc.name, proc.exe, proc.cmdline)
        if agent is not None:
            labels[proc.pid] = agent
    # A parent is never younger than its child: such a "parent" holds a reused pid (the
    # snapshot raced a death and a fork), so the link is dropped. This also breaks
    # the ppid cycles such a race can produce, where no process would be a root.
    parent_of: dict[int, ProcessInfo] = {}
    for proc in by_pid.values():
        parent = by_pid.get(proc.ppid)
        if proc.ppid != proc.pid and parent is not None and parent.create_time <= proc.create_time:
            parent_of[proc.pid] = parent
            children.setdefault(proc.ppid, []).append(proc.pid)

    roots: dict[int, AgentType] = {}
    for pid, agent in labels.items():
        proc = by_pid[pid]
        parent = parent_of.get(pid)
        if _is_own_root(proc, agent, parent, labels.get(parent.pid) if parent is not None else None):
            roots[pid] = agent

    trees: list[AgentTree] = []
    for pid, agent in roots.items():
        root = by_pid[pid]
        members = [root]
        seen = {pid}
        stack = list(children.get(pid, ()))
        while stack:
            child = stack.pop()
            if child in seen or child in roots:
                continue
            seen.add(child)
            members.append(by_pid[child])
            stack.extend(children.get(child, ()))
        members[1:] = sorted(members[1:], key=lambda p: p.pid)
        labelled = tuple(m for m in members if labels.get(m.pid) == agent)
        host = agent is AgentType.CODEX and is_codex_host(root.cmdline)
        trees.append(AgentTree(agent, root, tuple(members), labelled, host))
    trees.sort(key=lambda t: (t.root.create_time, t.root.pid))
    return trees
