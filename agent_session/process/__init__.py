"""Live agent processes and the sessions they write.

``snapshot_processes()`` reads processes with psutil into plain
``ProcessInfo`` records; ``SessionProcessMatcher.match`` ties each agent tree
(root plus tool children) to one session with a stated evidence and
confidence; ``match_live`` does both plus the pid-file reads in one call.
"""

from .commands import match_command, match_live
from .evidence import ClaudePidFile, read_claude_pid_files, read_gemini_projects
from .matcher import CONFIDENCE, Evidence, SessionMatch, SessionProcessMatcher, SessionProcessMatches
from .recognize import AgentTree, build_trees, label_process
from .snapshot import ENV_KEYS, ProcessInfo, ProcessSnapshot, ProcessSnapshotter, snapshot_processes

__all__ = [
    "CONFIDENCE",
    "ENV_KEYS",
    "AgentTree",
    "ClaudePidFile",
    "Evidence",
    "ProcessInfo",
    "ProcessSnapshot",
    "ProcessSnapshotter",
    "SessionMatch",
    "SessionProcessMatcher",
    "SessionProcessMatches",
    "build_trees",
    "label_process",
    "match_command",
    "match_live",
    "read_claude_pid_files",
    "read_gemini_projects",
    "snapshot_processes",
]
