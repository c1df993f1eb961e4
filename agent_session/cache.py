"""Persistent per-file summary cache: a second start without re-reading the history.

The cache is only ever trusted for speed. An entry is used when everything
that could change the summary is the same as when it was written: the file's
path, device, inode, size and mtime (ns), what discovery says about the file
(parser class, codec, priority, parse context) and the code that parses it
(a fingerprint of the parser sources, the package and genai-prices
versions). Anything else is a miss and the file is parsed as if there were no
cache, so a cache can be deleted at any time, and a corrupt, truncated or
foreign one is ignored with a diagnostic and rewritten.

Where: ``$AGENTSESSION_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/agentsession``
(``~/.cache/agentsession``); inside it, a folder ``summaries`` of our own with
one file per set of agent homes. That cache directory may sit on a shared
``/tmp`` (``XDG_CACHE_HOME``), so nothing in it is taken on trust: it is opened
without following symbolic links (a planted ``agentsession -> /home/victim``
is refused, never written into or pruned), it must belong to this user, and
only the ``summaries`` folder is ours to shape: created 0700 by us, with files
0600 (transcripts hold prompts and paths). A directory we did not create keeps
its mode, and only files named exactly as ours are ever deleted: caches of
homes not opened for a month and temporary files a killed writer left behind.
Writes go to a temporary file renamed over the old one, so a reader sees the
old cache or the new one, never a mix. Nothing is ever written under an agent
home.

Format (``FORMAT``): a header line of JSON (magic, format, code fingerprint,
blake2b digest and length of the body, and the same for its first
``HEAD_ENTRIES`` lines: ``head_digest``, ``head_length``) and a body of one
JSON object per line, newest file first,
``{"k": [path, dev, ino, size, mtime_ns, file_key, offset, tail_fed], "f": facts, "s": AgentSession}``.

``s`` is the summary exactly as ``agentsession list --json`` prints it (the
IR's JSON with its computed fields, without ``events``), so a one-shot listing
prints it as it is; ``f`` (:data:`FACTS`) repeats the few values that order,
group and filter sessions (ids, times, usage, cost, line counts). Loading
parses only ``k`` and ``f`` (the ``s`` of 50,000 summaries took seconds to
turn into models): a summary becomes an :class:`~agent_session.model.AgentSession`
when it is first asked for (:meth:`CacheEntry.model`), rebuilt by a plan that
checks every key and type, and validated by pydantic when the plan does not
fit. An entry whose summary fails both is dropped then (its file is parsed).
The file stays open meanwhile and lines are read from it again when needed
(``pread``): it is only ever replaced, never written in place. The head lets
a first screen show the newest sessions without reading the rest
(:meth:`SummaryCache.load_head`).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import gc
import hashlib
import os
import re
import secrets
import stat
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict
from functools import lru_cache
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from .model import AgentSession, AgentType, TokenUsage, make_display_id
from .sources.base import ParseContext, SessionFile

__all__ = [
    "CACHE_DIR_ENV",
    "FACTS",
    "FORMAT",
    "HEAD_ENTRIES",
    "NO_CACHE_ENV",
    "CacheEntry",
    "SummaryCache",
    "code_fingerprint",
    "collector_paused",
    "default_cache_dir",
    "file_key",
    "key_priority",
]

#: Bump when the layout of the file changes (older files are then ignored).
#: 2: ``s`` in the form ``list --json`` prints, and the ``f`` facts beside it.
FORMAT = 2
#: What ``f`` holds, in order: enough to group (agent, id, parent), order, filter and
#: sort (times, usage, cost) and judge (line counts) a session without its model.
FACTS = (
    "agent_type",
    "session_id",
    "parent_session_id",
    "last_activity_ms",
    "start_timestamp_ms",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "cost_usd",
    "lines_read",
    "lines_skipped",
)
_N_FACTS = len(FACTS)
#: The cache file is read in pieces of this size (split into lines as it goes).
_READ_CHUNK = 4 * 1024 * 1024
#: Lines of the newest files covered by the header's ``head_digest`` (a first screen's worth).
HEAD_ENTRIES = 1_000
#: A head larger than this is not written (nor read): its summaries are unusually large.
_MAX_HEAD_BYTES = 16 * 1024 * 1024
_MTIME = attrgetter("mtime_ns")
#: Where ``s`` starts in a line: ``k`` and ``f`` come first, and this byte sequence
#: cannot occur inside them (a quote in a JSON string is escaped, and inside an
#: array a string is never followed by a colon).
_S_MARK = b',"s":'
MAGIC = "agentsession-summary-cache"
CACHE_DIR_ENV = "AGENTSESSION_CACHE_DIR"
#: Set to a non-empty value other than ``0`` to turn the cache off everywhere.
NO_CACHE_ENV = "AGENTSESSION_NO_CACHE"
#: Cache files of homes not opened for this long are removed when another is saved.
STALE_SECONDS = 30 * 86_400
#: A temporary file of ours this old was left by a writer that died (a live one takes seconds).
TEMP_STALE_SECONDS = 3_600
#: The folder of ours inside the cache directory: the only place anything is created or deleted.
FOLDER = "summaries"
_CACHE_NAME = re.compile(r"summaries-[0-9a-f]{16}\.cache")
_TEMP_NAME = re.compile(r"\.summaries-[0-9a-f]{16}-[0-9a-f]{16}\.tmp")


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$AGENTSESSION_CACHE_DIR``, else ``$XDG_CACHE_HOME/agentsession``, else ``~/.cache/agentsession``."""
    env = os.environ if env is None else env
    override = env.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    base = (
        Path(xdg).expanduser() if xdg and os.path.isabs(os.path.expanduser(xdg)) else Path.home() / ".cache"
    )
    return base / "agentsession"


def cache_disabled_by_env(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    value = env.get(NO_CACHE_ENV, "")
    return bool(value) and value != "0"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Changes whenever the code that turns bytes into a summary may have changed."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.blake2b(digest_size=12)
    h.update(f"format={FORMAT}".encode())
    for dist in ("agentsession", "genai-prices", "pydantic"):
        try:
            h.update(f"{dist}={version(dist)}".encode())
        except PackageNotFoundError:
            h.update(f"{dist}=?".encode())
    pkg = Path(__file__).resolve().parent
    sources = [*sorted(pkg.glob("*.py")), *sorted((pkg / "sources").glob("*.py"))]
    for path in sources:
        if path.name in ("cli.py", "store.py", "cache.py"):
            continue  # do not shape a summary
        h.update(path.name.encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"?")
    return h.hexdigest()


def file_key(sf: SessionFile) -> str:
    """What discovery says about a file that changes how it parses."""
    facts = (sf.agent_type, sf.parser_cls, sf.codec, sf.priority)
    head = _KEY_HEADS.get(facts)
    if head is None:
        cls = sf.parser_cls
        head = f"{sf.agent_type.value}|{cls.__module__}.{cls.__qualname__}|{sf.codec or ''}|{sf.priority}|"
        _KEY_HEADS[facts] = head
    return head + _context_digest(sf.context)


_KEY_HEADS: dict[tuple[AgentType, type, str | None, int], str] = {}


def key_priority(key: str) -> int:
    """The discovery priority a :func:`file_key` records (0 for a key not of that form)."""
    try:
        return int(key.split("|")[3])
    except (IndexError, ValueError):
        return 0


def _context_digest(ctx: ParseContext) -> str:
    if ctx.cwd_hint is None and not ctx.known_roots and not ctx.extra:
        return "-"  # most files: nothing known from outside the file (cheaper than ``==``)
    if ctx.extra:
        return _digest(ctx)
    # Many files share a context (a Gemini project's folder): hash each one once.
    key = (ctx.cwd_hint, ctx.known_roots)
    digest = _DIGESTS.get(key)
    if digest is None:
        if len(_DIGESTS) >= 4096:
            _DIGESTS.clear()
        digest = _DIGESTS[key] = _digest(ctx)
    return digest


_DIGESTS: dict[tuple[str | None, tuple[str, ...]], str] = {}


def _digest(ctx: ParseContext) -> str:
    try:
        data = orjson.dumps(asdict(ctx), option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:
        data = repr(ctx).encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


class CacheEntry:
    """One file's summary as it was when the file had exactly this stat.

    Loaded from the cache it holds the facts of ``f`` and where its line is in
    the cache file, which stays open: the line (``raw``) and the summary JSON
    are read again when asked for (holding 50,000 lines was a third of a warm
    listing's memory). The summary model is built on first use (:meth:`model`)
    and kept. Built
    for a save it holds the model, and the line is encoded when written. Beside
    the model it answers what the session index and a listing ask of a summary
    (``agent_type``, ``session_id``, ``usage``…, :meth:`model_copy`), so a
    one-shot listing can order, group and print 50,000 cached sessions without
    building a model for any of them but the parents it rolls subagents into.
    """

    __slots__ = (
        "_raw",
        "_session",
        "_src",
        "agent_type",
        "cost_usd",
        "dev",
        "facts",
        "file_key",
        "ino",
        "last_activity_ms",
        "mtime_ns",
        "offset",
        "parent_session_id",
        "path",
        "session_id",
        "size",
        "start_timestamp_ms",
        "tail_fed",
    )
    # What the index and a listing read of every session are plain slots (a property
    # call each was a fifth of a warm listing's index): set from ``facts`` once.
    agent_type: AgentType
    session_id: str
    parent_session_id: str | None
    last_activity_ms: int | None
    start_timestamp_ms: int | None
    cost_usd: float | None

    def __init__(
        self,
        path: str,
        dev: int,
        ino: int,
        size: int,
        mtime_ns: int,
        file_key: str,
        offset: int,
        tail_fed: bool,
        session: AgentSession | None = None,
        raw: bytes | None = None,
        facts: tuple[Any, ...] | None = None,
        src: _LineRef | None = None,
    ) -> None:
        self.path = path
        self.dev = dev
        self.ino = ino
        self.size = size
        self.mtime_ns = mtime_ns
        self.file_key = file_key
        self.offset = offset
        self.tail_fed = tail_fed
        self._session = session
        self._raw = raw
        self._src = src
        if facts is None:
            assert session is not None, "a cache entry needs its summary or its facts"
            facts = session_facts(session)
        self.facts = facts
        self.agent_type = _AGENT_OF[facts[0]]
        self.session_id = facts[1]
        self.parent_session_id = facts[2]
        self.last_activity_ms = facts[3]
        self.start_timestamp_ms = facts[4]
        self.cost_usd = facts[10]

    def __repr__(self) -> str:
        return f"CacheEntry({self.path!r}, size={self.size}, mtime_ns={self.mtime_ns})"

    def matches(self, st: os.stat_result, key: str) -> bool:
        return (
            st.st_ino == self.ino
            and st.st_dev == self.dev
            and st.st_size == self.size
            and st.st_mtime_ns == self.mtime_ns
            and key == self.file_key
        )

    # ------------------------------------------------------------ the summary
    @property
    def raw(self) -> bytes | None:
        """The entry's line in the cache file (reused verbatim when the entry is saved again)."""
        if self._raw is not None:
            return self._raw
        if self._src is not None:
            file, at, length, _ = self._src
            return file.read(at, length)
        return None

    def summary_json(self) -> bytes:
        """The summary as ``list --json`` prints one session (before terminal escaping)."""
        if self._src is not None:
            file, at, length, s_at = self._src
            return file.read(at + s_at, length - s_at - 1)
        if self._raw is not None:
            start = self._raw.find(_S_MARK)
            if start > 0 and self._raw.endswith(b"}"):
                return self._raw[start + len(_S_MARK) : -1]
        session = self.model()
        assert session is not None
        return session.__pydantic_serializer__.to_json(session, exclude={"events"})

    def model(self) -> AgentSession | None:
        """The summary as a model, built once (None: the line does not hold a valid summary)."""
        if self._session is None and (self._raw is not None or self._src is not None):
            try:
                data = self.summary_json()
            except OSError:
                return None  # the cache file cannot be read any more: the file is parsed instead
            self._session = _build_summary(data)
        return self._session

    @property
    def built(self) -> AgentSession | None:
        """The model if it was built already (nothing is built to answer)."""
        return self._session

    @property
    def session(self) -> AgentSession:
        """The summary model; ``ValueError`` when the line holds no valid summary."""
        session = self.model()
        if session is None:
            raise ValueError(f"the cached summary of {self.path} is not valid")
        return session

    # ------------------------------------------------ what the index asks of it
    @property
    def display_id(self) -> str:
        return make_display_id(self.facts[0], self.facts[1])

    @property
    def usage(self) -> TokenUsage:
        f = self.facts
        return TokenUsage.model_construct(
            input_tokens=f[5],
            output_tokens=f[6],
            cache_creation_tokens=f[7],
            cache_read_tokens=f[8],
            reasoning_tokens=f[9],
        )

    @property
    def subagent_usage(self) -> TokenUsage:
        """Always zero: a session with subagents is rolled up into a model of its own."""
        return TokenUsage()

    @property
    def subagent_ids(self) -> list[str]:
        """Always empty, as ``subagent_usage`` is zero."""
        return []

    @property
    def total_tokens(self) -> int:
        """``usage.total_tokens`` without building the usage."""
        f = self.facts
        return int(f[5] + f[6] + f[7] + f[8])

    @property
    def is_session(self) -> bool:
        """The file held at least one line that was not skipped (the store's rule for a session)."""
        return bool(self.facts[11] > self.facts[12])

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> AgentSession:
        """The model with ``update`` applied: the index rolls subagents up this way."""
        return self.session.model_copy(update=update)


class _CacheFile:
    """A loaded cache file, kept open while entries read their lines from it.

    The cache is only ever replaced (a new file renamed over it), never written
    in place, so the open file keeps the bytes its digest was checked on. It
    is closed when the last entry that refers to it is gone.
    """

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise OSError(errno.EIO, "the cache file is shorter than when it was loaded")
        return data

    def __del__(self, _close: Callable[[int], None] = os.close) -> None:
        # ``os`` may be gone already when the interpreter shuts down: keep ``close`` at hand.
        with contextlib.suppress(OSError):
            _close(self.fd)


#: ``(file, offset of the line, its length, where its ``s`` starts in it)``.
_LineRef = tuple[_CacheFile, int, int, int]


def session_facts(session: AgentSession) -> tuple[Any, ...]:
    """The ``f`` of a summary (see :data:`FACTS`)."""
    u = session.usage
    d = session.diagnostics
    return (
        session.agent_type.value,
        session.session_id,
        session.parent_session_id,
        session.last_activity_ms,
        session.start_timestamp_ms,
        u.input_tokens,
        u.output_tokens,
        u.cache_creation_tokens,
        u.cache_read_tokens,
        u.reasoning_tokens,
        session.cost_usd,
        d.lines_read,
        d.lines_skipped,
    )


_FACT_TYPES: tuple[tuple[type, ...], ...] = (
    (str,),
    (str,),
    (str, type(None)),
    (int, type(None)),
    (int, type(None)),
    (int,),
    (int,),
    (int,),
    (int,),
    (int,),
    (float, int, type(None)),
    (int,),
    (int,),
)
_AGENT_OF = {a.value: a for a in AgentType}
#: Type signatures of ``f`` (the types of its values, in order) that passed the check.
_FACT_SIGNATURES: set[tuple[type, ...]] = set()


def _facts_ok(facts: object) -> bool:
    """``f`` has the types :data:`FACTS` says, and names an agent we know.

    Checked once per type signature (a handful in a whole cache: which values
    are None, whether a cost is there), the rest in C: a Python loop over every
    value of 50,000 lines was a fifth of a warm listing.
    """
    if type(facts) is not list or len(facts) != _N_FACTS or facts[0] not in _AGENT_OF:
        return False
    signature = tuple(map(type, facts))
    if signature in _FACT_SIGNATURES:
        return True
    if not all(kind in kinds for kind, kinds in zip(signature, _FACT_TYPES, strict=True)):
        return False
    if len(_FACT_SIGNATURES) < 256:
        _FACT_SIGNATURES.add(signature)
    return True


def _build_summary(data: bytes) -> AgentSession | None:
    """A summary model from its ``s`` JSON: the trusted plan, else pydantic's validation, else None."""
    build = _session_builder()
    if build is not None:
        try:
            session = build(orjson.loads(data))
        except Exception:
            session = None
        if session is not None:
            return session
    try:
        return _SUMMARY.validate_json(data)
    except ValidationError:
        return None


class _Line(BaseModel):
    k: tuple[str, int, int, int, int, str, int, bool]
    s: AgentSession


_LINES = TypeAdapter(list[_Line])
_SUMMARY = TypeAdapter(AgentSession)


class SummaryCache:
    """The cache file for one set of agent homes.

    ``diagnostic`` says why a cache was ignored or could not be written
    (None when all is well): the store surfaces it, nothing raises.
    ``directory`` is the cache directory as configured; ``folder`` the
    subdirectory of ours inside it; ``path`` this set of homes' file.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        scope: Iterable[str] = (),
        forbidden: Iterable[str | Path] = (),
    ) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self.folder = self.directory / FOLDER
        # Home paths need not be UTF-8: hash their bytes as the file system has them.
        raw_scope = b"\0".join(s.encode("utf-8", "surrogateescape") for s in sorted(scope))
        self._scope_key = hashlib.blake2b(raw_scope, digest_size=8).hexdigest()
        self._name = f"summaries-{self._scope_key}.cache"
        self.path = self.folder / self._name
        self.diagnostic: str | None = None
        self._allowed = not _inside(self.directory, forbidden)
        if not self._allowed:
            self.diagnostic = f"cache disabled: {self.directory} is inside an agent home"

    # ---------------------------------------------------------------- loading
    def load(self) -> dict[str, CacheEntry]:
        """Entries by path; empty (with ``diagnostic`` set) when the file is absent, corrupt or foreign.

        Only each line's key and facts are parsed here; summaries are built
        when asked for (:meth:`CacheEntry.model`).
        """
        return self._load(head=False)[0]

    def load_head(self) -> tuple[dict[str, CacheEntry], int]:
        """The entries of the most recently modified files only, and how many the whole cache holds.

        The cache is written newest first, with a digest of its first
        ``HEAD_ENTRIES`` lines of its own: a first screen checks and parses
        those (a few hundred KB) instead of the whole file. Empty when there is
        no such head (an absent, foreign or corrupt cache: :meth:`load` says why).
        """
        return self._load(head=True)

    def _load(self, *, head: bool) -> tuple[dict[str, CacheEntry], int]:
        if not self._allowed:
            return {}, 0
        try:
            folder = self._open_folder(create=False)
            if folder is None:
                return {}, 0
            try:
                fd = os.open(self._name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            finally:
                os.close(folder)
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                problem = "not a regular file" if not stat.S_ISREG(st.st_mode) else _not_private(st, "file")
                if problem is not None:
                    # Someone else could have written it: its numbers are not ours to show.
                    if not head:
                        self.diagnostic = f"cache ignored ({self.path}): {problem}"
                    return {}, 0
                with collector_paused():
                    return self._parse(fh, head=head)
        except FileNotFoundError:
            return {}, 0
        except (_Refused, _Ignored, OSError) as exc:
            if not head:
                if isinstance(exc, _Refused):
                    self.diagnostic = f"cache ignored: {exc}"
                elif isinstance(exc, _Ignored):
                    self.diagnostic = f"cache ignored ({self.path}): {exc}"
                else:
                    self.diagnostic = f"cache ignored: cannot read {self.path}: {_reason(exc)}"
            return {}, 0

    def _parse(self, fh: BinaryIO, *, head: bool = False) -> tuple[dict[str, CacheEntry], int]:
        """Check the header and the digest and parse each line's ``k`` and ``f``.

        Read in pieces (the digest fed as it goes), so the file is never in
        memory at once; lines are not kept either (an entry reads its own
        again when asked). ``head``: only the first lines, checked by the
        header's ``head_digest``.
        """
        first = fh.readline()
        if not first.endswith(b"\n"):
            raise _Ignored("no header (empty or truncated file)")
        try:
            header = orjson.loads(first)
        except orjson.JSONDecodeError as exc:
            raise _Ignored(f"corrupt header: {exc}") from None
        if not isinstance(header, dict) or header.get("magic") != MAGIC:
            raise _Ignored("not an agentsession cache file")
        if header.get("format") != FORMAT:
            raise _Ignored(f"written in format {header.get('format')!r}, this version reads format {FORMAT}")
        if header.get("fingerprint") != code_fingerprint():
            raise _Ignored("written by another version of the parsers")
        total = header.get("entries")
        total = total if type(total) is int and total >= 0 else 0
        want_length, want_digest = header.get("length"), header.get("digest")
        limit = None
        if head:
            want_length, want_digest = header.get("head_length"), header.get("head_digest")
            if type(want_length) is not int or not 0 <= want_length <= _MAX_HEAD_BYTES:
                raise _Ignored("no head")
            limit = want_length
        digest = hashlib.blake2b(digest_size=16)
        length = 0
        out: dict[str, CacheEntry] = {}
        source = _CacheFile(os.dup(fh.fileno()))
        loads = orjson.loads
        mark = _S_MARK
        skip = len(mark)
        keys: dict[str, str] = {}  # one string per distinct file key (a few in a whole cache)
        bad = False
        pos = len(first)  # where the next line starts in the file
        carry = b""
        while chunk := fh.read(_READ_CHUNK if limit is None else min(_READ_CHUNK, limit - length)):
            digest.update(chunk)
            length += len(chunk)
            lines = (carry + chunk if carry else chunk).split(b"\n")
            carry = lines.pop()
            for raw in lines:
                n = len(raw)
                cut = raw.find(mark)
                try:
                    head_obj: Any = loads(raw[:cut] + b"}") if cut > 0 else None
                    path, dev, ino, size, mtime_ns, key, offset, tail_fed = head_obj["k"]
                    facts = head_obj["f"]
                    ok = _key_ok(path, key, tail_fed, dev, ino, size, mtime_ns, offset) and _facts_ok(facts)
                except Exception:
                    ok = False
                if not ok:
                    bad = True  # said once the digest is known to be right (else it is the reason)
                else:
                    key = keys.setdefault(key, key)
                    out[path] = CacheEntry(
                        path, dev, ino, size, mtime_ns, key, offset, tail_fed, None, None, tuple(facts),
                        (source, pos, n, cut + skip),
                    )  # fmt: skip
                pos += n + 1
            if limit is not None and length >= limit:
                break
        if want_length != length:
            raise _Ignored(f"truncated: body is {length} bytes, header says {want_length}")
        if want_digest != digest.hexdigest():
            raise _Ignored("corrupt: checksum mismatch")
        if bad or carry:
            raise _Ignored("corrupt entries: a line without a valid key and facts")
        return out, total

    # ----------------------------------------------------------------- saving
    def save(self, entries: Iterable[CacheEntry]) -> bool:
        """Replace the cache file atomically. False (with ``diagnostic``) when it cannot be written."""
        if not self._allowed:
            return False
        lines: list[bytes] = []
        # Newest first: a first screen reads the head of the file only (``load_head``).
        for e in sorted(entries, key=_MTIME, reverse=True):
            raw = e.raw
            if raw is None:
                raw = encode_entry(e)
            if raw is not None:
                lines.append(raw)
        body = b"".join(line + b"\n" for line in lines)
        head_length = sum(len(line) + 1 for line in lines[:HEAD_ENTRIES])
        if head_length > _MAX_HEAD_BYTES:
            head_length = 0  # huge summaries: no head (a first screen waits for the whole load)
        header = {
            "magic": MAGIC,
            "format": FORMAT,
            "fingerprint": code_fingerprint(),
            "digest": hashlib.blake2b(body, digest_size=16).hexdigest(),
            "length": len(body),
            "entries": len(lines),
            "head_length": head_length,
            "head_digest": hashlib.blake2b(body[:head_length], digest_size=16).hexdigest(),
            "written_at": int(time.time()),
        }
        try:
            folder = self._open_folder(create=True)
            assert folder is not None
            try:
                self._write(folder, orjson.dumps(header) + b"\n", body)
                self._prune(folder)
            finally:
                os.close(folder)
        except _Refused as exc:
            self.diagnostic = f"cache not written: {exc}"
            return False
        except OSError as exc:
            self.diagnostic = f"cache not written: {_reason(exc)} ({self.folder})"
            return False
        return True

    def _write(self, folder: int, header: bytes, body: bytes) -> None:
        """Write a temporary file of ours in ``folder`` and rename it over the cache file."""
        tmp = f".summaries-{self._scope_key}-{secrets.token_hex(8)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o600, dir_fd=folder)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask took away or left
            with os.fdopen(fd, "wb") as fh:
                fh.write(header)
                fh.write(body)
            os.replace(tmp, self._name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
            raise

    def _open_folder(self, *, create: bool) -> int | None:
        """A descriptor of our folder, checked; None when it does not exist and ``create`` is False.

        Every step works on directory descriptors opened with ``O_NOFOLLOW``,
        so a symbolic link planted at the cache directory or at our folder is
        refused rather than followed, and nothing can be swapped in between a
        check and its use. Modes are set only on what this call created.
        """
        base = str(self.directory)
        made_base = False
        if create:
            parent = os.path.dirname(base.rstrip(os.sep)) or os.sep
            if not os.path.isdir(parent):
                os.makedirs(parent, exist_ok=True)  # ~/.cache and above: not ours to shape
            with contextlib.suppress(FileExistsError):
                os.mkdir(base, 0o700)
                made_base = True
        base_fd = _open_dir(base, None, self.directory)
        if base_fd is None:
            return None
        try:
            st = os.fstat(base_fd)
            if st.st_uid != os.geteuid():
                raise _Refused(f"{self.directory} belongs to uid {st.st_uid}, not to this user")
            if made_base:
                os.fchmod(base_fd, 0o700)
            made_folder = False
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(FOLDER, 0o700, dir_fd=base_fd)
                    made_folder = True
            fd = _open_dir(FOLDER, base_fd, self.folder)
        finally:
            os.close(base_fd)
        if fd is None:
            return None
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid():
                raise _Refused(f"{self.folder} belongs to uid {st.st_uid}, not to this user")
            if made_folder:
                os.fchmod(fd, 0o700)
            elif stat.S_IMODE(st.st_mode) & 0o077:
                # We create it 0700: another mode means someone else made or changed it.
                raise _Refused(f"{self.folder} is open to other users (mode {stat.S_IMODE(st.st_mode):o})")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _prune(self, folder: int) -> None:
        """Remove our own leftovers: caches of homes nobody opened for a month, dead writers' temp files.

        Only regular files of this user whose names match ours exactly, in our
        own folder; a temporary file is removed only once it is older than any
        live writer's (``TEMP_STALE_SECONDS``).
        """
        now = time.time()
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    name = entry.name
                    if _CACHE_NAME.fullmatch(name):
                        if name == self._name:
                            continue
                        limit = STALE_SECONDS
                    elif _TEMP_NAME.fullmatch(name):
                        limit = TEMP_STALE_SECONDS
                    else:
                        continue
                    with contextlib.suppress(OSError):
                        st = entry.stat(follow_symlinks=False)
                        if (
                            stat.S_ISREG(st.st_mode)
                            and st.st_uid == os.geteuid()
                            and st.st_mtime < now - limit
                        ):
                            os.unlink(name, dir_fd=folder)
        except OSError:
            pass

    def clear(self) -> None:
        """Delete this set of homes' cache file (nothing else)."""
        with contextlib.suppress(OSError, _Refused):
            folder = self._open_folder(create=False)
            if folder is not None:
                try:
                    os.unlink(self._name, dir_fd=folder)
                finally:
                    os.close(folder)


def _open_dir(name: str, dir_fd: int | None, shown: Path) -> int | None:
    """Open a directory without following a symbolic link at its last component (None: absent)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            try:
                link = stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
            except OSError:
                link = False
            what = "a symbolic link (not followed)" if link else "not a directory"
            raise _Refused(f"{shown} is {what}") from None
        raise


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class _Refused(Exception):
    """The cache location cannot be trusted (a symbolic link, another owner, open to others)."""


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large cache is turned into objects.

    Hundreds of thousands of new dicts and models, none of them garbage, would
    otherwise trigger collection after collection over everything built so far
    (3-4 times the cost of the parse itself at 50,000 entries). The store uses
    it too, around the walk and the index build of a warm start: they allocate
    hundreds of thousands of objects (no cycles among them) beside the loaded
    summaries, and each full collection scans all of those again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_collector_paused = collector_paused


def _key_ok(path: object, key: object, tail_fed: object, *numbers: object) -> bool:
    return (
        type(path) is str
        and type(key) is str
        and type(tail_fed) is bool
        and tuple(map(type, numbers)) == _INTS[len(numbers)]
    )


_INTS = tuple((int,) * n for n in range(8))


# ------------------------------------------------------------ trusted loading
# Validating 50,000 summaries with pydantic costs seconds; the cache only holds
# what this very code wrote (same fingerprint, checksummed, private). So an
# entry is rebuilt directly from its JSON: a plan derived once from the model's
# field annotations checks every key and leaf type and builds the nested models
# without validators. Anything the plan does not expect (a missing or extra
# key, a wrong type, a field type it does not know) sends that entry through
# the full validation instead, which then decides.

_Convert = Callable[[Any], Any]


class _Unplannable(Exception):
    """A field type the trusted builder does not know: validate instead."""


class _Mismatch(Exception):
    """The JSON does not have the shape the plan expects."""


@lru_cache(maxsize=1)
def _session_builder() -> _Convert | None:
    try:
        # ``events`` is left out of the cache's ``s`` (a summary has none): it is set to None.
        return _model_builder(AgentSession, {}, omit=("events",))
    except _Unplannable:
        return None


def _model_builder(cls: type[BaseModel], seen: dict[type, _Convert], omit: tuple[str, ...] = ()) -> _Convert:
    """A builder of ``cls`` from its JSON, computed fields ignored; ``omit``: fields absent (or None) there, set None."""
    if cls in seen:
        return seen[cls]
    decorators = cls.__pydantic_decorators__
    if (
        cls.__private_attributes__
        or cls.__pydantic_post_init__ is not None
        or cls.model_config.get("extra") not in (None, "ignore")
        or decorators.field_validators
        or decorators.model_validators
        or decorators.validators
        or decorators.root_validators
    ):
        raise _Unplannable(cls.__name__)  # validation does more than check types: let it run
    names = frozenset(n for n in cls.model_fields if n not in omit)
    order = tuple(n for n in cls.model_fields if n not in omit)
    #: Computed fields are in the JSON ``list --json`` prints (the cache's ``s``): not fields to set.
    computed = tuple(cls.model_computed_fields)
    #: Type signatures (value types in field order) whose leaves were checked.
    passed: set[tuple[type, ...]] = set()
    # Every field is set, so every model of the class can share one set: pydantic only
    # ever adds a field name to it (a no-op here), and a copy gets its own. One set per
    # model would be a third of a cached summary's memory.
    all_set = set(names)
    # Plain leaves (str, int, bool, maybe None) are checked inline, without a call each.
    exact: list[tuple[str, Any]] = []
    optional: list[tuple[str, type]] = []
    converts: list[tuple[str, _Convert, type]] = []
    new = object.__new__
    # BaseModel's own slot descriptors: a third cheaper than ``object.__setattr__`` by name.
    slots = BaseModel.__dict__
    set_dict = slots["__dict__"].__set__
    set_fields_set = slots["__pydantic_fields_set__"].__set__
    set_extra = slots["__pydantic_extra__"].__set__
    set_private = slots["__pydantic_private__"].__set__

    def check_leaves(value: dict[str, Any]) -> None:
        # The leaves' types in one pass of C calls (a Python loop per field was a
        # third of a warm start at 50,000 summaries); bool is not int here.
        if exact_names and tuple(map(type, map(value.__getitem__, exact_names))) != exact_kinds:
            raise _Mismatch(cls.__name__)
        if optional_names and not all(
            map(frozenset.__contains__, optional_kinds, map(type, map(value.__getitem__, optional_names)))
        ):
            raise _Mismatch(cls.__name__)

    def build(value: Any) -> BaseModel:
        if type(value) is not dict:
            raise _Mismatch(cls.__name__)
        for name in computed:
            value.pop(name, None)
        for name in omit:
            if value.pop(name, None) is not None:
                raise _Mismatch(cls.__name__)
        # The cache writes fields in declaration order: then the types of all values,
        # taken in one C pass, are a signature; one that passed the leaf checks once
        # passes them again (converted fields check themselves below).
        if tuple(value) == order:
            signature = tuple(map(type, value.values()))
            if signature not in passed:
                check_leaves(value)
                if len(passed) < 256:
                    passed.add(signature)
        elif value.keys() != names:
            raise _Mismatch(cls.__name__)
        else:
            check_leaves(value)
        for name, convert, container in converts:
            v = value[name]
            if type(v) is container and not v:
                continue  # an empty dict or list has nothing to convert (most of them)
            value[name] = convert(v)
        for name in omit:
            value[name] = None
        model = new(cls)
        set_dict(model, value)
        set_fields_set(model, all_set)
        set_extra(model, None)
        set_private(model, None)
        return model

    seen[cls] = build
    for name, info in cls.model_fields.items():
        if name in omit:
            if info.default is not None:
                raise _Unplannable(
                    f"{cls.__name__}.{name}"
                )  # only a field that defaults to None may be absent
            continue
        tp = info.annotation
        if tp in _LEAVES:
            exact.append((name, tp))
            continue
        args = get_args(tp)
        if get_origin(tp) in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
            inner = args[0] if args[1] is type(None) else args[1]
            if inner in _LEAVES:
                optional.append((name, inner))
                continue
        convert = _converter(tp, seen)
        assert convert is not None
        origin = get_origin(tp)
        converts.append((name, convert, origin if origin in (dict, list) else _NoContainer))
    exact_names = tuple(name for name, _ in exact)
    exact_kinds = tuple(kind for _, kind in exact)
    optional_names = tuple(name for name, _ in optional)
    optional_kinds = tuple(frozenset((kind, type(None))) for _, kind in optional)
    return build


_LEAVES = (str, int, bool)


class _NoContainer:
    """The type no JSON value has: a field whose empty value is not skipped."""


def _check(kind: type) -> _Convert:
    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise _Mismatch(kind.__name__)
        return value

    return check


def _to_float(value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise _Mismatch("float")


def _converter(tp: Any, seen: dict[type, _Convert]) -> _Convert | None:
    """How to turn a JSON value into the field's value (None: nothing to do but check)."""
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1 or len(rest) == len(args):
            raise _Unplannable(str(tp))
        inner = _converter(rest[0], seen) or _check(rest[0])
        return lambda v: None if v is None else inner(v)
    if origin is list:
        item = _converter(args[0], seen) if args else None
        if item is None and args[0] in (str, int):
            kind = args[0]

            def check_list(v: Any) -> Any:
                if type(v) is not list or any(type(x) is not kind for x in v):
                    raise _Mismatch("list")
                return v

            return check_list
        if item is None:
            raise _Unplannable(str(tp))
        conv_item = item

        def convert_list(v: Any) -> Any:
            if type(v) is not list:
                raise _Mismatch("list")
            return [conv_item(x) for x in v]

        return convert_list
    if origin is dict:
        if not args or args[0] is not str:
            raise _Unplannable(str(tp))
        value_conv = _converter(args[1], seen)
        if value_conv is None and args[1] is int:

            def check_dict(v: Any) -> Any:
                if type(v) is not dict or any(type(x) is not int for x in v.values()):
                    raise _Mismatch("dict")
                return v

            return check_dict
        if value_conv is None:
            raise _Unplannable(str(tp))
        conv_value = value_conv

        def convert_dict(v: Any) -> Any:
            if type(v) is not dict:
                raise _Mismatch("dict")
            return {k: conv_value(x) for k, x in v.items()}

        return convert_dict
    if tp in (str, int, bool):
        return _check(tp)
    if tp is float:
        return _to_float
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _model_builder(tp, seen)
    from_json = getattr(tp, "from_json_obj", None)
    trusted = getattr(tp, "from_trusted_json_obj", None)
    if callable(from_json) and callable(trusted):
        checked = from_json

        def read_trusted(v: Any) -> Any:
            # Its own JSON form, checked in C; anything unexpected gets the checking reader.
            try:
                return trusted(v)
            except (KeyError, TypeError, ValueError, OverflowError):
                return checked(v)

        return read_trusted
    if callable(from_json):
        return from_json  # a field type that reads its own JSON form (e.g. the request log)
    raise _Unplannable(str(tp))


def encode_entry(e: CacheEntry) -> bytes | None:
    """The entry's cache line, or None when the summary cannot be written as JSON (it is then re-parsed).

    A summary with events (a detail parse) is not cached: ``s`` leaves
    events out, and what is loaded must equal what was saved.
    """
    session = e.built
    if session is None or session.events is not None:
        return None
    try:
        data = session.__pydantic_serializer__.to_json(session, exclude={"events"})
        # A path with bytes that are not UTF-8 cannot be JSON: such a file is simply not cached.
        key = orjson.dumps([e.path, e.dev, e.ino, e.size, e.mtime_ns, e.file_key, e.offset, e.tail_fed])
        facts = orjson.dumps(e.facts)
    except Exception:
        return None
    return b'{"k":' + key + b',"f":' + facts + _S_MARK + data + b"}"


def _not_private(st: os.stat_result, what: str) -> str | None:
    """Why a cache directory or file cannot be trusted (another owner, writable by others), or None."""
    if st.st_uid != os.geteuid():
        return f"{what} belongs to uid {st.st_uid}, not to this user"
    if st.st_mode & 0o022:
        return f"{what} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None


class _Ignored(Exception):
    """Why a cache file is not used."""


def _inside(path: Path, roots: Iterable[str | Path]) -> bool:
    try:
        real = os.path.realpath(path)
    except OSError:
        return False
    for root in roots:
        r = os.path.realpath(root)
        if real == r or real.startswith(r.rstrip(os.sep) + os.sep):
            return True
    return False
