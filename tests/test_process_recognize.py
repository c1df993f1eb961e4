"""Recognition, roots and trees on plain process records."""

from __future__ import annotations

import pytest

from agent_session.model import AgentType
from agent_session.process import ProcessInfo, build_trees, label_process
from agent_session.process.recognize import agent_args, codex_subcommand, path_components

CODEX_NATIVE = "/usr/lib/node_modules/@openai/codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"


@pytest.mark.parametrize(
    ("name", "exe", "cmdline", "expected"),
    [
        # Shapes seen with the real CLIs (npm global install, bin symlinks).
        ("node", "/usr/bin/node", ["node", "/usr/local/bin/codex"], AgentType.CODEX),
        ("codex", CODEX_NATIVE, [CODEX_NATIVE], AgentType.CODEX),
        ("node", "/usr/bin/node", ["node", "/usr/local/bin/gemini", "-p", "hi"], AgentType.GEMINI),
        (
            "node",
            "/usr/bin/node",
            ["/usr/bin/node", "--max-old-space-size=12052", "/usr/local/bin/gemini", "-p", "hi"],
            AgentType.GEMINI,
        ),
        (
            "claude",
            "/usr/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe",
            ["claude", "-p", "hi"],
            AgentType.CLAUDE,
        ),
        # Package paths in the program token.
        ("node", "/usr/bin/node", ["node", "/opt/node_modules/@openai/codex/bin/codex.js"], AgentType.CODEX),
        (
            "node",
            "/usr/bin/node",
            ["node", "/opt/node_modules/@google/gemini-cli/dist/index.js"],
            AgentType.GEMINI,
        ),
        (
            "node",
            "/usr/bin/node",
            ["node", "/opt/node_modules/@anthropic-ai/claude-code/cli.js"],
            AgentType.CLAUDE,
        ),
        (
            "python3.11",
            "/usr/bin/python3.11",
            ["python3", "/t/node_modules/@openai/codex/bin/codex.js"],
            AgentType.CODEX,
        ),
        ("node", "/usr/bin/node", ["node", "--require", "/x/hook.js", "/u/bin/claude"], AgentType.CLAUDE),
        (
            "bun",
            "/usr/bin/bun",
            ["bun", "run", "/u/node_modules/@google/gemini-cli/index.js"],
            AgentType.GEMINI,
        ),
        # Basename variants.
        ("claude.exe", None, [], AgentType.CLAUDE),
        ("claude-code", None, ["claude-code"], AgentType.CLAUDE),
        ("gemini-cli", None, ["/usr/bin/gemini-cli"], AgentType.GEMINI),
        ("codex-cli", None, ["codex-cli", "exec"], AgentType.CODEX),
        ("x", None, ["C:\\tools\\codex.exe"], AgentType.CODEX),
        # Not agents: loose words, other programs touching agent paths, wrappers.
        ("python3", "/usr/bin/python3.11", ["python", "run.py", "--model", "claude-x"], None),
        ("grep", "/usr/bin/grep", ["grep", "codex"], None),
        ("cat", "/usr/bin/cat", ["cat", "/usr/lib/node_modules/@openai/codex/package.json"], None),
        ("timeout", "/usr/bin/timeout", ["timeout", "25", "codex", "exec"], None),
        ("bash", "/usr/bin/bash", ["bash", "-c", "codex exec hi"], None),
        ("node", "/usr/bin/node", ["node", "-e", "require('/x/@openai/codex')"], None),
        ("npm exec", "/usr/bin/node", ["npm", "exec", "@openai/codex"], None),
        ("node", "/usr/bin/node", ["node", "/home/u/claude-helper/index.js"], None),
        ("vim", "/usr/bin/vim", ["vim", "gemini.md"], None),
        # Installing an agent is not running one: a command line written into argv[0]
        # (``exec -a``, a rewritten process title) is not a path, so nothing in it counts…
        ("sleep", "/usr/bin/sleep", ["npm install -g @anthropic-ai/claude-code@latest", "600"], None),
        ("node", "/usr/bin/node", ["/usr/bin/npm install -g @anthropic-ai/claude-code@latest"], None),
        ("sudo", "/usr/bin/sudo", ["/usr/bin/sudo /opt/bin/claude"], None),
        ("sh", "/bin/sh", ["sh -c codex exec hi"], None),
        # … and neither is npm with the package as separate arguments, in either form.
        ("npm", "/usr/bin/node", ["npm", "install", "-g", "@anthropic-ai/claude-code@latest"], None),
        (
            "npm install -g @",
            "/usr/bin/node",
            ["node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "install", "-g", "@openai/codex"],
            None,
        ),
        # A package marker counts as whole directories with the program file inside.
        ("node", "/usr/bin/node", ["node", "/x/node_modules/@anthropic-ai/claude-code-helper/cli.js"], None),
        ("node", "/usr/bin/node", ["node", "/x/node_modules/@openai/codex@1.0/bin/run.js"], None),
        # Paths with spaces in a directory are still paths.
        (
            "node",
            "/usr/bin/node",
            ["node", "/Users/Jo Doe/.npm/lib/node_modules/@anthropic-ai/claude-code/cli.js"],
            AgentType.CLAUDE,
        ),
        ("x", None, ["C:\\Program Files\\Gemini CLI\\gemini.exe"], AgentType.GEMINI),
        # What `exec -a claude sleep 600` looks like: argv[0] names the program, as the real CLI's does.
        ("sleep", "/usr/bin/sleep", ["claude", "600"], AgentType.CLAUDE),
    ],
)
def test_label_process(name: str, exe: str | None, cmdline: list[str], expected: AgentType | None) -> None:
    assert label_process(name, exe, cmdline) == expected


def test_agent_args_and_codex_subcommand() -> None:
    assert agent_args(["node", "--inspect", "/u/bin/codex", "exec", "hi"]) == ("exec", "hi")
    assert agent_args([CODEX_NATIVE, "resume", "abc"]) == ("resume", "abc")
    assert agent_args(["python", "-c", "x"]) == ()
    assert codex_subcommand(["node", "/u/bin/codex", "-m", "gpt-5", "-c", "k=v", "exec", "hi"]) == "exec"
    assert codex_subcommand([CODEX_NATIVE, "app-server", "--listen", "unix://"]) == "app-server"
    assert codex_subcommand(["node", "/u/bin/codex"]) is None


def P(pid: int, ppid: int, *cmd: str, name: str | None = None, ct: float = 100.0) -> ProcessInfo:
    return ProcessInfo(
        pid=pid, ppid=ppid, create_time=ct, name=name or cmd[0].rsplit("/", 1)[-1], cmdline=cmd
    )


def _trees(procs: list[ProcessInfo]) -> dict[int, tuple[AgentType, tuple[int, ...], tuple[int, ...]]]:
    return {t.root_pid: (t.agent_type, t.pids, tuple(p.pid for p in t.labelled)) for t in build_trees(procs)}


def test_codex_node_and_native_child_are_one_tree() -> None:
    procs = [
        P(1, 0, "/sbin/init"),
        P(10, 1, "bash"),
        P(20, 10, "node", "/usr/local/bin/codex"),
        P(21, 20, CODEX_NATIVE),
        P(30, 21, "/bin/bash", "-lc", "pytest"),
        P(31, 30, "python", "-m", "pytest"),
    ]
    assert _trees(procs) == {20: (AgentType.CODEX, (20, 21, 30, 31), (20, 21))}


def test_gemini_relaunch_is_one_tree() -> None:
    procs = [
        P(20, 1, "node", "/usr/local/bin/gemini"),
        P(21, 20, "/usr/bin/node", "--max-old-space-size=12052", "/usr/local/bin/gemini"),
        P(22, 21, "bash", "-c", "ls"),
    ]
    assert _trees(procs) == {20: (AgentType.GEMINI, (20, 21, 22), (20, 21))}


def test_agent_started_from_a_tool_shell_is_its_own_root() -> None:
    # claude → bash → claude -p: the inner one writes its own session.
    procs = [
        P(20, 1, "claude"),
        P(30, 20, "bash", "-c", "claude -p hi"),
        P(40, 30, "claude", "-p", "hi"),
        P(41, 40, "bash", "-c", "ls"),
        P(50, 30, "node", "/usr/local/bin/codex", "exec", "x"),
        P(51, 50, CODEX_NATIVE, "exec", "x"),
    ]
    assert _trees(procs) == {
        20: (AgentType.CLAUDE, (20, 30), (20,)),
        40: (AgentType.CLAUDE, (40, 41), (40,)),
        50: (AgentType.CODEX, (50, 51), (50, 51)),
    }


def test_codex_exec_under_app_server_is_its_own_root() -> None:
    host = "/home/u/.codex/packages/app-server-daemon/releases/0.169.0/bin/codex"
    procs = [
        P(20, 1, host, "app-server", "--listen", "unix://"),
        P(30, 20, CODEX_NATIVE, "exec", "--json", "task"),
        P(31, 30, "bash", "-lc", "make"),
        P(40, 20, "bash", "-lc", "ls"),
    ]
    trees = build_trees(procs)
    assert [(t.root_pid, t.pids, t.host) for t in trees] == [(20, (20, 40), True), (30, (30, 31), False)]


def test_codex_exec_under_plain_codex_stays_in_tree() -> None:
    procs = [P(20, 1, "node", "/u/bin/codex", "exec", "x"), P(21, 20, CODEX_NATIVE, "exec", "x")]
    assert _trees(procs) == {20: (AgentType.CODEX, (20, 21), (20, 21))}


def test_trees_survive_odd_parent_links() -> None:
    procs = [
        P(0, 0, "swapper"),
        P(1, 0, "/sbin/init"),
        P(5, 5, "codex"),  # its own parent
        P(7, 999, "gemini"),  # parent unknown (vanished mid-snapshot)
        P(8, 7, "sh"),
    ]
    assert _trees(procs) == {5: (AgentType.CODEX, (5,), (5,)), 7: (AgentType.GEMINI, (7, 8), (7,))}


def test_trees_sorted_by_start() -> None:
    procs = [P(9, 1, "claude", ct=300.0), P(3, 1, "codex", ct=100.0), P(5, 1, "gemini", ct=200.0)]
    assert [t.root_pid for t in build_trees(procs)] == [3, 5, 9]


def test_path_components() -> None:
    assert path_components("/usr/lib/node_modules/@openai/codex/bin/codex.js") == [
        "",
        "usr",
        "lib",
        "node_modules",
        "@openai",
        "codex",
        "bin",
        "codex.js",
    ]
    assert path_components("/Users/Jo Doe/bin/claude") == ["", "Users", "Jo Doe", "bin", "claude"]
    assert path_components("~/my tools/gemini") == ["~", "my tools", "gemini"]
    assert path_components("npm install -g @anthropic-ai/claude-code@latest") is None
    assert path_components("/usr/bin/sudo /opt/bin/claude") is None  # "sudo " is no directory name
    assert path_components("C:\\Program Files\\x") == ["C:", "Program Files", "x"]


def test_a_very_deep_tree_is_gathered_whole() -> None:
    """Membership is collected without recursion or a depth cap: every process of a 5,000-deep chain."""
    procs = [P(100, 1, "claude")]
    procs += [P(101 + i, 100 + i, "sh", ct=101.0 + i) for i in range(5000)]
    (tree,) = build_trees(procs)
    assert tree.root_pid == 100
    assert tree.pids == tuple(range(100, 5101))
