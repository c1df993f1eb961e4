"""Install the real CLIs (once per version, into a cache folder) and run them offline.

Why a cache of our own: the tier must not install anything globally, and a
second run must not pay for the install again. Every run gets a throwaway
HOME (so the real ~/.claude, ~/.codex, ~/.gemini are never touched), a minimal
environment (no API key or proxy of the developer leaks in), the model server
on 127.0.0.1 as its only endpoint, telemetry and update checks off, and
HTTP(S)_PROXY pointing at a closed loopback port so any request that would
leave the machine fails instead of leaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSIONS_FILE = HERE / "versions.json"
AGENTS = ("claude", "codex", "gemini")
#: A loopback port nothing listens on: a proxy that refuses every connection.
DEAD_PROXY = "http://127.0.0.1:9"
API_KEY = "sk-realcli-local-0000000000000000000000"
INSTALL_TIMEOUT = 300


class CliUnavailable(Exception):
    """The CLI cannot be installed here (no node/npm, no registry access): a skip reason."""


def cache_root() -> Path:
    env = os.environ.get("AGENTSESSION_REALCLI_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "agentsession-realcli"


def pinned() -> dict[str, tuple[str, str]]:
    """agent → (npm package, pinned version) from versions.json."""
    data = json.loads(VERSIONS_FILE.read_text())
    return {a: (data[a]["package"], data[a]["version"]) for a in AGENTS}


def wanted_versions() -> dict[str, tuple[str, str]]:
    """The versions this run tests: pinned, or the newest on npm with ``…VERSIONS=latest``."""
    pins = pinned()
    if os.environ.get("AGENTSESSION_REALCLI_VERSIONS", "pinned").strip().lower() != "latest":
        return pins
    out = {}
    for agent, (pkg, _) in pins.items():
        out[agent] = (pkg, npm_latest(pkg))
    return out


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise CliUnavailable("node/npm not found on PATH: the real-CLI tier needs Node.js and npm")
    return npm


def npm_latest(pkg: str) -> str:
    npm = _npm()
    try:
        out = subprocess.run(
            [npm, "view", pkg, "version"], capture_output=True, text=True, timeout=60, check=True
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise CliUnavailable(f"`npm view {pkg} version` failed (no registry access?): {exc}") from exc
    return out.stdout.strip()


@dataclass(frozen=True)
class Cli:
    agent: str
    package: str
    version: str
    prefix: Path

    @property
    def bin(self) -> Path:
        return self.prefix / "node_modules" / ".bin" / self.agent


def install(agent: str, package: str, version: str) -> Cli:
    """``npm install --prefix <cache>/<agent>-<version> package@version``, once.

    Installed into a temporary folder and renamed when complete, under a file
    lock, so an interrupted or concurrent install never leaves a half folder
    that later runs would trust.
    """
    npm = _npm()  # node is needed to run the CLIs too, not only to install them
    root = cache_root()
    prefix = root / f"{agent}-{version}"
    cli = Cli(agent, package, version, prefix)
    if cli.bin.exists():
        return cli
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cli.bin.exists():
            return cli
        tmp = root / f".{agent}-{version}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            proc = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(tmp),
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    f"{package}@{version}",
                ],
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CliUnavailable(f"npm install {package}@{version} timed out (no registry access?)") from exc
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CliUnavailable(
                f"npm install {package}@{version} failed (no registry access?): {proc.stderr.strip()[-400:]}"
            )
        shutil.rmtree(prefix, ignore_errors=True)
        tmp.rename(prefix)
    if not cli.bin.exists():
        raise CliUnavailable(f"{package}@{version} installed but {cli.bin} is missing")
    return cli


# --------------------------------------------------------------------------- sandboxes
@dataclass
class Sandbox:
    """A throwaway HOME and project folder for one scenario; ``env`` for the CLI."""

    root: Path
    home: Path
    project: Path
    base_url: str

    @classmethod
    def create(cls, root: Path, base_url: str, project_name: str = "proj") -> Sandbox:
        home = root / "home"
        project = root / project_name
        tmp = root / "tmp"
        for d in (home, project, tmp):
            d.mkdir(parents=True, exist_ok=True)
        return cls(root, home, project.resolve(), base_url)

    def base_env(self) -> dict[str, str]:
        env = {
            "HOME": str(self.home),
            "USER": os.environ.get("USER", "dev"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "NO_COLOR": "1",
            "TMPDIR": str(self.root / "tmp"),
            "HTTP_PROXY": DEAD_PROXY,
            "HTTPS_PROXY": DEAD_PROXY,
            "http_proxy": DEAD_PROXY,
            "https_proxy": DEAD_PROXY,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        return env


def claude_setup(sb: Sandbox) -> dict[str, str]:
    """Env and ~/.claude.json for Claude Code against the local server."""
    cfg = {
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
        "projects": {str(sb.project): {"hasTrustDialogAccepted": True}},
    }
    (sb.home / ".claude.json").write_text(json.dumps(cfg))
    return {
        **sb.base_env(),
        "ANTHROPIC_BASE_URL": sb.base_url,
        "ANTHROPIC_API_KEY": API_KEY,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def codex_setup(sb: Sandbox, model: str, extra: str = "") -> dict[str, str]:
    """Env and ~/.codex/config.toml for Codex against the local server."""
    codex_home = sb.home / ".codex"
    codex_home.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'model = "{model}"\n'
        'model_provider = "mock"\n'
        'approval_policy = "never"\n'
        'sandbox_mode = "danger-full-access"\n'
        "check_for_update_on_startup = false\n"
        f"{extra}"
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f'base_url = "{sb.base_url}/v1"\n'
        'env_key = "REALCLI_MOCK_KEY"\n'
        'wire_api = "responses"\n'
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
        "supports_websockets = false\n"
        "[analytics]\nenabled = false\n"
        '[otel]\nexporter = "none"\n'
        f'[projects."{sb.project}"]\ntrust_level = "trusted"\n'
    )
    return {**sb.base_env(), "CODEX_HOME": str(codex_home), "REALCLI_MOCK_KEY": API_KEY}


def gemini_setup(sb: Sandbox) -> dict[str, str]:
    """Env and ~/.gemini settings for Gemini CLI against the local server."""
    gem = sb.home / ".gemini"
    gem.mkdir(exist_ok=True)
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    }
    (gem / "settings.json").write_text(json.dumps(settings))
    (gem / "trustedFolders.json").write_text(json.dumps({str(sb.project): "TRUST_FOLDER"}))
    return {
        **sb.base_env(),
        "GEMINI_API_KEY": API_KEY,
        "GOOGLE_GEMINI_BASE_URL": sb.base_url,
    }


# --------------------------------------------------------------------------- running
@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def check(self) -> Run:
        if self.returncode != 0:
            raise AssertionError(
                f"{self.args[:3]} exited {self.returncode}\nstdout: {self.stdout[-2000:]}\n"
                f"stderr: {self.stderr[-2000:]}"
            )
        return self


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> Run:
    start = time.monotonic()
    proc = subprocess.run(
        args, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    return Run(args, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """Start a CLI in its own process group; kill exactly that group afterwards."""
    proc = subprocess.Popen(
        args,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=10)


def claude_args(cli: Cli, prompt: str, *extra: str) -> list[str]:
    return [
        str(cli.bin),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--allowedTools",
        "Bash,Read,Write,Edit,Agent",
        *extra,
    ]


def codex_args(cli: Cli, prompt: str, *extra: str, resume: str | None = None) -> list[str]:
    base = [str(cli.bin), "exec", "--json", "--skip-git-repo-check", *extra]
    if resume is not None:
        return [*base, "resume", resume, prompt]
    return [*base, prompt]


def gemini_args(cli: Cli, prompt: str, *extra: str) -> list[str]:
    return [str(cli.bin), "-p", prompt, "--approval-mode", "yolo", "-o", "json", *extra]
