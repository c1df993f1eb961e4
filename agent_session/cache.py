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
(``~/.cache/agentsession``); one file per set of agent homes. The directory is
created 0700 and files 0600 (transcripts hold prompts and paths); writes go
to a temporary file renamed over the old one, so a reader sees the old cache
or the new one, never a mix. Nothing is ever written under an agent home.

Format (``FORMAT``): a header line of JSON (magic, format, code fingerprint,
blake2b digest and length of the body) and a body of one JSON object per line,
``{"k": [path, dev, ino, size, mtime_ns, file_key, offset, tail_fed], "s": AgentSession}``.
Summaries are the IR's own JSON, validated in one pass when loaded.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from .model import AgentSession, AgentType
from .sources.base import ParseContext, SessionFile

__all__ = [
    "CACHE_DIR_ENV",
    "FORMAT",
    "NO_CACHE_ENV",
    "CacheEntry",
    "SummaryCache",
    "code_fingerprint",
    "default_cache_dir",
    "file_key",
]

#: Bump when the layout of the file changes (older files are then ignored).
FORMAT = 1
MAGIC = "agentsession-summary-cache"
CACHE_DIR_ENV = "AGENTSESSION_CACHE_DIR"
#: Set to a non-empty value other than ``0`` to turn the cache off everywhere.
NO_CACHE_ENV = "AGENTSESSION_NO_CACHE"
#: Cache files of homes not opened for this long are removed when another is saved.
STALE_SECONDS = 30 * 86_400


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


_DEFAULT_CONTEXT = ParseContext()


def _context_digest(ctx: ParseContext) -> str:
    if ctx == _DEFAULT_CONTEXT:
        return "-"  # most files: nothing known from outside the file
    try:
        data = orjson.dumps(asdict(ctx), option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:
        data = repr(ctx).encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """One file's summary as it was when the file had exactly this stat."""

    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int
    file_key: str
    offset: int
    tail_fed: bool
    session: AgentSession
    #: The entry's line in the cache file, reused verbatim when the entry is saved again.
    raw: bytes | None = None

    def matches(self, st: os.stat_result, key: str) -> bool:
        return (
            st.st_ino == self.ino
            and st.st_dev == self.dev
            and st.st_size == self.size
            and st.st_mtime_ns == self.mtime_ns
            and key == self.file_key
        )


class _Line(BaseModel):
    k: tuple[str, int, int, int, int, str, int, bool]
    s: AgentSession


_LINES = TypeAdapter(list[_Line])


class SummaryCache:
    """The cache file for one set of agent homes.

    ``diagnostic`` says why a cache was ignored or could not be written
    (None when all is well): the store surfaces it, nothing raises.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        scope: Iterable[str] = (),
        forbidden: Iterable[str | Path] = (),
    ) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        scope_key = hashlib.blake2b("\0".join(sorted(scope)).encode(), digest_size=8).hexdigest()
        self.path = self.directory / f"summaries-{scope_key}.cache"
        self.diagnostic: str | None = None
        self.loaded = 0
        self.saved_at = 0.0
        self._usable = not _inside(self.directory, forbidden)
        if not self._usable:
            self.diagnostic = f"cache disabled: {self.directory} is inside an agent home"

    @property
    def usable(self) -> bool:
        return self._usable

    # ---------------------------------------------------------------- loading
    def load(self) -> dict[str, CacheEntry]:
        """Entries by path; empty (with ``diagnostic`` set) when the file is absent, corrupt or foreign."""
        if not self._usable:
            return {}
        try:
            problem = _not_private(os.stat(self.directory), "directory")
            if problem is None:
                with open(self.path, "rb") as fh:
                    problem = _not_private(os.fstat(fh.fileno()), "file")
                    data = fh.read() if problem is None else b""
        except FileNotFoundError:
            return {}
        except OSError as exc:
            self.diagnostic = f"cache ignored: cannot read {self.path}: {exc.strerror or exc}"
            return {}
        if problem is not None:
            # Someone else could have written it: its numbers are not ours to show.
            self.diagnostic = f"cache ignored ({self.path}): {problem}"
            return {}
        try:
            entries = self._parse(data)
        except _Ignored as exc:
            self.diagnostic = f"cache ignored ({self.path}): {exc}"
            return {}
        self.loaded = len(entries)
        return entries

    def _parse(self, data: bytes) -> dict[str, CacheEntry]:
        nl = data.find(b"\n")
        if nl < 0:
            raise _Ignored("no header (empty or truncated file)")
        try:
            header = orjson.loads(data[:nl])
        except orjson.JSONDecodeError as exc:
            raise _Ignored(f"corrupt header: {exc}") from None
        if not isinstance(header, dict) or header.get("magic") != MAGIC:
            raise _Ignored("not an agentsession cache file")
        if header.get("format") != FORMAT:
            raise _Ignored(f"written in format {header.get('format')!r}, this version reads format {FORMAT}")
        if header.get("fingerprint") != code_fingerprint():
            raise _Ignored("written by another version of the parsers")
        body = memoryview(data)[nl + 1 :]
        if header.get("length") != len(body):
            raise _Ignored(f"truncated: body is {len(body)} bytes, header says {header.get('length')}")
        if header.get("digest") != hashlib.blake2b(body, digest_size=16).hexdigest():
            raise _Ignored("corrupt: checksum mismatch")
        raw_lines = bytes(body).split(b"\n")
        if raw_lines and not raw_lines[-1]:
            raw_lines.pop()
        if not raw_lines:
            return {}
        try:
            lines = _LINES.validate_json(b"[" + b",".join(raw_lines) + b"]")
        except ValidationError as exc:
            raise _Ignored(f"corrupt entries: {exc.error_count()} validation error(s)") from None
        out: dict[str, CacheEntry] = {}
        for line, raw in zip(lines, raw_lines, strict=True):
            path, dev, ino, size, mtime_ns, key, offset, tail_fed = line.k
            out[path] = CacheEntry(path, dev, ino, size, mtime_ns, key, offset, tail_fed, line.s, raw)
        return out

    # ----------------------------------------------------------------- saving
    def save(self, entries: Iterable[CacheEntry]) -> bool:
        """Replace the cache file atomically. False (with ``diagnostic``) when it cannot be written."""
        if not self._usable:
            return False
        lines: list[bytes] = []
        for e in entries:
            raw = e.raw if e.raw is not None else encode_entry(e)
            if raw is not None:
                lines.append(raw)
        body = b"".join(line + b"\n" for line in lines)
        header = {
            "magic": MAGIC,
            "format": FORMAT,
            "fingerprint": code_fingerprint(),
            "digest": hashlib.blake2b(body, digest_size=16).hexdigest(),
            "length": len(body),
            "entries": len(lines),
            "written_at": int(time.time()),
        }
        try:
            self._ensure_dir()
            # mkstemp creates the file 0600 whatever the umask: no chmod needed.
            fd, tmp = tempfile.mkstemp(prefix=".summaries-", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(orjson.dumps(header) + b"\n")
                    fh.write(body)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            self.diagnostic = f"cache not written: {exc.strerror or exc} ({self.directory})"
            return False
        self.saved_at = time.monotonic()
        self._prune()
        return True

    def _ensure_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(self.directory)
        if st.st_uid != os.geteuid():
            raise PermissionError(errno.EPERM, "cache directory belongs to another user", str(self.directory))
        if st.st_mode & 0o077:
            os.chmod(self.directory, 0o700)

    def _prune(self) -> None:
        """Drop cache files of homes nobody opened for a month (e.g. old ``--home`` look-ups)."""
        cutoff = time.time() - STALE_SECONDS
        try:
            with os.scandir(self.directory) as it:
                for entry in it:
                    if entry.name.startswith("summaries-") and entry.path != str(self.path):
                        with contextlib.suppress(OSError):
                            if entry.stat().st_mtime < cutoff:
                                os.unlink(entry.path)
        except OSError:
            pass

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def encode_entry(e: CacheEntry) -> bytes | None:
    """The entry's cache line, or None when the summary cannot be written as JSON (it is then re-parsed)."""
    try:
        session = e.session.__pydantic_serializer__.to_json(e.session, exclude_computed_fields=True)
    except Exception:
        return None
    key = orjson.dumps([e.path, e.dev, e.ino, e.size, e.mtime_ns, e.file_key, e.offset, e.tail_fed])
    return b'{"k":' + key + b',"s":' + session + b"}"


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
