"""Watching a run from the inside: every write, every file-system change, every socket.

An audit hook (``sys.addaudithook``; it cannot be removed, so it is installed
once and armed only inside :func:`watching`) records each ``open`` for writing
and each mutating ``os`` call with its path, and refuses network sockets,
connections and name look-ups outright. ``socket.socket`` and
``socket.create_connection`` are also replaced for the duration, so even code
that catches the refusal is caught. Only AF_UNIX socket pairs may be allowed
(``unix_pairs=True``): asyncio, under the Textual monitor, wakes its loop
through one; it never leaves the process.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_MUTATING = frozenset(
    {
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.utime",
        "os.truncate",
        "os.symlink",
        "os.link",
        "os.chflags",
        "os.setxattr",
        "os.removexattr",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
    }
)
_NETWORK = frozenset(
    {
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.gethostbyname_ex",
        "socket.gethostbyaddr",
        "socket.getnameinfo",
        "http.client.connect",
        "http.client.send",
        "urllib.Request",
        "ftplib.connect",
        "smtplib.connect",
        "webbrowser.open",
    }
)


def writing(mode: Any, flags: Any) -> bool:
    return bool(
        (isinstance(mode, str) and any(c in mode for c in "wax+"))
        or (isinstance(flags, int) and flags & _WRITE_FLAGS)
    )


@dataclass
class Record:
    writes: list[tuple[str, str]] = field(default_factory=list)
    relative_writes: list[str] = field(default_factory=list)
    network: list[tuple[str, str]] = field(default_factory=list)
    unix_pairs: int = 0

    def writes_under(self, root: str | os.PathLike[str]) -> list[tuple[str, str]]:
        base = os.path.realpath(root)
        out = []
        for event, path in self.writes:
            real = os.path.realpath(path) if path else ""
            if real == base or real.startswith(base.rstrip("/") + "/"):
                out.append((event, path))
        return out


@dataclass
class _State:
    armed: bool = False
    unix_pairs: bool = False
    record: Record = field(default_factory=Record)


_STATE = _State()
_INSTALLED = False


# Where each mutating call keeps its ``dir_fd`` in the audit arguments: a
# path relative to a directory descriptor (the cache writes that way, so a
# planted link cannot redirect it) is resolved against that directory, not
# against the working directory.
_DIR_FD_ARG = {
    "os.remove": 1,
    "os.rmdir": 1,
    "os.mkdir": 2,
    "os.chmod": 2,
    "os.chown": 3,
    "os.utime": 3,
    "os.symlink": 2,
    "os.rename": 2,
    "os.link": 2,
}


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return f"<fd {fd}>"


def _path(value: Any, dir_fd: Any = None) -> str:
    if isinstance(value, int):
        return _fd_path(value)
    try:
        path = os.fsdecode(os.fspath(value))
    except TypeError:
        return repr(value)
    if isinstance(dir_fd, int) and not os.path.isabs(path):
        return os.path.join(_fd_path(dir_fd), path)
    return path


def _hook(event: str, args: tuple[Any, ...]) -> None:
    state = _STATE
    if not state.armed:
        return
    if event == "open":
        path, mode, flags = (*args, None, None, None)[:3]
        if isinstance(path, int):
            return  # fdopen of a descriptor whose own open (with its path) was audited already
        if not os.path.isabs(_path(path)):
            # ``os.open(name, dir_fd=...)`` does not pass its descriptor to the
            # audit hook, so a relative open cannot be placed: it is kept apart
            # (callers check the names, and the working directory's own
            # before/after listing catches anything that did land there).
            if writing(mode, flags):
                state.record.relative_writes.append(_path(path))
            return
        if writing(mode, flags):
            state.record.writes.append((event, _path(path)))
    elif event in _MUTATING:
        at = _DIR_FD_ARG.get(event)
        dir_fd = args[at] if at is not None and len(args) > at else None
        state.record.writes.append((event, _path(args[0], dir_fd) if args else ""))
    elif event == "socket.__new__":
        family = args[1] if len(args) > 1 else None
        if state.unix_pairs and family == socket.AF_UNIX:
            state.record.unix_pairs += 1
            return
        state.record.network.append((event, repr(args[1:])))
        raise PermissionError(f"no sockets here: {event}{args[1:]!r}")
    elif event in _NETWORK:
        state.record.network.append((event, repr(args[1:] if event.startswith("socket.") else args)))
        raise PermissionError(f"no network here: {event}")


class _NoSocket(socket.socket):
    def __init__(self, family: Any = -1, *a: Any, **k: Any) -> None:
        if not (_STATE.unix_pairs and family == socket.AF_UNIX):
            _STATE.record.network.append(("socket.socket", repr(family)))
            raise PermissionError("no sockets here: socket.socket")
        super().__init__(family, *a, **k)


def _no_connection(*a: Any, **k: Any) -> Any:
    _STATE.record.network.append(("socket.create_connection", repr(a)))
    raise PermissionError("no network here: socket.create_connection")


@contextmanager
def watching(*, unix_pairs: bool = False) -> Iterator[Record]:
    """Record writes and refuse the network inside the block."""
    global _INSTALLED
    if not _INSTALLED:
        sys.addaudithook(_hook)
        _INSTALLED = True
    record = Record()
    saved = (socket.socket, socket.create_connection)
    _STATE.record, _STATE.unix_pairs = record, unix_pairs
    socket.socket = _NoSocket  # type: ignore[misc]
    socket.create_connection = _no_connection
    _STATE.armed = True
    try:
        yield record
    finally:
        _STATE.armed = False
        socket.socket, socket.create_connection = saved  # type: ignore[misc]
