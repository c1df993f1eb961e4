"""Tool classification and file paths, shared by every agent format.

Agents name the same kind of tool differently (``Bash``, ``exec_command``,
``run_shell_command``); one table maps them to a category so the monitor can
colour and filter calls the same way for all three.
"""

from __future__ import annotations

from .model import ToolCategory
from .shell import resolve_path, shell_paths, shell_script

#: ``resolve_path``, ``shell_paths`` and ``shell_script`` live in :mod:`agent_session.shell`
#: and are re-exported here, where every source module already looks for them.
__all__ = ["classify_tool", "resolve_path", "shell_paths", "shell_script"]

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
    (
        "task agent spawn_agent send_input wait_agent close_agent resume_agent delegate_to_agent sendmessage",
        ToolCategory.SUBAGENT,
    ),
):
    for _n in _names.split():
        _CATEGORY_BY_NAME[_n] = _cat


def classify_tool(tool_name: str) -> ToolCategory:
    """Category of a tool by name, for any agent; MCP tools by their prefix."""
    low = tool_name.lower()
    if low.startswith(("mcp__", "mcp_")) or ("/" in low and low.startswith("mcp")):
        return ToolCategory.MCP
    return _CATEGORY_BY_NAME.get(low, ToolCategory.TOOL)
