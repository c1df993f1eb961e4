"""Which files a shell command reads or writes, from its text alone.

Agents run most file work through a shell, so the files a session touched are
mostly hidden in command strings. A small quote-aware tokenizer (not shlex:
shlex cannot tell ``2>/dev/null`` from ``2 > /dev/null`` nor skip heredoc
bodies, and gives up on an unbalanced quote) splits a script into simple
commands with their redirections; a table of well-known commands turns those
into reads and writes. Anything unsure (globs, ``$VAR``, ``$(…)``, a ``cd``
we cannot follow) is left out: a missing path is better than a wrong one.

Nothing is ever executed or expanded: the command is data from an untrusted
transcript.
"""

from __future__ import annotations

import os
import posixpath

from .model import FileAccess, ToolPath

__all__ = ["resolve_path", "shell_paths", "shell_script"]


def resolve_path(path: str, base: str | None) -> str:
    """Absolute, normalized path when it can be resolved against ``base`` (cwd/workdir)."""
    path = path.strip()
    if path.startswith("file://"):
        path = path[len("file://") :]
    if path.startswith("~") or not path:
        return path
    if not posixpath.isabs(path) and not (os.name == "nt" and os.path.isabs(path)):
        if not base:
            return posixpath.normpath(path)
        path = posixpath.join(base, path)
    return posixpath.normpath(path)


#: A word after quote removal, and whether it is literal (no glob or expansion in it).
_Word = tuple[str, bool]

#: cwd marker after a ``cd`` we could not follow: relative paths are then unknown.
_LOST = "\x00lost"
_MAX_DEPTH = 4


class _Command:
    __slots__ = ("redirects", "words")

    def __init__(self) -> None:
        self.words: list[_Word] = []
        self.redirects: list[tuple[str, _Word]] = []


class _Lexer:
    """Splits a POSIX-ish shell script into simple commands and ``(``/``)`` markers."""

    def __init__(self, script: str) -> None:
        self.s = script
        self.items: list[_Command | str] = []
        self.cmd = _Command()
        self.word: list[str] = []
        self.in_word = False
        self.literal = True
        self.redirect: str | None = None
        self.heredocs: list[tuple[str, bool]] = []

    def run(self) -> list[_Command | str]:
        s, n, i = self.s, len(self.s), 0
        while i < n:
            c = s[i]
            if c in " \t\r":
                self.end_word()
                i += 1
            elif c == "\n":
                self.end_command()
                i = self.skip_heredocs(i + 1)
            elif c == "#" and not self.in_word:
                j = s.find("\n", i)
                i = n if j < 0 else j
            elif c == "\\":
                if s.startswith("\n", i + 1):
                    i += 2
                    continue
                self.add(s[i + 1 : i + 2])
                i += 2
            elif c == "'":
                j = s.find("'", i + 1)
                j = n if j < 0 else j  # unbalanced quote: the rest is the word
                self.add(s[i + 1 : j])
                i = j + 1
            elif c == '"':
                i = self.double_quoted(i + 1)
            elif c == "`":
                j = s.find("`", i + 1)
                j = n if j < 0 else j
                self.add(s[i : j + 1], literal=False)
                i = j + 1
            elif c == "$":
                i = self.dollar(i)
            elif c in "<>":
                i = self.redirection(i)
            elif c == "&" and s.startswith(">", i + 1):
                self.end_word()
                self.redirect = ">"
                i += 3 if s.startswith(">", i + 2) else 2
            elif c in "|&;()":
                self.end_command()
                if c in "()":
                    self.items.append(c)
                    i += 1
                else:
                    i += 2 if s[i + 1 : i + 2] in (c, "&") else 1
            else:
                self.add(c, literal=c not in "*?[{}")
                i += 1
        self.end_command()
        return self.items

    # -- pieces
    def add(self, text: str, literal: bool = True) -> None:
        self.word.append(text)
        self.in_word = True
        if not literal:
            self.literal = False

    def end_word(self) -> None:
        if not self.in_word:
            return
        word: _Word = ("".join(self.word), self.literal)
        self.word, self.in_word, self.literal = [], False, True
        op, self.redirect = self.redirect, None
        if op is None:
            self.cmd.words.append(word)
        elif op in ("<<", "<<-"):
            self.heredocs.append((word[0], op == "<<-"))
        elif op in (">&", "<&"):
            if not (word[0].isdigit() or word[0] == "-") and op == ">&":
                self.cmd.redirects.append((">", word))
        elif op != "<<<":
            self.cmd.redirects.append((op, word))

    def end_command(self) -> None:
        self.end_word()
        self.redirect = None
        if self.cmd.words or self.cmd.redirects:
            self.items.append(self.cmd)
        self.cmd = _Command()

    def double_quoted(self, i: int) -> int:
        s, n = self.s, len(self.s)
        self.in_word = True
        while i < n:
            c = s[i]
            if c == '"':
                return i + 1
            if c == "\\" and i + 1 < n and s[i + 1] in '"\\$`\n':
                if s[i + 1] != "\n":
                    self.word.append(s[i + 1])
                i += 2
                continue
            if c in "$`":
                self.literal = False
            self.word.append(c)
            i += 1
        return n

    def dollar(self, i: int) -> int:
        s, n = self.s, len(self.s)
        nxt = s[i + 1 : i + 2]
        if nxt not in ("(", "{"):
            self.add("$", literal=False)
            return i + 1
        close = ")" if nxt == "(" else "}"
        depth, j = 0, i + 1
        while j < n:
            c = s[j]
            if c == nxt:
                depth += 1
            elif c == close:
                depth -= 1
                if depth == 0:
                    break
            elif c in "'\"":
                k = s.find(c, j + 1)
                j = n if k < 0 else k
            j += 1
        self.add(s[i : j + 1], literal=False)
        return j + 1

    def redirection(self, i: int) -> int:
        s = self.s
        pending = "".join(self.word)
        if self.in_word and pending.isdigit() and self.literal:
            self.word, self.in_word = [], False  # ``2>``: the digits name a file descriptor
        else:
            self.end_word()
        for op in ("<<<", "<<-", "<<", "<&", "<>", ">>", ">|", ">&", "<", ">"):
            if s.startswith(op, i):
                self.redirect = {">|": ">", "<>": ">"}.get(op, op)
                return i + len(op)
        return i + 1  # unreachable: s[i] is < or >

    def skip_heredocs(self, i: int) -> int:
        s, n = self.s, len(self.s)
        for delim, strip_tabs in self.heredocs:
            while i < n:
                j = s.find("\n", i)
                j = n if j < 0 else j
                line = s[i:j]
                i = j + 1
                if (line.lstrip("\t") if strip_tabs else line) == delim:
                    break
        self.heredocs.clear()
        return min(i, n)


# Short options (letters) and long options (names) that take a separate value, per command.
_READ_OPTS: dict[str, tuple[str, frozenset[str]]] = {
    "cat": ("", frozenset()),
    "head": ("nc", frozenset({"lines", "bytes"})),
    "tail": ("ncs", frozenset({"lines", "bytes", "sleep-interval", "pid", "max-unchanged-stats"})),
    "less": ("bhjkoOpPtTxyz", frozenset()),
    "more": ("n", frozenset()),
    "bat": ("lHrm", frozenset({"language", "highlight-line", "line-range", "map-syntax", "style", "theme"})),
    "nl": ("bdfhilnsvw", frozenset()),
    "wc": ("", frozenset()),
}
_GREP_OPTS = (
    "efmABCdD",
    frozenset(
        {"regexp", "file", "max-count", "after-context", "before-context", "context", "include", "exclude"}
        | {"exclude-dir", "label", "devices", "directories", "binary-files"}
    ),
)
_RG_OPTS = (
    "efgtTmABCMjdEr",
    frozenset(
        {"regexp", "file", "glob", "iglob", "type", "type-not", "type-add", "type-clear", "max-count"}
        | {"after-context", "before-context", "context", "max-columns", "threads", "max-depth", "replace"}
        | {"encoding", "sort", "sortr", "pre", "pre-glob", "colors", "color", "max-filesize", "engine"}
        | {"path-separator", "context-separator", "field-match-separator", "ignore-file", "hyperlink-format"}
    ),
)
_WRAPPERS: dict[str, str] = {
    "sudo": "ugCDhprtU",
    "doas": "uC",
    "env": "uCS",
    "time": "fo",
    "nohup": "",
    "command": "",
    "builtin": "",
    "exec": "a",
    "nice": "n",
    "ionice": "cnp",
    "stdbuf": "ioe",
    "timeout": "sk",
}
_KEYWORDS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "!", "{", "}", "time"})
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "fish"})
_DOT_DIRS = frozenset(
    {".git", ".github", ".gitlab", ".vscode", ".idea", ".venv", ".cache", ".config", ".local", ".codex"}
    | {".claude", ".gemini", ".husky", ".circleci", ".devcontainer", ".next", ".nuxt", ".tox", ".cargo"}
    | {".mypy_cache", ".pytest_cache", ".ruff_cache"}
)
#: Extension-less names that are files, not directories (for grep/rg operands).
_PLAIN_FILES = frozenset(
    {"Makefile", "makefile", "GNUmakefile", "Dockerfile", "Containerfile", "LICENSE", "LICENCE", "COPYING"}
    | {"README", "CHANGELOG", "NOTICE", "AUTHORS", "CODEOWNERS", "Gemfile", "Rakefile", "Procfile"}
    | {"Justfile", "justfile", "Vagrantfile", "Jenkinsfile", "Brewfile", "Pipfile", "Caddyfile", "Tiltfile"}
)


def _operands(args: list[_Word], short_val: str, long_val: frozenset[str]) -> tuple[list[_Word], set[str]]:
    """Operands of a command line, and the option letters/names that were given."""
    out: list[_Word] = []
    seen: set[str] = set()
    i, opts_done = 0, False
    while i < len(args):
        text = args[i][0]
        if opts_done or text == "-" or not text.startswith("-"):
            out.append(args[i])
        elif text == "--":
            opts_done = True
        elif text.startswith("--"):
            name = text[2:].split("=", 1)[0]
            seen.add(name)
            if "=" not in text and name in long_val:
                i += 1
        elif not text[1:].isdigit():  # ``head -20``: a count, not options
            for k, ch in enumerate(text[1:], 1):
                seen.add(ch)
                if ch in short_val:
                    if k == len(text) - 1:
                        i += 1
                    break
        i += 1
    return out, seen


def _looks_like_file(path: str) -> bool:
    """For grep/rg operands, which are as often directories: guess from the name."""
    if path.endswith("/"):
        return False
    base = posixpath.basename(path)
    if base in ("", ".", ".."):
        return False
    if "." in base.lstrip("."):
        return True
    if base.startswith("."):
        return base not in _DOT_DIRS
    return base in _PLAIN_FILES


class _Paths:
    """Collects ToolPaths in first-seen order, once each."""

    def __init__(self) -> None:
        self.paths: list[ToolPath] = []
        self._seen: set[tuple[str, FileAccess, str | None]] = set()

    def add(self, word: _Word, access: FileAccess, cwd: str | None, previous: _Word | None = None) -> None:
        text, literal = word
        if not _usable(text, literal, cwd):
            return
        prev_path: str | None = None
        if previous is not None:
            if not _usable(previous[0], previous[1], cwd):
                return
            prev_path = resolve_path(previous[0], cwd)
        path = resolve_path(text, None if cwd == _LOST else cwd)
        key = (path, access, prev_path)
        if key not in self._seen:
            self._seen.add(key)
            self.paths.append(ToolPath(path=path, access=access, previous_path=prev_path))


def _is_dir_name(text: str) -> bool:
    """``dir/``, ``.``, ``..``, ``a/.``: names that can only be directories."""
    return text.endswith("/") or posixpath.basename(text) in (".", "..")


def _usable(text: str, literal: bool, cwd: str | None) -> bool:
    if not literal or not text.strip() or text == "-" or len(text) > 4096:
        return False
    if text.startswith(("/dev/", "/proc/")) or "\n" in text or "\x00" in text or _is_dir_name(text):
        return False
    return not (cwd == _LOST and not text.startswith(("/", "~")))


def shell_paths(command: str | list[str], cwd: str | None) -> list[ToolPath]:
    """Best-effort files a shell command reads or writes, as absolute paths.

    Reads: ``cat/head/tail/less/more/bat/nl/wc``, ``sed`` (``-i`` writes),
    ``grep/rg`` file operands, ``awk`` inputs, ``< file``. Writes: ``>``/``>>``
    redirections and ``tee``; ``touch`` creates, ``rm`` deletes, ``mv`` renames,
    ``cp`` reads its sources and writes its target. ``bash -lc "…"`` wrappers,
    ``&& ; | ||`` lists, subshells and ``cd`` are followed. ``command`` is a
    script string or an argv list (as Codex ``shell``/``local_shell_call`` give it).
    """
    out = _Paths()
    if isinstance(command, str):
        _scan_script(command, cwd, out, 0)
    elif isinstance(command, list):
        argv: list[_Word] = [(a, True) for a in command if isinstance(a, str)]
        _scan_command(argv, [], cwd, out, 0)
    return out.paths


def _scan_script(script: str, cwd: str | None, out: _Paths, depth: int) -> None:
    if depth > _MAX_DEPTH or not script.strip():
        return
    stack: list[str | None] = []
    for item in _Lexer(script).run():
        if item == "(":
            stack.append(cwd)
        elif item == ")":
            if stack:
                cwd = stack.pop()
        elif isinstance(item, _Command):
            cwd = _scan_command(item.words, item.redirects, cwd, out, depth)


def _scan_command(
    words: list[_Word], redirects: list[tuple[str, _Word]], cwd: str | None, out: _Paths, depth: int
) -> str | None:
    """Record one simple command's files; return the cwd for the commands after it."""
    for op, file in redirects:
        out.add(file, FileAccess.READ if op == "<" else FileAccess.WRITE, cwd)
    words = _strip_wrappers(words)
    if not words:
        return cwd
    name = posixpath.basename(words[0][0])
    args = words[1:]
    if name in ("cd", "pushd"):
        ops, _ = _operands(args, "", frozenset())
        if not ops:
            return cwd
        where, literal = ops[0]
        if not literal or where.startswith(("~", "-")):
            return _LOST
        if cwd == _LOST and not where.startswith("/"):
            return _LOST
        return resolve_path(where, cwd)
    if name in _SHELLS:
        _scan_shell(args, cwd, out, depth)
    elif name in _READ_OPTS:
        short_val, long_val = _READ_OPTS[name]
        for w in _operands(args, short_val, long_val)[0]:
            if not w[0].startswith("+"):
                out.add(w, FileAccess.READ, cwd)
    elif name in ("grep", "egrep", "fgrep", "rg"):
        short_val, long_val = _RG_OPTS if name == "rg" else _GREP_OPTS
        ops, seen = _operands(args, short_val, long_val)
        given = seen & {"e", "f", "regexp", "file", "files", "type-list"}
        for w in ops if given else ops[1:]:
            if _looks_like_file(w[0]):
                out.add(w, FileAccess.READ, cwd)
    elif name == "sed":
        _scan_sed(args, cwd, out)
    elif name in ("awk", "gawk", "mawk"):
        ops, seen = _operands(args, "fvF", frozenset({"file", "assign", "field-separator"}))
        for w in ops if seen & {"f", "file"} else ops[1:]:
            if "=" not in w[0]:
                out.add(w, FileAccess.READ, cwd)
    elif name == "tee":
        for w in _operands(args, "", frozenset())[0]:
            out.add(w, FileAccess.WRITE, cwd)
    elif name == "touch":
        for w in _operands(args, "dtr", frozenset({"date", "reference", "time"}))[0]:
            out.add(w, FileAccess.CREATE, cwd)
    elif name == "rm":
        for w in _operands(args, "", frozenset())[0]:
            out.add(w, FileAccess.DELETE, cwd)
    elif name in ("mv", "cp"):
        _scan_move_copy(name, args, cwd, out)
    elif name == "git":
        return _scan_git(args, cwd, out, depth)
    return cwd


def _strip_wrappers(words: list[_Word]) -> list[_Word]:
    """Drop ``VAR=x``, shell keywords and ``sudo``/``env``/``timeout``-like prefixes."""
    i = 0
    while i < len(words):
        text = words[i][0]
        head = text.split("=", 1)[0]
        if ("=" in text and head.isidentifier()) or text in _KEYWORDS:
            i += 1
        elif text in _WRAPPERS:
            i = _first_operand(words, i + 1, _WRAPPERS[text])
            if text == "timeout":
                i += 1  # the duration
        else:
            break
    return words[i:]


def _first_operand(words: list[_Word], i: int, short_val: str) -> int:
    """Index of the first operand at or after ``i`` (a wrapper's own options end there)."""
    while i < len(words):
        text = words[i][0]
        if text == "--":
            return i + 1
        if not text.startswith("-") or text == "-":
            return i
        if text[-1] in short_val and not text.startswith("--"):
            i += 1
        i += 1
    return i


def _scan_shell(args: list[_Word], cwd: str | None, out: _Paths, depth: int) -> None:
    i = _script_index([w[0] for w in args])
    if i is not None:
        _scan_script(args[i][0], cwd, out, depth + 1)
    # else ``bash script.sh`` runs a file: not a read we report


def shell_script(argv: list[str]) -> str | None:
    """The script of a ``bash -lc SCRIPT``-style argv (``sh -c``, ``zsh -ic``…), else None."""
    if not argv or posixpath.basename(argv[0]) not in _SHELLS:
        return None
    i = _script_index(argv[1:])
    return None if i is None else argv[1 + i]


def _script_index(args: list[str]) -> int | None:
    """Index of the ``-c`` script among a shell's arguments."""
    has_c = False
    i = 0
    while i < len(args):
        text = args[i]
        if text in ("-o", "-O", "+o", "+O"):
            i += 2
        elif text.startswith(("-", "+")) and text not in ("-", "--"):
            has_c = has_c or "c" in text[1:]
            i += 1
        else:
            return i if has_c else None
    return None


def _scan_sed(args: list[_Word], cwd: str | None, out: _Paths) -> None:
    in_place = False
    kept: list[_Word] = []
    for w in args:
        if w[0].startswith("-i") or w[0].startswith("--in-place"):
            in_place = True
        else:
            kept.append(w)
    ops, seen = _operands(kept, "efl", frozenset({"expression", "file", "line-length"}))
    files = ops if seen & {"e", "f", "expression", "file"} else ops[1:]
    for w in files:
        out.add(w, FileAccess.WRITE if in_place else FileAccess.READ, cwd)


def _scan_move_copy(name: str, args: list[_Word], cwd: str | None, out: _Paths) -> None:
    ops, seen = _operands(args, "tS", frozenset({"target-directory", "suffix"}))
    if name == "cp" and seen & {"r", "R", "a", "recursive", "archive"}:
        return  # directories
    target_dir: _Word | None = None
    if "t" in seen or "target-directory" in seen:
        target_dir = _option_value(args, "-t", "--target-directory")
        sources = ops
    elif len(ops) >= 2:
        sources, dest = ops[:-1], ops[-1]
        if len(sources) > 1 or _is_dir_name(dest[0]):
            target_dir = dest
        else:
            _move_or_copy(name, sources[0], dest, cwd, out)
            return
    else:
        return
    if target_dir is None:
        return
    for src in sources:
        dest = (posixpath.join(target_dir[0], posixpath.basename(src[0].rstrip("/"))), target_dir[1])
        _move_or_copy(name, src, dest, cwd, out)


def _move_or_copy(name: str, src: _Word, dest: _Word, cwd: str | None, out: _Paths) -> None:
    if name == "mv":
        out.add(dest, FileAccess.RENAME, cwd, previous=src)
    else:
        out.add(src, FileAccess.READ, cwd)
        out.add(dest, FileAccess.WRITE, cwd)


def _option_value(args: list[_Word], short: str, long: str) -> _Word | None:
    for i, (text, literal) in enumerate(args):
        if text in (short, long):
            return args[i + 1] if i + 1 < len(args) else None
        if text.startswith(long + "="):
            return (text[len(long) + 1 :], literal)
        if text.startswith(short) and len(text) > len(short) and not text.startswith("--"):
            return (text[len(short) :], literal)
    return None


def _scan_git(args: list[_Word], cwd: str | None, out: _Paths, depth: int) -> str | None:
    """``git mv``/``git rm`` (after ``-C dir``); other subcommands touch no files we report."""
    i = 0
    run_cwd = cwd
    while i < len(args) and args[i][0].startswith("-"):
        if args[i][0] == "-C" and i + 1 < len(args):
            target, literal = args[i + 1]
            run_cwd = resolve_path(target, cwd) if literal and cwd != _LOST else _LOST
            i += 2
        elif args[i][0] in ("-c", "--git-dir", "--work-tree", "--namespace"):
            i += 2
        else:
            i += 1
    if i < len(args) and args[i][0] in ("mv", "rm"):
        _scan_command([(args[i][0], True), *args[i + 1 :]], [], run_cwd, out, depth)
    return cwd
