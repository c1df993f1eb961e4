"""The one directory walk every source uses to find its session files.

Each source declares where its sessions live (a *session tree* under the
agent home, e.g. ``projects`` for Claude) and, per folder depth, which names
are session files and which folders to enter (:class:`TreeRules`). The walk
itself is shared, so the rules about what it never does are in one place:

* **It never follows a symlink below a session tree**, file or folder.
  A link named like a session file could point anywhere (run as root over
  another user's home, ``~/.claude/projects/x/s.jsonl -> /etc/shadow`` would
  be read and its first line shown as a prompt), and folder links can loop.
  A link whose target is outside the tree is reported in the skipped list as
  ``symlink outside the session tree``; one whose target is inside is
  reported as ``symlink inside the session tree``, and its target is read
  under its own path anyway (when it is a session file), so skipping it
  loses nothing and never counts a session twice. A link that loops or
  cannot be resolved is reported as a walk error. The tree itself, and the
  agent home above it, may be symlinks: they are where the user (or
  ``CLAUDE_CONFIG_DIR``…) says the data is.
* It never descends below a declared depth, never enters anything but a
  folder, and reports (never opens) FIFOs and folders that carry a session
  file's name.
* It never raises: a folder that cannot be listed is reported and skipped.

What the walk could not use goes to the collectors of :func:`collect_walk`
(``errors``: could not be listed or resolved; ``skipped``: deliberately not
taken), so discovery can hand both to the store.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

__all__ = [
    "SKIP_SYMLINK_INSIDE",
    "SKIP_SYMLINK_OUTSIDE",
    "TreeRules",
    "WalkReport",
    "collect_walk",
    "collect_walk_errors",
    "is_session_file",
    "note_walk_error",
    "note_walk_skip",
    "read_small_file",
    "walk_tree",
]

SKIP_SYMLINK_OUTSIDE = "symlink outside the session tree"
SKIP_SYMLINK_INSIDE = "symlink inside the session tree (its target is read under its own path)"


@dataclass
class WalkReport:
    """What a walk could not list (``errors``) and what it chose not to take (``skipped``), by path."""

    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


_report: ContextVar[WalkReport | None] = ContextVar("agent_session_walk_report", default=None)


@contextmanager
def collect_walk() -> Iterator[WalkReport]:
    """Collect what the walkers could not list or would not take during the block."""
    report = WalkReport()
    token = _report.set(report)
    try:
        yield report
    finally:
        _report.reset(token)


@contextmanager
def collect_walk_errors() -> Iterator[dict[str, str]]:
    """Collect, by path, what the source walkers could not list or read during the block.

    A folder that cannot be listed hides every session inside it, so it must
    be reported somewhere; a missing one is not a problem (no such agent, or
    it vanished mid-walk).
    """
    with collect_walk() as report:
        yield report.errors


def note_walk_error(path: str | os.PathLike[str], error: OSError | str) -> None:
    """Report a directory or file the walk could not use (ignored when nobody collects)."""
    report = _report.get()
    if report is None or isinstance(error, FileNotFoundError):
        return
    report.errors[os.fspath(path)] = (
        error if isinstance(error, str) else f"{type(error).__name__}: {error.strerror or error}"
    )


def note_walk_skip(path: str | os.PathLike[str], reason: str) -> None:
    """Report a file or folder the walk deliberately did not take (ignored when nobody collects)."""
    report = _report.get()
    if report is not None:
        report.skipped[os.fspath(path)] = reason


def is_session_file(entry: os.DirEntry[str]) -> bool:
    """True for a regular file that is not a symlink; anything else carrying a session
    file's name (a folder, a FIFO, a symlink) is reported and skipped.

    FIFOs and devices are never opened: a read would block or never end.
    Symlinks are judged by :func:`walk_tree` (it knows the tree); here, with
    no tree to compare against, every link counts as leaving it.
    """
    try:
        if entry.is_file(follow_symlinks=False):
            return True
        if entry.is_symlink():
            os.stat(entry.path)  # a loop or an unreadable target is an error, not a skip
            note_walk_skip(entry.path, SKIP_SYMLINK_OUTSIDE)
            return False
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError as exc:
        note_walk_error(entry.path, exc)
        return False
    note_walk_error(entry.path, f"{_kind(mode)}, not a session file")
    return False


def _kind(mode: int) -> str:
    return "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "not a regular file"


#: ``(name, folders from the tree root to the entry) -> bool``.
NameRule = Callable[[str, tuple[str, ...]], bool]


@dataclass(frozen=True)
class TreeRules:
    """Where one session tree keeps its files.

    ``take(name, rel)``: ``name`` in the folder ``rel`` (folder names from the
    tree root; ``()`` is the root) is a session file. ``enter(name, rel)``:
    the folder ``name`` in ``rel`` may hold session files. ``depth``: how many
    folders deep the walk may go below the root.
    """

    take: NameRule
    enter: NameRule
    depth: int


def walk_tree(tree: Path, rules: TreeRules) -> list[tuple[Path, tuple[str, ...]]]:
    """Session files under ``tree`` with the folders leading to them, sorted by path.

    A missing tree is simply empty. See the module docstring for what is never followed.
    """
    out: list[tuple[Path, tuple[str, ...]]] = []
    try:
        real = os.path.realpath(tree)
    except OSError as exc:  # pragma: no cover - realpath only fails on odd platforms
        note_walk_error(tree, exc)
        return out
    # Already in path order: each folder is listed in name order and entered where its
    # name falls, which is how paths compare (component by component). Sorting 50,000
    # paths again cost a Python-level comparison each.
    _walk(os.fspath(tree), Path(tree), (), rules, real, out)
    return out


def _child(parent: Path, name: str, parent_str: str | None = None) -> Path:
    """``parent / name`` without parsing the whole path again.

    Why: ``Path(entry.path)`` re-splits every component, a fifth of a warm
    start's walk at 50,000 files. A name from ``scandir`` is one component,
    so CPython's private constructor for a child is exact; elsewhere the
    public operator is used. ``parent_str``: ``str(parent)``, when the caller
    knows it; the child's string is then that plus the name (formatting it
    from its parts on first use was another tenth of a warm start).
    """
    make = getattr(parent, "_make_child_relpath", None)
    if make is None:
        return parent / name
    child: Path = make(name)
    if parent_str is not None and _STR_SLOT:
        child._str = (parent_str if parent_str.endswith(os.sep) else parent_str + os.sep) + name  # type: ignore[attr-defined]
    return child


#: CPython's pathlib caches a path's string in ``_str`` (3.11); elsewhere it is left alone.
_STR_SLOT = "_str" in getattr(Path, "__slots__", ()) or any(
    "_str" in getattr(k, "__slots__", ()) for k in Path.__mro__
)


_NAME = attrgetter("name")


def _walk(
    folder: str,
    folder_path: Path,
    rel: tuple[str, ...],
    rules: TreeRules,
    real_root: str,
    out: list[tuple[Path, tuple[str, ...]]],
) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=_NAME)
    except OSError as exc:
        note_walk_error(folder, exc)
        return
    # ``str(folder_path)`` is ``folder`` unless the tree was given in a form pathlib
    # normalizes (a trailing or doubled separator): the children's strings are built
    # from it only when the two agree.
    folder_str = folder if str(folder_path) == folder else None
    for entry in entries:
        name = entry.name
        take = rules.take(name, rel)
        enter = not take and len(rel) < rules.depth and rules.enter(name, rel)
        if not (take or enter):
            continue
        try:
            if entry.is_symlink():
                _judge_link(entry, real_root, folder_only=not take)
            elif take:
                if entry.is_file(follow_symlinks=False):
                    out.append((_child(folder_path, name, folder_str), rel))
                else:
                    note_walk_error(
                        entry.path, f"{_kind(entry.stat(follow_symlinks=False).st_mode)}, not a session file"
                    )
            elif entry.is_dir(follow_symlinks=False):
                _walk(entry.path, _child(folder_path, name, folder_str), (*rel, name), rules, real_root, out)
        except OSError as exc:
            note_walk_error(entry.path, exc)


def _judge_link(entry: os.DirEntry[str], real_root: str, *, folder_only: bool) -> None:
    """Report a symlink the walk met where it would take a file or enter a folder; never follow it.

    ``folder_only``: the name is not a session file's, so only a link to a
    folder (one the walk would have entered) is worth reporting.
    """
    try:
        st = os.stat(entry.path)  # raises for a loop or an unreachable target
    except FileNotFoundError:
        if not folder_only:
            note_walk_skip(entry.path, "symlink to nothing")
        return
    if folder_only and not stat.S_ISDIR(st.st_mode):
        return
    target = os.path.realpath(entry.path)
    inside = target == real_root or target.startswith(real_root.rstrip(os.sep) + os.sep)
    note_walk_skip(entry.path, SKIP_SYMLINK_INSIDE if inside else SKIP_SYMLINK_OUTSIDE)


def read_small_file(path: str | os.PathLike[str], limit: int) -> bytes | None:
    """The bytes of a small file beside the sessions (a mapping), or None.

    Never through a symlink (``O_NOFOLLOW``: the same reason as for session
    files), never a FIFO (``O_NONBLOCK``), never more than ``limit`` bytes.
    A missing file is None without a report; anything else is reported.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        note_walk_error(path, "a symlink, not followed" if os.path.islink(path) else exc)
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                note_walk_error(path, "not a regular file")
                return None
            data = fh.read(limit + 1)
    except OSError as exc:
        note_walk_error(path, exc)
        return None
    if len(data) > limit:
        note_walk_error(path, f"larger than {limit} bytes, ignored")
        return None
    return data
