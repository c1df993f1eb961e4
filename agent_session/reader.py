"""Incremental reading of one session file: new bytes only, torn lines held back.

The per-file cursor ``(dev, inode, size, mtime, offset)`` decides what a refresh
must do without reading anything: nothing when the stat is unchanged; only the
appended bytes when the file grew; a full re-parse when it shrank, was
replaced (new inode) or is a rewritten-whole format. A refresh therefore costs
in proportion to the bytes appended, not to the size of the history.

A tracked file can also hold only a *summary* without a live parser: one
parsed by a worker process (which hands back the parser pickled, see
:meth:`TrackedFile.export_state`) or one loaded from the persistent cache
(no parser state at all). It answers ``snapshot()`` from that summary while
the file is unchanged; the first change revives the pickled parser and reads
only the appended bytes, or, with no state to revive, re-parses from zero.
Either way the result is exactly what a fresh parse would give.
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass, field

import orjson

from .model import AgentSession
from .sources.base import SessionFile, SessionParser

__all__ = ["READ_CHUNK", "FileCursor", "TrackedFile"]

#: Appended bytes are read in chunks of this size, so one huge append never
#: needs a buffer the size of the file.
READ_CHUNK = 8 * 1024 * 1024


@dataclass
class FileCursor:
    dev: int = -1
    ino: int = -1
    size: int = -1
    mtime_ns: int = -1
    offset: int = 0

    def same_stat(self, st: os.stat_result) -> bool:
        return (
            st.st_ino == self.ino
            and st.st_dev == self.dev
            and st.st_size == self.size
            and st.st_mtime_ns == self.mtime_ns
        )


@dataclass
class TrackedFile:
    """One session file, its parser and where we stopped reading."""

    file: SessionFile
    detail: bool = False
    cursor: FileCursor = field(default_factory=FileCursor)
    parser: SessionParser | None = None
    #: Bytes after the last newline: a line still being written.
    tail: bytes = b""
    #: The tail was fed already because it parsed as a complete JSON object.
    tail_fed: bool = False
    error: str | None = None
    _snapshot: AgentSession | None = None
    _mtime_ms: int | None = None
    #: Pickled ``(parser, tail, tail_fed)`` of a summary-only file, revived on its first change.
    _state: bytes | None = None
    #: Wall time (ns) of the stat the current state was read after: an mtime this close
    #: to it may not change on a further write (coarse timestamps), see :meth:`settled`.
    stat_ns: int = 0

    @property
    def path(self) -> str:
        return str(self.file.path)

    @property
    def ready(self) -> bool:
        """True once the file has a session to show (parsed here, by a worker, or from the cache)."""
        return self.parser is not None or self._snapshot is not None

    @property
    def size(self) -> int:
        return self.cursor.size

    def settled(self, margin_ns: int = 2_000_000_000) -> bool:
        """True when the summary can be trusted to describe the file for as long as its stat holds.

        Everything was read (no torn or unread bytes) and the mtime was older than
        the stat by ``margin_ns``, so a later write cannot have left the same
        mtime behind (the classic racy-timestamp problem of coarse file systems).
        """
        c = self.cursor
        return (
            self.ready
            and self.error is None
            and c.offset == c.size
            and c.mtime_ns >= 0
            and self.stat_ns - c.mtime_ns > margin_ns
        )

    def adopt(
        self,
        cursor: FileCursor,
        snapshot: AgentSession,
        *,
        state: bytes | None = None,
        tail_fed: bool = False,
        stat_ns: int = 0,
    ) -> None:
        """Take a summary computed elsewhere for the file as ``cursor`` describes it.

        ``state`` (from :meth:`export_state`) lets the next change resume from
        the cursor; without it the next change re-parses the file from zero.
        """
        self.parser = None
        self.cursor = cursor
        self.tail = b""
        self.tail_fed = tail_fed
        self._state = state
        self._snapshot = snapshot
        self._mtime_ms = cursor.mtime_ns // 1_000_000
        self.stat_ns = stat_ns
        self.error = None

    def export_state(self) -> bytes | None:
        """The parser and torn tail, pickled, so another process can resume this file."""
        if self.parser is None:
            return self._state
        return pickle.dumps((self.parser, self.tail, self.tail_fed), protocol=pickle.HIGHEST_PROTOCOL)

    def _revive(self) -> None:
        """Unpickle the parser of a summary-only file; drop the summary when there is none."""
        state, self._state = self._state, None
        if state is not None:
            try:
                self.parser, self.tail, self.tail_fed = pickle.loads(state)
                return
            except Exception:
                self.parser = None
        # No parser to continue: start from zero (the summary stays until the re-parse succeeds).
        self.cursor = FileCursor()
        self.tail = b""
        self.tail_fed = False

    def update(self) -> int:
        """Bring the parser up to date with the file. Returns bytes read.

        Raises ``OSError`` when the file cannot be stat'ed or read; the caller
        keeps the last good state and reports the error.
        """
        stat_ns = time.time_ns()
        st = os.stat(self.file.path)
        if self.ready and self.cursor.same_stat(st):
            return 0
        if self.parser is None and self._snapshot is not None:
            self._revive()
        self.stat_ns = stat_ns
        self._mtime_ms = st.st_mtime_ns // 1_000_000
        replaced = self.parser is not None and (st.st_ino != self.cursor.ino or st.st_dev != self.cursor.dev)
        shrunk = self.parser is not None and st.st_size < self.cursor.offset
        if self.parser is None or replaced or shrunk or not self.file.append_only:
            reparses = self.parser.diag.reparses + 1 if self.parser is not None else 0
            self.parser = self.file.new_parser(detail=self.detail)
            self.parser.diag.reparses = reparses
            self.cursor = FileCursor()
            self.tail = b""
            self.tail_fed = False
        if self.file.append_only:
            read = self._read_appended(st)
        else:
            read = self._read_whole(st)
        self.cursor.dev, self.cursor.ino = st.st_dev, st.st_ino
        self.cursor.size, self.cursor.mtime_ns = st.st_size, st.st_mtime_ns
        self._snapshot = None
        self.error = None
        return read

    def _read_appended(self, st: os.stat_result) -> int:
        assert self.parser is not None
        total = 0
        with open(self.file.path, "rb") as fh:
            fh.seek(self.cursor.offset)
            while True:
                chunk = fh.read(READ_CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                self.cursor.offset += len(chunk)
                self._consume(chunk)
        self._settle_tail()
        return total

    def _consume(self, chunk: bytes) -> None:
        assert self.parser is not None
        if self.tail_fed:
            # The previous tail was a complete object without its newline; the
            # newline (or a new line) follows now. Anything else glued to it is junk.
            self.tail_fed = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
                self.parser.diag.bytes_consumed += 1
            else:
                self.tail = b""
        data = self.tail + chunk if self.tail else chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self.tail = data
            return
        self.tail = data[cut + 1 :]
        self.parser.feed(data[: cut + 1])

    def _settle_tail(self) -> None:
        """Feed a final line that lacks only its newline, hold back a torn one."""
        assert self.parser is not None
        if not self.tail.strip() or self.tail_fed:
            return
        try:
            value = orjson.loads(self.tail)
        except orjson.JSONDecodeError:
            return  # torn: wait for the rest
        if isinstance(value, dict):
            self.parser.feed(self.tail)
            self.tail = b""
            self.tail_fed = True

    def _read_whole(self, st: os.stat_result) -> int:
        assert self.parser is not None
        with open(self.file.path, "rb") as fh:
            data = fh.read()
        if self.file.codec == "zst":
            data = _decompress_zst(data)
        self.cursor.offset = st.st_size
        if self.file.parser_cls.append_only:
            # A compressed append-only format: its lines, all at once.
            if not data.endswith(b"\n"):
                data += b"\n"
            self.parser.feed(data)
        else:
            self.parser.feed_document(data)
        return st.st_size

    def snapshot(self) -> AgentSession:
        """The session as parsed so far; a cached deep copy until the file changes."""
        if self.parser is None:
            assert self._snapshot is not None, "snapshot() of a file never parsed"
            return self._snapshot
        if self._snapshot is None or self.parser.dirty:
            snap = self.parser.snapshot()
            if self.tail and not self.tail_fed:
                snap.diagnostics.last_error = snap.diagnostics.last_error or (
                    f"incomplete last line ({len(self.tail)} bytes) held back until it is finished"
                )
            activity = [t for t in (snap.end_timestamp_ms, snap.last_activity_ms) if t is not None]
            snap.last_activity_ms = max(activity) if activity else self._mtime_ms
            self._snapshot = snap
        return self._snapshot


def _decompress_zst(data: bytes) -> bytes:
    import zstandard

    import io

    try:
        try:
            return zstandard.ZstdDecompressor().decompress(data)
        except zstandard.ZstdError:
            # Frames written without a content size need the streaming reader.
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
                return reader.read()
    except zstandard.ZstdError as exc:
        raise ValueError(f"cannot decompress zstd file: {exc}") from exc
