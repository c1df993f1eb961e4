"""Live agent processes and the sessions they write.

``snapshot_processes()`` reads processes with psutil into plain
``ProcessInfo`` records (or only the trees of given pids: tests see their own
processes, never the machine's agents); ``SessionProcessMatcher.match`` ties
each agent tree (root plus tool children) to one session with a stated
evidence and confidence; ``match_live`` does both plus the pid-file reads in
one call. The matcher and recogniser work on plain data; their modules never import psutil.
``control`` acts on what was found: signals an agent tree safely (re-checked
against pid reuse), lists its listening ports and classifies its state.
"""

from .control import (
    AgentState,
    GrowthTracker,
    PortScanner,
    SignalPlan,
    SignalReport,
    classify_state,
    plan_signal,
    signal_agent_tree,
)
from .evidence import ClaudePidFile, read_claude_pid_files, read_gemini_projects
from .info import ENV_KEYS, ProcessInfo, ProcessSnapshot
from .live import match_live
from .matcher import CONFIDENCE, Evidence, SessionMatch, SessionProcessMatcher, SessionProcessMatches
from .recognize import AgentTree, build_trees, label_process
from .snapshot import ProcessSnapshotter, snapshot_processes

__all__ = [
    "CONFIDENCE",
    "ENV_KEYS",
    "AgentState",
    "AgentTree",
    "ClaudePidFile",
    "Evidence",
    "GrowthTracker",
    "PortScanner",
    "ProcessInfo",
    "ProcessSnapshot",
    "ProcessSnapshotter",
    "SessionMatch",
    "SessionProcessMatcher",
    "SessionProcessMatches",
    "SignalPlan",
    "SignalReport",
    "build_trees",
    "classify_state",
    "label_process",
    "match_live",
    "plan_signal",
    "read_claude_pid_files",
    "read_gemini_projects",
    "signal_agent_tree",
    "snapshot_processes",
]
