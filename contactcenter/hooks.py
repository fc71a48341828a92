"""The one ordered chain of services that react to committed contact events.

After the ACD has committed an engine step, it tells each event to the hooks in the
order the composition root (app.py) registered them; a hook returning True carries the
contact itself (a web chat, a call going on to the survey, a call transferred out), so
the ACD does not tell the gateway to bridge or hang it up. Every hook sees every event,
whatever an earlier one answered: the order matters only where two hooks would act on
the same event, and it is written once, in the root.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from routing.events import Event

ContactHook = Callable[[Event], bool]
"""Told a committed contact event; True: this service carries the contact on."""


@dataclass(frozen=True, slots=True)
class NamedHook:
    name: str
    hook: ContactHook


class CommittedHooks:
    def __init__(self) -> None:
        self._chain: list[NamedHook] = []

    def register(self, name: str, hook: ContactHook) -> None:
        """Add ``hook`` at the end of the chain (names are for logs and tests)."""
        if any(h.name == name for h in self._chain):
            raise ValueError(f"a hook named {name!r} is registered already")
        self._chain.append(NamedHook(name, hook))

    @property
    def names(self) -> Sequence[str]:
        return tuple(h.name for h in self._chain)

    def run(self, event: Event) -> bool:
        """Tell every hook, in order; whether any of them carries the contact."""
        carried = False
        for named in self._chain:
            carried = named.hook(event) or carried
        return carried
