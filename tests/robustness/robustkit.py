"""Shared pieces of the robustness suite: generated homes, exact expectations, denials.

Every case writes *bystander* sessions of all four formats (Claude, Codex,
Gemini ``.jsonl`` and legacy ``.json``) next to the file it breaks, so each
test also proves that one bad file never costs another session anything.
Expected numbers always come from the synthetic writers' ``expected()``.
"""

from __future__ import annotations

import builtins
import importlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agent_session import AgentHomes, AgentSession, SessionStore, TokenUsage
from agent_session.synthetic import SynthSpec
from agent_session.synthetic import gemini as synth_gemini

START_MS = 1_795_000_000_000
MODELS = {
    "claude": ("claude-sonnet-4-5",),
    "codex": ("gpt-5", "gpt-5-codex"),
    "gemini": ("gemini-2.5-pro",),
    "legacy": ("gemini-2.5-flash",),
}
_ID_SHAPES = {
    "claude": "c1a0{n:04d}-1111-4222-8333-444455556666",
    "codex": "0199{n:04d}-aaaa-7bbb-8ccc-ddddeeeeffff",
    "gemini": "9e9e{n:04d}-1234-4567-89ab-cdef01234567",
    "legacy": "1e9a{n:04d}-1234-4567-89ab-cdef01234567",
}
#: The four formats; ``legacy`` is Gemini's rewritten-whole ``.json``.
FORMATS = ("claude", "codex", "gemini", "legacy")


def synth(fmt: str) -> ModuleType:
    return importlib.import_module(f"agent_session.synthetic.{'gemini' if fmt == 'legacy' else fmt}")


def make_spec(fmt: str, n: int, **kw: Any) -> SynthSpec:
    extra: dict[str, object] = {"legacy": True} if fmt == "legacy" else {}
    extra.update(kw.pop("extra", {}))
    base: dict[str, Any] = dict(
        session_id=_ID_SHAPES[fmt].format(n=n),
        cwd=f"/home/dev/src/{fmt}{n}",
        start_ms=START_MS + n * 3_600_000,
        models=MODELS[fmt],
        turns=2,
        tools_per_turn=2,
        output_bytes=120,
        seed=n,
        extra=extra,
    )
    base.update(kw)
    return SynthSpec(**base)


def expected_usage(fmt: str, spec: SynthSpec) -> dict[str, tuple[int, ...]]:
    return {m: u.as_tuple() for m, u in synth(fmt).expected(spec).items() if not u.is_zero()}


def usage_of(s: AgentSession) -> dict[str, tuple[int, ...]]:
    return {m: u.as_tuple() for m, u in s.model_usage.items() if not u.is_zero()}


def plus(usage: dict[str, tuple[int, ...]], model: str, add: TokenUsage) -> dict[str, tuple[int, ...]]:
    out = dict(usage)
    base = TokenUsage.from_tuple(out.get(model, (0, 0, 0, 0, 0)))  # type: ignore[arg-type]
    base.add(add)
    out[model] = base.as_tuple()
    return out


def diag_text(s: AgentSession) -> str:
    """Everything the diagnostics say, as one searchable string."""
    d = s.diagnostics
    parts = [
        *d.skipped_by_reason,
        *d.unknown_types,
        *getattr(d, "bad_values", {}),
        d.last_error or "",
    ]
    return " | ".join(parts)


@dataclass
class Bystanders:
    """Valid sessions of every format that each case must leave exactly as they are."""

    specs: dict[str, SynthSpec]
    paths: dict[str, Path]

    def check(self, store: SessionStore) -> None:
        by_id = {s.session_id: s for s in store.sessions()}
        for fmt, spec in self.specs.items():
            s = by_id.get(spec.session_id)
            assert s is not None, f"bystander {fmt} session lost"
            assert usage_of(s) == expected_usage(fmt, spec), f"bystander {fmt} usage changed"
            assert not s.diagnostics.has_problems, f"bystander {fmt}: {diag_text(s)}"
            assert str(self.paths[fmt]) not in store.errors


def write_bystanders(home: Path) -> Bystanders:
    # Dated days before the targets (their ids alone say 900+): times more than a day
    # past the clock are junk by design, and 900 hours after START_MS is not yet past.
    specs = {
        fmt: make_spec(fmt, 900 + i, start_ms=START_MS - (4 - i) * 86_400_000)
        for i, fmt in enumerate(FORMATS)
    }
    paths = {fmt: synth(fmt).write_session(home, spec) for fmt, spec in specs.items()}
    return Bystanders(specs, paths)


@pytest.fixture
def bystanders(home: Path) -> Bystanders:
    return write_bystanders(home)


def make_store(home: Path, **kw: Any) -> SessionStore:
    """A store on ``home`` parsing in this process, without the persistent cache."""
    kw.setdefault("workers", 0)
    try:
        return SessionStore(AgentHomes.resolve(home), **kw)
    except TypeError:  # a store without the worker/cache options
        return SessionStore(AgentHomes.resolve(home))


def cold(home: Path) -> SessionStore:
    store = make_store(home)
    store.refresh()
    return store


def session_by_path(store: SessionStore, path: Path) -> AgentSession | None:
    for s in store.sessions():
        if s.path == str(path):
            return s
    return None


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))
    return path


def gemini_legacy_path(home: Path, spec: SynthSpec) -> Path:
    return synth_gemini.session_path(home, spec)


# ------------------------------------------------------------------ denials
@dataclass
class Denier:
    """Makes paths unreadable without chmod (the suite runs as root)."""

    monkeypatch: pytest.MonkeyPatch
    denied: list[str]

    def deny(self, path: Path) -> None:
        self.denied.append(str(path))

    def blocked(self, target: Any) -> bool:
        if isinstance(target, int):
            return False
        try:
            p = os.fsdecode(os.fspath(target))
        except TypeError:
            return False
        return any(p == d or p.startswith(d.rstrip("/") + "/") for d in self.denied)


@pytest.fixture
def denier(monkeypatch: pytest.MonkeyPatch) -> Iterator[Denier]:
    """``deny(path)``: opening, listing or reading ``path`` (and below) raises PermissionError."""
    d = Denier(monkeypatch, [])
    real_open, real_os_open, real_scandir = builtins.open, os.open, os.scandir

    def err(target: Any) -> PermissionError:
        return PermissionError(13, "Permission denied", os.fsdecode(os.fspath(target)))

    def fake_open(file: Any, *a: Any, **k: Any) -> Any:
        if d.blocked(file):
            raise err(file)
        return real_open(file, *a, **k)

    def fake_os_open(path: Any, *a: Any, **k: Any) -> int:
        if d.blocked(path):
            raise err(path)
        return real_os_open(path, *a, **k)

    def fake_scandir(path: Any = ".") -> Any:
        if d.blocked(path):
            raise err(path)
        return real_scandir(path)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    yield d


root_only_skip: Callable[[], None] = lambda: (  # noqa: E731
    pytest.skip("running as root: permission bits do not stop root") if os.geteuid() == 0 else None
)
