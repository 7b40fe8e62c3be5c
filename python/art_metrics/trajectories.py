"""`Trajectory` and `TrajectoryGroup`: light stand-ins with openpipe-art's constructor shapes.

`Model.log` reads only a few attributes (``reward``, ``metrics``, ``metadata`` of a trajectory;
``trajectories``, ``exceptions``, ``metadata``, ``metrics`` of a group), so openpipe-art's own
pydantic objects are accepted just as well.

>>> group = TrajectoryGroup([Trajectory(reward=1.0), Trajectory(reward=0.0), RuntimeError("x")])
>>> len(group.trajectories), len(group.exceptions)
(2, 1)
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any


class Trajectory:
    """One rollout: its messages, reward, numeric metrics and metadata (``scenario_id``, ...).

    Its fields are ``__slots__`` (``Model.log`` reads a batch's rewards and metrics at their
    offsets); extra keyword arguments become attributes too, kept in the instance
    ``__dict__`` (so ``vars(trajectory)`` holds only those).
    """

    __slots__ = (
        "messages_and_choices",
        "reward",
        "metrics",
        "metadata",
        "tools",
        "logs",
        "__dict__",
        "__weakref__",
    )

    def __init__(
        self,
        *,
        messages_and_choices: Iterable[Any] = (),
        reward: float = 0.0,
        metrics: dict[str, float | int | bool] | None = None,
        metadata: dict[str, Any] | None = None,
        tools: list[Any] | None = None,
        logs: list[str] | None = None,
        **extra: Any,
    ) -> None:
        self.messages_and_choices = list(messages_and_choices)
        self.reward = reward
        self.metrics = dict(metrics or {})
        self.metadata = dict(metadata or {})
        self.tools = tools
        self.logs = list(logs or [])
        for key, value in extra.items():
            setattr(self, key, value)

    def messages(self) -> list[Any]:
        """The messages, with chat-completion choices turned into assistant messages."""
        out = []
        for item in self.messages_and_choices:
            message = getattr(item, "message", None)
            if message is not None:
                out.append({"role": "assistant", "content": getattr(message, "content", "") or ""})
            else:
                out.append(item)
        return out

    def __repr__(self) -> str:
        return f"Trajectory(reward={self.reward}, metrics={self.metrics}, metadata={self.metadata})"


class TrajectoryGroup:
    """Trajectories for one scenario; exceptions among ``trajectories`` are set aside.

    Iterating a group yields its trajectories, as in openpipe-art.
    """

    __slots__ = (
        "trajectories",
        "exceptions",
        "metadata",
        "metrics",
        "logs",
        "__dict__",
        "__weakref__",
    )

    def __init__(
        self,
        trajectories: Iterable[Any] = (),
        *,
        exceptions: Iterable[BaseException] = (),
        metadata: dict[str, Any] | None = None,
        metrics: dict[str, float | int | bool] | None = None,
        logs: list[str] | None = None,
    ) -> None:
        items = list(trajectories)
        self.trajectories = [t for t in items if not isinstance(t, BaseException)]
        self.exceptions = [e for e in items if isinstance(e, BaseException)] + list(exceptions)
        self.metadata = dict(metadata or {})
        self.metrics = dict(metrics or {})
        self.logs = list(logs or [])

    def __iter__(self) -> Iterator[Any]:
        return iter(self.trajectories)

    def __len__(self) -> int:
        return len(self.trajectories)

    def __repr__(self) -> str:
        return (
            f"TrajectoryGroup({len(self.trajectories)} trajectories, "
            f"{len(self.exceptions)} exceptions, metrics={self.metrics})"
        )


def is_trajectory_group(obj: Any) -> bool:
    """Ours or openpipe-art's (or anything shaped like one)."""
    return isinstance(obj, TrajectoryGroup) or (
        not isinstance(obj, BaseException)
        and hasattr(obj, "trajectories")
        and hasattr(obj, "exceptions")
    )


def is_trajectory(obj: Any) -> bool:
    """Ours or openpipe-art's (or anything with a reward and messages)."""
    return isinstance(obj, Trajectory) or (
        hasattr(obj, "reward") and hasattr(obj, "messages_and_choices")
    )


def _group_types() -> set[type]:
    """The classes whose every instance is a group: ours and, once openpipe-art is imported
    (never imported from here), its own ``TrajectoryGroup``."""
    types: set[type] = {TrajectoryGroup}
    art_group = getattr(sys.modules.get("art.trajectories"), "TrajectoryGroup", None)
    if isinstance(art_group, type):
        types.add(art_group)
    return types


def normalize_groups(trajectories: Any) -> list[Any]:
    """Groups as `Model.log` takes them: groups, or trajectories and exceptions forming one.

    Unlike openpipe-art, a single group passed on its own is kept whole (the reference
    iterates it and so loses its exceptions, metadata and metrics).
    """
    if is_trajectory_group(trajectories):
        return [trajectories]
    items = list(trajectories)
    if not items:
        return []
    # A batch of our own or openpipe-art's groups, told apart by their exact classes without
    # a Python call per group (openpipe-art's cost 0.13 ms a batch of 256 after a GC).
    if set(map(type, items)) <= _group_types() or all(map(is_trajectory_group, items)):
        return items
    if all(isinstance(item, BaseException) or is_trajectory(item) for item in items):
        return [TrajectoryGroup(items)]
    raise TypeError(
        "trajectories must be an iterable of TrajectoryGroup objects or "
        "an iterable of Trajectory/BaseException items"
    )
