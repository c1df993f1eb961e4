"""The session index: one session per ``(agent, id)``, subagent usage rolled up, kept sorted.

Split from the store because it is a job of its own: it turns per-file
summaries into the list a user sees, and a refresh that touched one file must
cost that file (its session and its parent), not a pass over the history.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Union

from .model import AgentSession, AgentType, TokenUsage

if TYPE_CHECKING:
    from .cache import CacheEntry

__all__ = ["SessionIndex"]

_Key = tuple[AgentType, str]
#: A summary model, or a cache entry standing in for one (a one-shot listing builds no
#: model it does not need): both answer what the index asks, and a roll-up of a parent
#: (``model_copy``) is a model either way.
_Snap = Union[AgentSession, "CacheEntry"]


class SessionIndex:
    """One session per ``(agent, id)`` with subagent usage rolled up, updated per changed file.

    A refresh that touched one file costs the index that file, its session
    and its parent, not a pass over the whole history. Several files may hold
    one session id (a Gemini ``.jsonl`` beside its legacy ``.json``, a copy in
    an old project folder): the one with the highest discovery priority, then
    the latest activity, then the smallest path wins.
    """

    def __init__(self) -> None:
        self._candidates: dict[_Key, dict[str, tuple[tuple[int, int], _Snap]]] = {}
        self._key_of: dict[str, _Key] = {}
        self._winner: dict[_Key, _Snap] = {}
        self._children: dict[_Key, set[_Key]] = {}
        self._parent_of: dict[_Key, _Key] = {}
        self._final: dict[_Key, _Snap] = {}
        #: ``(sort key, key)`` of every final session, kept sorted (most recent first).
        self._order: list[tuple[tuple[int, str, str], _Key]] = []
        self._sort_key: dict[_Key, tuple[int, str, str]] = {}
        self._ordered: list[_Snap] | None = None
        #: Filling an empty index at once (``put_many``): the order is sorted once at the end.
        self._bulk = False

    def put(self, path: str, priority: int, snap: _Snap) -> None:
        key = (snap.agent_type, snap.session_id)
        self.drop(path, settle=key != self._key_of.get(path))
        self._candidates.setdefault(key, {})[path] = ((priority, snap.last_activity_ms or 0), snap)
        self._key_of[path] = key
        self._settle(key)

    def put_many(self, items: list[tuple[str, int, _Snap]]) -> None:
        """``put`` for each of ``(path, priority, snapshot)``; on an empty index, in one pass.

        A start from the cache hands over every session at once: settling each
        key once and sorting once at the end avoids inserting 50,000 times into
        a sorted list (each insert shifts half of it).
        """
        if self._key_of or len(items) < 256:
            for path, priority, snap in items:
                self.put(path, priority, snap)
            return
        candidates = self._candidates
        key_of = self._key_of
        for path, priority, snap in items:
            key = (snap.agent_type, snap.session_id)
            group = candidates.get(key)
            if group is None:
                group = candidates[key] = {}
            group[path] = ((priority, snap.last_activity_ms or 0), snap)
            key_of[path] = key
        # Winners and parent links first, then each roll-up once with all its children
        # known: settling key by key redid a parent's roll-up for every child.
        winner = self._winner
        parent_of = self._parent_of
        children = self._children
        for key, group in candidates.items():
            if len(group) == 1:
                best = next(iter(group.values()))[1]
            else:
                best = min(group.items(), key=lambda kv: (-kv[1][0][0], -kv[1][0][1], kv[0]))[1][1]
            winner[key] = best
            parent_id = best.parent_session_id
            if parent_id:
                parent = (key[0], parent_id)
                parent_of[key] = parent
                kids = children.get(parent)
                if kids is None:
                    children[parent] = {key}
                else:
                    kids.add(key)
        # A session without children is its own final form: set here directly (most of
        # them; a call per session was most of filling the index from a cache).
        final = self._final
        sort_key = self._sort_key
        self._bulk = True
        try:
            for key, s in winner.items():
                if key in children:
                    self._roll_up(key)
                else:
                    final[key] = s
                    sort_key[key] = (-(s.last_activity_ms or 0), key[0].value, key[1])
        finally:
            self._bulk = False
        self._order = sorted((sk, key) for key, sk in sort_key.items())
        self._ordered = None

    def drop(self, path: str, *, settle: bool = True) -> None:
        key = self._key_of.pop(path, None)
        if key is None:
            return
        group = self._candidates.get(key)
        if group is not None:
            group.pop(path, None)
            if not group:
                del self._candidates[key]
        if settle:
            self._settle(key)

    def _settle(self, key: _Key) -> None:
        """Pick the key's winner again and redo the roll-ups it takes part in."""
        group = self._candidates.get(key)
        old_parent = self._parent_of.pop(key, None)
        if old_parent is not None:
            kids = self._children.get(old_parent)
            if kids is not None:
                kids.discard(key)
                if not kids:
                    del self._children[old_parent]
        if not group:
            self._winner.pop(key, None)
            self._set_final(key, None)
        else:
            best = min(group.items(), key=lambda kv: (-kv[1][0][0], -kv[1][0][1], kv[0]))[1][1]
            self._winner[key] = best
            if best.parent_session_id:
                parent = (best.agent_type, best.parent_session_id)
                self._parent_of[key] = parent
                self._children.setdefault(parent, set()).add(key)
            self._roll_up(key)
        for affected in {old_parent, self._parent_of.get(key)}:
            if affected is not None and affected in self._winner:
                self._roll_up(affected)
        self._ordered = None

    def _roll_up(self, key: _Key) -> None:
        s = self._winner[key]
        kids = [self._winner[k] for k in self._children.get(key, ()) if k in self._winner]
        if kids:
            rolled = TokenUsage()
            for k in kids:
                rolled.add(k.usage)
            s = s.model_copy(
                update={"subagent_usage": rolled, "subagent_ids": sorted(k.session_id for k in kids)}
            )
        self._set_final(key, s)

    def _set_final(self, key: _Key, s: _Snap | None) -> None:
        old = self._sort_key.pop(key, None)
        if old is not None and not self._bulk:
            i = bisect.bisect_left(self._order, (old, key))
            if i < len(self._order) and self._order[i] == (old, key):
                del self._order[i]
        if s is None:
            self._final.pop(key, None)
            return
        self._final[key] = s
        # Most recently active first; ties by agent, then id, so the order never flickers.
        sk = (-(s.last_activity_ms or 0), s.agent_type.value, s.session_id)
        self._sort_key[key] = sk
        if not self._bulk:
            bisect.insort(self._order, (sk, key))

    def ordered(self) -> list[_Snap]:
        if self._ordered is None:
            final = self._final
            self._ordered = [final[k] for _, k in self._order]
        return self._ordered
