"""The IVR interpreter: one ``Session`` per contact, driven by the server.

Sans-I/O: every call takes ``now`` (POSIX seconds) and returns the next ``Action``; the
events of the step wait in ``take_events()``. The session runs nodes that need nothing from
the caller (say, play, branch, set, sub-tree, return) at once, collecting their prompts,
and stops at the first node that must wait (an input node or a look-up) or that ends the
session. A refused call raises a ``SessionError`` and changes nothing.

Why it always ends: the loader refuses loops that take no input (so the nodes run between
two waits are finitely many) and the session lets a caller answer at most the tree's
``max_inputs`` prompts; ``_MAX_AUTO_STEPS`` is only a second line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ivr import events as ev
from ivr.actions import (
    Action,
    Callback,
    Choice,
    Gather,
    Hangup,
    Lookup,
    Play,
    Prompt,
    Queue,
    Say,
    Terminal,
    Transfer,
    Voicemail,
)
from ivr.conditions import Scope
from ivr.errors import NotWaiting, SessionEnded, StaleTimeout
from ivr.loader import InputSettings, Tree
from ivr.model import (
    BranchNode,
    CallbackNode,
    Channel,
    CollectNode,
    HangupNode,
    LookupNode,
    MenuNode,
    MenuOption,
    Node,
    PlayNode,
    QueueNode,
    ReturnNode,
    SayNode,
    Scalar,
    SetNode,
    SubtreeNode,
    SurveyNode,
    TransferNode,
    VoicemailNode,
)

_MAX_AUTO_STEPS = 10_000
_LOGGED_CHARS = 200
_WORD = re.compile(r"[^\w]+")
_YES = frozenset({"1", "yes", "y", "yeah", "yep", "resolved", "true"})
_NO = frozenset({"2", "no", "n", "nope", "not", "false", "unresolved"})

State = Literal["new", "input", "lookup", "ended"]


@dataclass(slots=True)
class _Frame:
    tree: Tree
    resume: str | None
    """Where the calling tree goes on when this sub-tree returns (None for the entry)."""


def _normalise(text: str) -> str:
    return " ".join(_WORD.sub(" ", text.casefold()).split())


class Session:
    """The IVR conversation of one contact."""

    def __init__(
        self,
        tree: Tree,
        *,
        contact_id: str = "",
        channel: Channel = "voice",
        ani: str | None = None,
        dnis: str | None = None,
        variables: Mapping[str, Scalar] | None = None,
        customer: Mapping[str, Any] | None = None,
    ) -> None:
        if channel not in tree.channels:
            raise ValueError(f"tree {tree.id!r} does not serve channel {channel!r}")
        self.contact_id = contact_id
        self.channel: Channel = channel
        self.ani = ani
        self.dnis = dnis
        self.variables: dict[str, Scalar] = dict(variables or {})
        self.customer: dict[str, Any] | None = dict(customer) if customer else None
        self.sensitive: set[str] = set()
        self.path: list[str] = []
        self.state: State = "new"
        self.inputs = 0
        self.result: Terminal | None = None
        self._frames = [_Frame(tree, None)]
        self._node_id = tree.model.start
        self._attempt = 1
        self._survey_step = 0
        self._survey: dict[str, Any] = {}
        self._prompt_id = 0
        self._events: list[ev.IvrEvent] = []
        self._waiting: Action | None = None

    # --- public API ----------------------------------------------------------------------

    @property
    def tree(self) -> Tree:
        """The tree the session is in now (a sub-tree while inside one)."""
        return self._frames[-1].tree

    @property
    def node_id(self) -> str:
        return self._qualified(self._node_id)

    @property
    def waiting(self) -> Action | None:
        """The Gather or Lookup the session waits on (None when new or ended)."""
        return self._waiting

    def take_events(self) -> list[ev.IvrEvent]:
        """The events since the last call, oldest first (for the event log)."""
        out, self._events = self._events, []
        return out

    def start(self, now: float) -> Action:
        if self.state != "new":
            raise NotWaiting(f"session already started (state {self.state})")
        root = self._frames[0].tree
        self._emit(ev.Started, now, node=root.model.start, tree=root.id, channel=self.channel)
        return self._run(now, root.model.start, [])

    def input(self, text: str, now: float) -> Action:
        """The caller's DTMF digits (voice) or message (chat) for the waiting prompt."""
        self._expect("input")
        node = self._current()
        masked = isinstance(node, CollectNode) and node.sensitive
        # chat text can be long; the log keeps enough to see what was said
        shown = ev.MASK if masked else text[:_LOGGED_CHARS]
        self._emit(ev.InputReceived, now, value=shown)
        limit = self._count_input(now)
        if limit is not None:
            return limit
        if isinstance(node, MenuNode):
            return self._menu(node, text, now)
        if isinstance(node, CollectNode):
            return self._collect(node, text, now)
        assert isinstance(node, SurveyNode)
        return self._survey_answer(node, text, now)

    def timeout(self, now: float, prompt_id: int | None = None) -> Action:
        """No answer came in time (or the look-up took too long)."""
        if self.state != "lookup":
            self._expect("input")
        if prompt_id is not None and prompt_id != self._prompt_id:
            raise StaleTimeout(f"timer of step {prompt_id}; step {self._prompt_id} waits")
        if self.state == "lookup":
            return self.lookup_result(None, now, timed_out=True)
        self._emit(ev.NoInput, now, attempt=self._attempt)
        limit = self._count_input(now)
        if limit is not None:
            return limit
        return self._failed(now, self._settings().no_input_prompt)

    def lookup_result(
        self, customer: Mapping[str, Any] | None, now: float, *, timed_out: bool = False
    ) -> Action:
        """The server's answer to a Lookup: the customer's record, or None."""
        self._expect("lookup")
        node = self._current()
        assert isinstance(node, LookupNode)
        found = customer is not None
        if customer is not None:
            self.customer = dict(customer)
        cid = None if customer is None else customer.get("id")
        self._emit(
            ev.LookupAnswered,
            now,
            found=found,
            customer_id=None if cid is None else str(cid),
            timed_out=timed_out,
        )
        return self._run(now, node.found if found else node.not_found, [])

    # --- stepping ------------------------------------------------------------------------

    def _expect(self, state: State) -> None:
        if self.state == "ended":
            raise SessionEnded("the IVR session has ended")
        if self.state != state:
            raise NotWaiting(f"the session waits for {self.state}, not {state}")

    def _qualified(self, node_id: str) -> str:
        return node_id if len(self._frames) == 1 else f"{self.tree.id}/{node_id}"

    def _current(self) -> Node:
        return self.tree.nodes[self._node_id]

    def _settings(self) -> InputSettings:
        return self.tree.inputs[self._node_id]

    def _emit(
        self, cls: type[ev.IvrEvent], now: float, node: str | None = None, **fields: Any
    ) -> None:
        where = self.node_id if node is None else node
        self._events.append(cls(ts=now, contact_id=self.contact_id, node=where, **fields))

    def _text(self, prompt: str | None, chat_prompt: str | None) -> str | None:
        if self.channel == "chat" and chat_prompt:
            return chat_prompt
        return prompt

    def _say(self, prompts: list[Prompt], prompt: str | None, chat: str | None = None) -> None:
        text = self._text(prompt, chat)
        if text and text.strip():
            prompts.append(Say(text))

    def _count_input(self, now: float) -> Action | None:
        """Counts one answer (or silence); past the tree's limit the caller is let go."""
        self.inputs += 1
        root = self._frames[0].tree.model
        if self.inputs <= root.max_inputs:
            return None
        self._emit(ev.LimitReached, now, inputs=self.inputs)
        prompts: list[Prompt] = []
        self._say(prompts, root.limit_prompt)
        return self._finish(now, Hangup, prompts, "hangup", None, reason="input_limit")

    def _run(self, now: float, target: str, prompts: list[Prompt]) -> Action:
        self._waiting = None
        for _ in range(_MAX_AUTO_STEPS):
            self._node_id = target
            node = self._current()
            qid = self.node_id
            self.path.append(qid)
            self._emit(ev.EnteredNode, now, node_type=node.type)
            if isinstance(node, SayNode):
                self._say(prompts, node.prompt, node.chat_prompt)
                target = node.next
            elif isinstance(node, PlayNode):
                if self.channel == "voice":
                    prompts.append(Play(node.audio, node.prompt))
                else:
                    self._say(prompts, node.prompt, node.chat_prompt)
                target = node.next
            elif isinstance(node, SetNode):
                self._set(node, now)
                target = node.next
            elif isinstance(node, BranchNode):
                target = self._branch(node, now)
            elif isinstance(node, SubtreeNode):
                sub = self.tree.catalog[node.tree]
                self._frames.append(_Frame(sub, node.next))
                target = sub.model.start
            elif isinstance(node, ReturnNode):
                frame = self._frames.pop()
                if frame.resume is None:
                    # a return in the entry tree: there is nowhere to go back to
                    self._frames.append(frame)
                    return self._finish(
                        now, Hangup, prompts, "hangup", None, reason="returned_from_entry"
                    )
                target = frame.resume
            elif isinstance(node, MenuNode | CollectNode | SurveyNode):
                self._attempt = 1
                self._survey_step = 0
                self._survey = {}
                return self._gather(now, prompts)
            elif isinstance(node, LookupNode):
                return self._lookup(node, now, prompts)
            else:
                return self._terminal(node, now, prompts)
        return self._finish(now, Hangup, prompts, "hangup", None, reason="loop")

    def _gather(self, now: float, prompts: list[Prompt]) -> Gather:
        node = self._current()
        settings = self._settings()
        self._prompt_id += 1
        common: dict[str, Any] = {
            "node": self.node_id,
            "timeout_s": settings.timeout_s,
            "attempt": self._attempt,
            "prompt_id": self._prompt_id,
        }
        if isinstance(node, MenuNode):
            self._say(prompts, node.prompt, node.chat_prompt)
            action = Gather(
                prompts=tuple(prompts),
                kind="menu",
                choices=tuple(Choice(o.key, o.label) for o in node.options),
                **common,
            )
        elif isinstance(node, CollectNode):
            self._say(prompts, node.prompt, node.chat_prompt)
            action = Gather(
                prompts=tuple(prompts),
                kind="digits",
                min_digits=node.min_length,
                max_digits=node.max_length,
                terminator=node.terminator,
                sensitive=node.sensitive,
                **common,
            )
        else:
            assert isinstance(node, SurveyNode)
            if self._survey_step == 0:
                self._say(prompts, node.prompt, node.chat_prompt)
                choices = tuple(Choice(str(i), str(i)) for i in range(1, 6))
            else:
                self._say(prompts, node.resolved_prompt, node.chat_resolved_prompt)
                choices = (Choice("1", "Yes"), Choice("2", "No"))
            action = Gather(prompts=tuple(prompts), kind="survey", choices=choices, **common)
        self.state = "input"
        self._waiting = action
        return action

    def _failed(self, now: float, sorry: str) -> Action:
        """No input or invalid input: ask again, or leave when the retries are used up."""
        settings = self._settings()
        if self._attempt > settings.retries:
            node = self._current()
            if isinstance(node, SurveyNode):
                self._survey_done(node, now)
            self._emit(ev.RetriesExhausted, now, attempts=self._attempt, next=settings.on_failure)
            return self._run(now, settings.on_failure, [])
        self._attempt += 1
        prompts: list[Prompt] = []
        self._say(prompts, sorry)
        return self._gather(now, prompts)

    def _invalid(self, now: float, value: str, reason: str) -> Action:
        self._emit(
            ev.InputInvalid, now, value=value[:_LOGGED_CHARS], reason=reason, attempt=self._attempt
        )
        return self._failed(now, self._settings().invalid_prompt)

    def _store(self, now: float, name: str, value: Scalar, sensitive: bool = False) -> None:
        self.variables[name] = value
        if sensitive:
            self.sensitive.add(name)
        else:
            self.sensitive.discard(name)
        self._emit(
            ev.Collected,
            now,
            variable=name,
            value=ev.MASK if sensitive else value,
            sensitive=sensitive,
        )

    # --- input nodes ---------------------------------------------------------------------

    def _choose(self, node: MenuNode, text: str) -> tuple[MenuOption | None, str]:
        raw = text.strip()
        for opt in node.options:
            if raw == opt.key:
                return opt, ""
        if self.channel == "voice":
            return None, "no such key"
        said = _normalise(raw)
        if not said:
            return None, "empty message"
        padded = f" {said} "
        hits = []
        for opt in node.options:
            words = [_normalise(w) for w in (opt.label, *opt.keywords)]
            if any(w and f" {w} " in padded for w in words):
                hits.append(opt)
        if len(hits) == 1:
            return hits[0], ""
        return None, "ambiguous" if hits else "no option matches"

    def _menu(self, node: MenuNode, text: str, now: float) -> Action:
        opt, reason = self._choose(node, text)
        if opt is None:
            return self._invalid(now, text, reason)
        if node.variable:
            self._store(now, node.variable, opt.key if opt.value is None else opt.value)
        for name, value in opt.set.items():
            self._store(now, name, value)
        return self._run(now, opt.next, [])

    def _collect(self, node: CollectNode, text: str, now: float) -> Action:
        value = text.strip()
        if self.channel == "chat":
            value = re.sub(r"[\s-]", "", value)  # "1234 5678" and "1234-5678" as typed
        if node.terminator and value.endswith(node.terminator):
            value = value[: -len(node.terminator)]
        shown = ev.MASK if node.sensitive else text
        if not value.isdigit() or not value.isascii():
            return self._invalid(now, shown, "not digits")
        if not node.min_length <= len(value) <= node.max_length:
            return self._invalid(
                now, shown, f"length {len(value)}, not {node.min_length}-{node.max_length}"
            )
        pattern = self.tree.patterns.get(self._node_id)
        if pattern is not None and not pattern.fullmatch(value):
            return self._invalid(now, shown, "does not match the pattern")
        self._store(now, node.variable, value, node.sensitive)
        return self._run(now, node.next, [])

    def _survey_answer(self, node: SurveyNode, text: str, now: float) -> Action:
        said = _normalise(text)
        if self._survey_step == 0:
            if said not in ("1", "2", "3", "4", "5"):
                return self._invalid(now, text, "not a score from 1 to 5")
            self._survey["csat"] = int(said)
            self._store(now, node.csat_variable, int(said))
            self._survey_step = 1
            self._attempt = 1
            return self._gather(now, [])
        if said in _YES:
            resolved = True
        elif said in _NO:
            resolved = False
        else:
            return self._invalid(now, text, "not yes (1) or no (2)")
        self._survey["resolved"] = resolved
        self._store(now, node.resolved_variable, resolved)
        self._survey_done(node, now)
        return self._run(now, node.next, [])

    def _survey_done(self, node: SurveyNode, now: float) -> None:
        self._emit(
            ev.SurveyAnswered,
            now,
            csat=self._survey.get("csat"),
            resolved=self._survey.get("resolved"),
        )

    # --- other nodes ---------------------------------------------------------------------

    def _scope(self, now: float) -> Scope:
        hours = self.tree.hours
        return Scope(
            vars=self.variables,
            customer=self.customer or {},
            contact={
                "ani": self.ani,
                "dnis": self.dnis,
                "channel": self.channel,
                "id": self.contact_id,
            },
            hours={name: h.is_open(now) for name, h in hours.items()},
            holiday={name: h.is_holiday(now) for name, h in hours.items()},
        )

    def _branch(self, node: BranchNode, now: float) -> str:
        scope = self._scope(now)
        errors: list[str] = []
        for case in node.cases:
            try:
                held = self.tree.expressions[case.when].holds(scope)
            except Exception as exc:  # a failing condition is false, and the log says why
                errors.append(f"{case.when}: {type(exc).__name__}: {exc}")
                continue
            if held:
                self._emit(
                    ev.BranchTaken, now, condition=case.when, next=case.next, errors=tuple(errors)
                )
                return case.next
        self._emit(ev.BranchTaken, now, condition=None, next=node.default, errors=tuple(errors))
        return node.default

    def _set(self, node: SetNode, now: float) -> None:
        for name, value in node.values.items():
            self._store(now, name, value)
        scope = self._scope(now)
        for name, source in node.expressions.items():
            expr = self.tree.expressions[source]
            try:
                result = expr.value(scope)
            except Exception:  # same rule as a branch: a failing expression reads as None
                result = None
            if not isinstance(result, str | int | float | bool | None):
                result = str(result)
            # a value computed from a sensitive variable is as sensitive as its source
            self._store(now, name, result, bool(expr.variables & self.sensitive))

    def _lookup(self, node: LookupNode, now: float, prompts: list[Prompt]) -> Lookup:
        if node.by == "ani":
            by: Literal["ani", "account"] = "ani"
            key = self.ani or ""
            sensitive = False
        else:
            assert node.variable is not None
            by = "account"
            key = str(self.variables.get(node.variable) or "")
            sensitive = node.variable in self.sensitive
        self._emit(ev.LookupRequested, now, by=by, key=ev.MASK if sensitive else key)
        self._prompt_id += 1
        action = Lookup(
            prompts=tuple(prompts),
            node=self.node_id,
            by=by,
            key=key,
            timeout_s=node.timeout_s,
            sensitive=sensitive,
            prompt_id=self._prompt_id,
        )
        self.state = "lookup"
        self._waiting = action
        return action

    def _terminal(self, node: Node, now: float, prompts: list[Prompt]) -> Terminal:
        if isinstance(node, QueueNode):
            self._say(prompts, node.prompt, node.chat_prompt)
            tier = (self.customer or {}).get("tier")
            priority = node.tier_priority.get(str(tier), node.priority) if tier else node.priority
            names = node.attach if node.attach is not None else tuple(self.variables)
            data = {n: self.variables[n] for n in names if n in self.variables}
            return self._finish(
                now,
                Queue,
                prompts,
                "queue",
                node.queue,
                queue_id=node.queue,
                priority=priority,
                skills=dict(node.skills),
                data=data,
            )
        if isinstance(node, TransferNode):
            self._say(prompts, node.prompt, node.chat_prompt)
            return self._finish(now, Transfer, prompts, "transfer", node.number, number=node.number)
        if isinstance(node, CallbackNode):
            self._say(prompts, node.prompt, node.chat_prompt)
            if node.number_variable:
                raw = self.variables.get(node.number_variable)
                number = None if raw is None else str(raw)
            else:
                number = self.ani
            return self._finish(
                now, Callback, prompts, "callback", node.queue, number=number, queue_id=node.queue
            )
        if isinstance(node, VoicemailNode):
            self._say(prompts, node.prompt, node.chat_prompt)
            return self._finish(
                now,
                Voicemail,
                prompts,
                "voicemail",
                node.mailbox,
                mailbox=node.mailbox,
                max_s=node.max_s,
            )
        assert isinstance(node, HangupNode), node
        self._say(prompts, node.prompt, node.chat_prompt)
        return self._finish(now, Hangup, prompts, "hangup", None, reason=node.reason)

    def masked_variables(self) -> dict[str, Scalar]:
        """The variables with sensitive values masked, for logs."""
        return {k: ev.MASK if k in self.sensitive else v for k, v in self.variables.items()}

    def _finish(
        self,
        now: float,
        cls: type[Terminal],
        prompts: list[Prompt],
        outcome: str,
        target: str | None,
        **fields: Any,
    ) -> Terminal:
        self.state = "ended"
        self._waiting = None
        action = cls(
            prompts=tuple(prompts),
            node=self.node_id,
            path=tuple(self.path),
            variables=dict(self.variables),
            sensitive=frozenset(self.sensitive),
            customer=None if self.customer is None else dict(self.customer),
            channel=self.channel,
            **fields,
        )
        self.result = action
        self._emit(
            ev.Exited,
            now,
            outcome=outcome,
            target=target,
            path=tuple(self.path),
            variables=self.masked_variables(),
        )
        return action
