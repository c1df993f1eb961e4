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

A line still being written is kept as a list of the chunks read so far, joined
once when its newline arrives, so a line of any length costs time linear in its
size. A line longer than ``MAX_LINE_BYTES`` is never held in memory at all: the
reader drops it up to its newline and counts it as ``oversized`` in the
session's diagnostics (no session line comes anywhere near that; a file that
does is a crash's sparse hole or not a session file at all).
"""

from __future__ import annotations

import errno
import os
import pickle
import time
from dataclasses import dataclass, field
from stat import S_ISREG
from typing import BinaryIO

import orjson

from .model import AgentSession
from .sources.base import SessionFile, SessionParser, future_limit_ms

__all__ = ["MAX_LINE_BYTES", "READ_CHUNK", "FileCursor", "TrackedFile"]

#: Appended bytes are read in chunks of this size, so one huge append never
#: needs a buffer the size of the file.
READ_CHUNK = 8 * 1024 * 1024
#: Longest line held back while waiting for its newline; a longer one is skipped
#: (read, never kept) and counted as ``oversized``. Read at each use, so a test
#: can lower it with monkeypatch.
MAX_LINE_BYTES = 64 * 1024 * 1024
#: Bytes kept from just before the read offset, to tell an append from a rewrite.
EDGE_BYTES = 64


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
    #: Bytes after the last newline (a line still being written), as the chunks read:
    #: joined once, when the line ends, never per read.
    tail_parts: list[bytes] = field(default_factory=list)
    tail_len: int = 0
    #: Inside a line longer than ``MAX_LINE_BYTES``: bytes are dropped up to its newline.
    skipping: bool = False
    #: The tail was fed already because it parsed as a complete JSON object.
    tail_fed: bool = False
    #: The last bytes read (up to ``EDGE_BYTES``), checked again before reading an append.
    edge: bytes = b""
    error: str | None = None
    _snapshot: AgentSession | None = None
    _mtime_ms: int | None = None
    #: Pickled ``(parser, tail, tail_fed, edge, skipping)`` of a summary-only file, revived on its first change.
    _state: bytes | None = None
    #: Wall time (ns) of the stat the current state was read after: an mtime this close
    #: to it may not change on a further write (coarse timestamps), see :meth:`settled`.
    stat_ns: int = 0
    #: The file held a session once: truncated to nothing or to garbage later, it stays one
    #: (the store's rule; a file is judged again on every change, see :meth:`not_a_session`).
    was_session: bool = False

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

    def not_a_session(self) -> str | None:
        """Why what was read holds no session (None: it does, or nothing was read yet).

        A session needs one line (or document) that was not skipped: an empty
        file, a torn first line, or lines that all failed to decode (a binary
        file, garbage, one oversized line) are not sessions. Numbers come from
        the parser, or from the summary of a file parsed elsewhere.
        """
        if self.parser is not None:
            read, skipped = self.parser.line_no, self.parser.diag.lines_skipped
        elif self._snapshot is not None:
            diag = self._snapshot.diagnostics
            read, skipped = diag.lines_read, diag.lines_skipped
        else:
            return None
        if read > skipped:
            return None
        if read == 0:
            held = self.snapshot().diagnostics.last_error or ""  # names a torn line, however parsed
            return (
                "no complete line yet"
                if self.tail_len or held.startswith("incomplete last line")
                else "empty"
            )
        reasons = self.snapshot().diagnostics.skipped_by_reason
        return "oversized line" if set(reasons) == {"oversized"} else "no valid record"

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
        self._clear_tail()
        self.edge = b""
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
        return pickle.dumps(
            (self.parser, self.tail, self.tail_fed, self.edge, self.skipping),
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    @property
    def tail(self) -> bytes:
        """The incomplete last line read so far (joined on demand: a copy)."""
        return b"".join(self.tail_parts)

    def _clear_tail(self) -> None:
        self.tail_parts = []
        self.tail_len = 0
        self.skipping = False

    def _set_tail(self, data: bytes) -> None:
        self.tail_parts = [data] if data else []
        self.tail_len = len(data)

    def _revive(self) -> None:
        """Unpickle the parser of a summary-only file; drop the summary when there is none."""
        state, self._state = self._state, None
        if state is not None:
            try:
                self.parser, tail, self.tail_fed, self.edge, self.skipping = pickle.loads(state)
                self._set_tail(tail)
                return
            except Exception:
                self.parser = None
        # No parser to continue: start from zero (the summary stays until the re-parse succeeds).
        self.cursor = FileCursor()
        self._clear_tail()
        self.tail_fed = False
        self.edge = b""

    def update(self) -> int:
        """Bring the parser up to date with the file. Returns bytes read.

        Raises ``OSError`` when the file cannot be stat'ed or read (or is no
        longer a regular file) and ``ValueError`` when a compressed file cannot
        be decompressed; the caller keeps the last good state and reports it.
        """
        stat_ns = time.time_ns()
        st = os.lstat(self.file.path)  # a session file is never read through a symlink
        if not S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", self.path)
        if self.ready and self.cursor.same_stat(st):
            return 0
        if self.parser is None and self._snapshot is not None:
            self._revive()
        with _open_regular(self.file.path) as fh:
            if self.file.append_only:
                restart = (
                    self.parser is None
                    or st.st_ino != self.cursor.ino
                    or st.st_dev != self.cursor.dev
                    or st.st_size < self.cursor.offset
                    or not self._edge_matches(fh)
                )
                if restart:
                    self._restart()
                read = self._read_appended(fh)
            else:
                read = self._read_whole(fh, st)
        self.stat_ns = stat_ns
        self._mtime_ms = st.st_mtime_ns // 1_000_000
        self.cursor.dev, self.cursor.ino = st.st_dev, st.st_ino
        self.cursor.size, self.cursor.mtime_ns = st.st_size, st.st_mtime_ns
        self._snapshot = None
        self.error = None
        return read

    def _restart(self) -> None:
        """Parse from zero: the file is new to us, shrank, was replaced or rewritten."""
        reparses = self.parser.diag.reparses + 1 if self.parser is not None else 0
        self.parser = self.file.new_parser(detail=self.detail)
        self.parser.diag.reparses = reparses
        self.cursor = FileCursor()
        self._clear_tail()
        self.tail_fed = False
        self.edge = b""

    def _edge_matches(self, fh: BinaryIO) -> bool:
        """The bytes just before our offset are still the ones we read.

        A file truncated and written again *longer* under the same inode looks
        like an append from its stat alone; its old last bytes give it away.
        """
        n = len(self.edge)
        if not n or self.cursor.offset < n:
            return True
        fh.seek(self.cursor.offset - n)
        return fh.read(n) == self.edge

    def _read_appended(self, fh: BinaryIO) -> int:
        assert self.parser is not None
        total = 0
        fh.seek(self.cursor.offset)
        while True:
            chunk = fh.read(READ_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            self.cursor.offset += len(chunk)
            self.edge = chunk[-EDGE_BYTES:] if len(chunk) >= EDGE_BYTES else (self.edge + chunk)[-EDGE_BYTES:]
            self._consume(chunk)
        self._settle_tail()
        return total

    def _consume(self, chunk: bytes) -> None:
        """Feed the complete lines of ``chunk``, keeping what follows its last newline.

        Every byte is copied a bounded number of times whatever the line
        lengths: the incomplete line grows as a list of chunks.
        """
        parser = self.parser
        assert parser is not None
        if self.tail_fed:
            # The previous tail was a complete object without its newline; the
            # newline (or a new line) follows now. Anything else glued to it is junk.
            self.tail_fed = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
                parser.diag.bytes_consumed += 1
            else:
                self._clear_tail()
        if self.skipping:
            nl = chunk.find(b"\n")
            if nl < 0:
                parser.diag.bytes_consumed += len(chunk)
                return
            parser.diag.bytes_consumed += nl + 1
            chunk = chunk[nl + 1 :]
            self.skipping = False
        cut = chunk.rfind(b"\n")
        limit = MAX_LINE_BYTES
        if cut < 0:
            if self.tail_len + len(chunk) > limit:
                self._oversized(self.tail_len + len(chunk), ended=False)
            elif chunk:
                self.tail_parts.append(chunk)
                self.tail_len += len(chunk)
            return
        start = 0
        if self.tail_parts:
            # The held-back line ends in this chunk: join it once, now.
            first = chunk.find(b"\n")
            if self.tail_len + first > limit:
                self._oversized(self.tail_len + first + 1, ended=True)
            else:
                self.tail_parts.append(chunk[: first + 1])
                self._feed_lines(b"".join(self.tail_parts))
            start = first + 1
            self.tail_parts, self.tail_len = [], 0
        if start <= cut:
            self._feed_lines(chunk[start : cut + 1] if start or cut + 1 < len(chunk) else chunk)
        rest = chunk[cut + 1 :]
        if len(rest) > limit:
            self._oversized(len(rest), ended=False)
        else:
            self._set_tail(rest)

    def _feed_lines(self, block: bytes) -> None:
        """Feed complete lines; one longer than ``MAX_LINE_BYTES`` is counted, not parsed.

        Only a block longer than the limit can hold such a line, and then a
        window search finds them in linear time: a newline within ``limit + 1``
        bytes of a line's start proves every line up to it short.
        """
        parser = self.parser
        assert parser is not None
        limit = MAX_LINE_BYTES
        if len(block) <= limit + 1:
            parser.feed(block)
            return
        run = pos = 0
        n = len(block)
        while pos < n:
            q = block.rfind(b"\n", pos, pos + limit + 1)
            if q >= 0:
                pos = q + 1
                continue
            end = block.find(b"\n", pos)
            end = n - 1 if end < 0 else end
            if run < pos:
                parser.feed(block[run:pos])
            self._oversized(end + 1 - pos, ended=True)
            run = pos = end + 1
        if run < n:
            parser.feed(block[run:])

    def _oversized(self, length: int, *, ended: bool) -> None:
        """Count a line longer than ``MAX_LINE_BYTES``; until its newline (``ended``) skip bytes."""
        parser = self.parser
        assert parser is not None
        parser.skip_line(
            "oversized",
            f"a line of {'' if ended else 'at least '}{length} bytes, longer than {MAX_LINE_BYTES}, was skipped",
        )
        parser.diag.bytes_consumed += length
        self.tail_parts, self.tail_len = [], 0
        self.skipping = not ended

    def _settle_tail(self) -> None:
        """Feed a final line that lacks only its newline, hold back a torn one."""
        assert self.parser is not None
        last = next((part.rstrip() for part in reversed(self.tail_parts) if part.strip()), b"")
        if self.tail_fed or not last.endswith(b"}"):
            return  # nothing held, already fed, or cannot be a whole object: no join needed
        tail = self.tail
        try:
            value = orjson.loads(tail)
        except orjson.JSONDecodeError:
            return  # torn: wait for the rest
        if isinstance(value, dict):
            self.parser.feed(tail)
            self.tail_parts, self.tail_len = [], 0
            self.tail_fed = True

    def _read_whole(self, fh: BinaryIO, st: os.stat_result) -> int:
        """Parse the whole file with a fresh parser, kept only if it is not worse than the last one.

        A rewritten-whole file can be caught half-written (the CLI writes it in
        place); a document that does not decode at all then leaves the last
        good session standing, with the failure noted in its diagnostics, until
        the next save. A compressed file that does not decompress changes nothing.
        """
        data = fh.read()
        if self.file.codec == "zst":
            data = _decompress_zst(data)
        old = self.parser
        parser = self.file.new_parser(detail=self.detail)
        parser.diag.reparses = old.diag.reparses + 1 if old is not None else 0
        if self.file.parser_cls.append_only:
            # A compressed append-only format: its lines, all at once.
            if data and not data.endswith(b"\n"):
                data += b"\n"
            parser.feed(data)
        else:
            parser.feed_document(data)
        if old is not None and _unusable(parser) and not _unusable(old):
            reasons = [r for r in parser.diag.skipped_by_reason if r not in old.diag.skipped_by_reason]
            old.diag.skip(reasons[0] if reasons else "unreadable_rewrite", parser.diag.last_error)
        else:
            self.parser = parser
        self.cursor.offset = st.st_size
        self._clear_tail()
        self.tail_fed, self.edge = False, b""
        return st.st_size

    def snapshot(self) -> AgentSession:
        """The session as parsed so far; a cached deep copy until the file changes."""
        if self.parser is None:
            assert self._snapshot is not None, "snapshot() of a file never parsed"
            return self._snapshot
        if self._snapshot is None or self.parser.dirty:
            snap = self.parser.snapshot()
            if self.tail_len and not self.tail_fed:
                snap.diagnostics.last_error = snap.diagnostics.last_error or (
                    f"incomplete last line ({self.tail_len} bytes) held back until it is finished"
                )
            activity = [t for t in (snap.end_timestamp_ms, snap.last_activity_ms) if t is not None]
            if activity:
                snap.last_activity_ms = max(activity)
            elif self._mtime_ms is not None and self._mtime_ms <= future_limit_ms():
                snap.last_activity_ms = self._mtime_ms  # a file touched into the future sorts nowhere
            else:
                snap.last_activity_ms = None
            self._snapshot = snap
        return self._snapshot


def _unusable(parser: SessionParser) -> bool:
    """Every line (for a document: the document) was skipped: nothing was read from the file."""
    read = parser.line_no
    return read > 0 and parser.diag.lines_skipped >= read


def _open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open for reading, refusing anything but a regular file without ever blocking.

    The file was a regular file when listed and stat'ed, but may have been
    swapped for a FIFO since; a plain ``open`` of a FIFO waits for a writer.
    It may also have been swapped for a symlink to a file the user could not
    otherwise show (run as root over another user's home): ``O_NOFOLLOW``
    makes that open fail instead of following the link.
    """
    fh = open(path, "rb", opener=_nonblocking)  # noqa: SIM115 - returned to the caller's ``with``
    try:
        if not S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
    except BaseException:
        fh.close()
        raise
    return fh


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))


def _decompress_zst(data: bytes) -> bytes:
    import io

    import zstandard

    try:
        try:
            return zstandard.ZstdDecompressor().decompress(data)
        except zstandard.ZstdError:
            # Frames written without a content size need the streaming reader.
            with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
                return reader.read()
    except zstandard.ZstdError as exc:
        raise ValueError(f"cannot decompress zstd file: {exc}") from exc
