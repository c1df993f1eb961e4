"""Tool classification and the files shell commands touch (agent_session.tools)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_session.model import FileAccess, ToolCategory
from agent_session.shell import resolve_path, shell_paths, shell_script
from agent_session.tools import classify_tool

R, W, C, D, MV = FileAccess.READ, FileAccess.WRITE, FileAccess.CREATE, FileAccess.DELETE, FileAccess.RENAME


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("exec_command", ToolCategory.SHELL),
        ("shell", ToolCategory.SHELL),
        ("shell_command", ToolCategory.SHELL),
        ("local_shell", ToolCategory.SHELL),
        ("Bash", ToolCategory.SHELL),
        ("run_shell_command", ToolCategory.SHELL),
        ("apply_patch", ToolCategory.EDIT),
        ("Edit", ToolCategory.EDIT),
        ("write_file", ToolCategory.EDIT),
        ("Read", ToolCategory.READ),
        ("view_image", ToolCategory.READ),
        ("Grep", ToolCategory.SEARCH),
        ("tool_search", ToolCategory.SEARCH),
        ("web_search", ToolCategory.NETWORK),
        ("WebFetch", ToolCategory.NETWORK),
        ("update_plan", ToolCategory.PLAN),
        ("TodoWrite", ToolCategory.PLAN),
        ("spawn_agent", ToolCategory.SUBAGENT),
        ("close_agent", ToolCategory.SUBAGENT),
        ("Task", ToolCategory.SUBAGENT),
        ("mcp__github__create_issue", ToolCategory.MCP),
        ("mcp_server_tool", ToolCategory.MCP),
        ("mcp/server/tool", ToolCategory.MCP),
        ("something_new", ToolCategory.TOOL),
    ],
)
def test_classify_tool(name: str, category: ToolCategory) -> None:
    assert classify_tool(name) is category


@pytest.mark.parametrize(
    ("path", "base", "want"),
    [
        ("src/a.py", "/w", "/w/src/a.py"),
        ("/etc/hosts", "/w", "/etc/hosts"),
        ("../x/./y.txt", "/w/sub", "/w/x/y.txt"),
        ("file:///w/z.md", None, "/w/z.md"),
        ("~/notes.md", "/w", "~/notes.md"),
        ("rel.txt", None, "rel.txt"),
        (" spaced.txt ", "/w", "/w/spaced.txt"),
    ],
)
def test_resolve_path(path: str, base: str | None, want: str) -> None:
    assert resolve_path(path, base) == want


def paths(command: str | list[str], cwd: str | None = "/w") -> list[tuple[str, str, str | None]]:
    return [(p.path, p.access.value, p.previous_path) for p in shell_paths(command, cwd)]


@pytest.mark.parametrize(
    ("command", "want"),
    [
        # reads
        ("cat README.md", [("/w/README.md", "read", None)]),
        ("ls -la", []),
        ("cat -n a.py b.py", [("/w/a.py", "read", None), ("/w/b.py", "read", None)]),
        ("head -n 20 src/app.py", [("/w/src/app.py", "read", None)]),
        ("head -20 f.c", [("/w/f.c", "read", None)]),
        ("tail -f -n +5 log.txt", [("/w/log.txt", "read", None)]),
        ("nl -ba file.py", [("/w/file.py", "read", None)]),
        ("wc -l x.txt y.txt", [("/w/x.txt", "read", None), ("/w/y.txt", "read", None)]),
        ("less +G big.log", [("/w/big.log", "read", None)]),
        ("sed -n '1,200p' src/app.py", [("/w/src/app.py", "read", None)]),
        ("sed -n -e 10p -e 20p a.txt", [("/w/a.txt", "read", None)]),
        ("sed 's/a/b/' in.txt", [("/w/in.txt", "read", None)]),
        ("awk -F, '{print $1}' data.csv", [("/w/data.csv", "read", None)]),
        ("awk -v n=1 'NR==n' a.log", [("/w/a.log", "read", None)]),
        ("wc < input.txt", [("/w/input.txt", "read", None)]),
        # grep / rg: the pattern and directories are not files
        ("rg -n TODO src/app.py", [("/w/src/app.py", "read", None)]),
        ("rg -n foo src README.md 2>/dev/null", [("/w/README.md", "read", None)]),
        ("rg --files src", []),
        (
            "rg -g '*.py' -e needle lib/x.py Makefile",
            [("/w/lib/x.py", "read", None), ("/w/Makefile", "read", None)],
        ),
        ("grep -rn TODO . --include=*.py", []),
        ("grep -A 3 def .env", [("/w/.env", "read", None)]),
        ("grep -e x .git", []),
        ("grep pattern", []),
        # writes
        ("echo hi > out.txt", [("/w/out.txt", "write", None)]),
        ("echo hi >> log/app.log", [("/w/log/app.log", "write", None)]),
        ("make &> build.log", [("/w/build.log", "write", None)]),
        ("python x.py 2> err.txt", [("/w/err.txt", "write", None)]),
        ("cmd >| forced.txt", [("/w/forced.txt", "write", None)]),
        ("echo x > /dev/null 2>&1", []),
        ("cat x 2>&1 | tee out.log", [("/w/x", "read", None), ("/w/out.log", "write", None)]),
        ("tee -a a.txt b.txt < /dev/stdin", [("/w/a.txt", "write", None), ("/w/b.txt", "write", None)]),
        ("sed -i 's/a/b/' f1 f2", [("/w/f1", "write", None), ("/w/f2", "write", None)]),
        ("sed -i.bak -e s/a/b/ f1", [("/w/f1", "write", None)]),
        ("touch new.txt", [("/w/new.txt", "create", None)]),
        ("touch -d yesterday t.txt", [("/w/t.txt", "create", None)]),
        ("rm -rf build/ old.txt", [("/w/old.txt", "delete", None)]),
        ("mv a.txt b.txt", [("/w/b.txt", "rename", "/w/a.txt")]),
        ("mv -f a b dir/", [("/w/dir/a", "rename", "/w/a"), ("/w/dir/b", "rename", "/w/b")]),
        ("mv -t dest x.py", [("/w/dest/x.py", "rename", "/w/x.py")]),
        ("mv ../up.txt .", [("/w/up.txt", "rename", "/up.txt")]),
        ("cat < . ./ src/..", []),
        ("cp src.txt dst.txt", [("/w/src.txt", "read", None), ("/w/dst.txt", "write", None)]),
        ("cp -r srcdir dstdir", []),
        ("git -C sub mv x.py y.py", [("/w/sub/y.py", "rename", "/w/sub/x.py")]),
        ("git rm --cached gone.txt", [("/w/gone.txt", "delete", None)]),
        ("git status", []),
        # lists, pipes, wrappers, cwd
        (
            "cd src && cat a.py | head -n 5 > ../out.txt",
            [("/w/src/a.py", "read", None), ("/w/out.txt", "write", None)],
        ),
        ("cat a; cat b || cat c", [("/w/a", "read", None), ("/w/b", "read", None), ("/w/c", "read", None)]),
        ("(cd /tmp && cat a) && cat b", [("/tmp/a", "read", None), ("/w/b", "read", None)]),
        ("cd $X && cat rel && cat /abs", [("/abs", "read", None)]),
        ("cd - && cat rel", []),
        ("cd ~/p && cat a ~/b", [("~/b", "read", None)]),
        (
            "FOO=1 sudo -u root tee -a /etc/hosts < in.txt",
            [("/w/in.txt", "read", None), ("/etc/hosts", "write", None)],
        ),
        ("env -i A=1 cat x", [("/w/x", "read", None)]),
        ("timeout -s KILL 5 head y", [("/w/y", "read", None)]),
        ("if true; then cat z; fi", [("/w/z", "read", None)]),
        (
            'bash -lc "cat x.txt && echo hi >> log.txt"',
            [("/w/x.txt", "read", None), ("/w/log.txt", "write", None)],
        ),
        ("sh -ec 'cat \"a b.txt\"'", [("/w/a b.txt", "read", None)]),
        ("bash -lc 'bash -c \"cat deep.txt\"'", [("/w/deep.txt", "read", None)]),
        ("bash run.sh", []),
        ("cat a \\\n  b", [("/w/a", "read", None), ("/w/b", "read", None)]),
        ("cat a # cat b", [("/w/a", "read", None)]),
        ("cat a\ncat b", [("/w/a", "read", None), ("/w/b", "read", None)]),
        ("cat a a", [("/w/a", "read", None)]),
        # heredocs: the body is data, not commands
        (
            "cat <<'EOF' > new.txt\nhello\ncat secret\nEOF\nwc -l new.txt",
            [("/w/new.txt", "write", None), ("/w/new.txt", "read", None)],
        ),
        ("cat <<-EOT >> x.md\n\tcat nope\n\tEOT\n", [("/w/x.md", "write", None)]),
        ("apply_patch <<'PATCH'\n*** Begin Patch\n*** Add File: a.py\n+x\n*** End Patch\nPATCH", []),
        ("grep x <<< 'cat no'", []),
        # not literal: globs, variables, substitutions; unbalanced quotes never raise
        ("cat *.py", []),
        ("cat src/[ab].py", []),
        ("cat file.{js,ts}", []),
        ('cat $HOME/x "$Y" `pwd`/z $(pwd)/q', []),
        ("cat '*.py'", [("/w/*.py", "read", None)]),
        ('echo "unbalanced > x', []),
        ("cat 'unbalanced", [("/w/unbalanced", "read", None)]),
        ("cat -", []),
        ("cat \\  < \\ ", []),  # escaped blanks are no file names
        ("", []),
    ],
)
def test_shell_paths(command: str, want: list[tuple[str, str, str | None]]) -> None:
    assert paths(command) == want


def test_shell_paths_takes_argv_lists_as_given() -> None:
    # Codex ``shell`` / ``local_shell_call`` pass argv lists: no word splitting, no globbing.
    assert paths(["bash", "-lc", "cat a.md && rm b.md"]) == [
        ("/w/a.md", "read", None),
        ("/w/b.md", "delete", None),
    ]
    assert paths(["cat", "a b.md"]) == [("/w/a b.md", "read", None)]
    assert paths(["/bin/cat", "x"]) == [("/w/x", "read", None)]
    assert paths(["ls", "-la"]) == []
    assert paths([]) == []


def test_shell_paths_without_cwd_keeps_relative_paths_normalized() -> None:
    assert paths("cat ./a/../b.txt /abs/c", None) == [("b.txt", "read", None), ("/abs/c", "read", None)]


def test_shell_paths_returns_toolpath_values() -> None:
    (p,) = shell_paths("mv old.py new.py", "/repo")
    assert p.access is FileAccess.RENAME
    assert (p.path, p.previous_path) == ("/repo/new.py", "/repo/old.py")


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab./ \t\n'\"\\$`|&;()<>*{}#-=~0123456789catsedrgmv")), max_size=60)
)
def test_shell_paths_never_raises_and_paths_are_absolute(command: str) -> None:
    for p in shell_paths(command, "/w"):
        assert p.path.startswith(("/", "~")), (command, p)
        assert p.access in (R, W, C, D, MV)


@pytest.mark.parametrize(
    ("argv", "script"),
    [
        (["bash", "-lc", "ls"], "ls"),
        (["/bin/sh", "-c", "cat a", "arg0"], "cat a"),
        (["zsh", "-o", "pipefail", "-ic", "x"], "x"),
        (["bash", "script.sh"], None),
        (["python", "-c", "print()"], None),
        (["bash", "-lc"], None),
        ([], None),
    ],
)
def test_shell_script(argv: list[str], script: str | None) -> None:
    assert shell_script(argv) == script
