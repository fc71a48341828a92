"""Facts of the websocket protocol have one home, contactcenter/protocol.py: every close
code the server sends, every pydantic model of a frame and every message type the server
sends (to consoles, chat visitors and the telephony gateway) or reads from the gateway. An
AST scan of the server package keeps them there (a literal close code, a frame model or a
message type spelt as a bare string elsewhere fails)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

from contactcenter import protocol

PACKAGE = Path(__file__).resolve().parents[2] / "contactcenter"
PROTOCOL = PACKAGE / "protocol.py"
GATEWAY_DOC = PACKAGE.parent / "docs" / "gateway.md"

MESSAGE_TYPES = frozenset(
    protocol.AGENT_MESSAGE_TYPES
    + protocol.VISITOR_MESSAGE_TYPES
    + protocol.GATEWAY_COMMAND_TYPES
    + protocol.GATEWAY_REPORT_TYPES
    + (protocol.GATEWAY_ERROR,)
)
"""Every ``type`` the server sends on a websocket, or reads from the gateway."""
SINKS = {
    "agent_sink": 1,
    "deliver": 1,
    "push": 0,
    "send_once": 0,
    "gateway_sink": 0,
    "gateway_send": 0,
    "send": 0,
    "envelope": 0,
}
"""Functions that take a message type: the position of the type among their arguments
(the ports and their implementations, ``protocol.envelope``)."""


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _protocol_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names the protocol module is bound to, names imported from it)."""
    modules: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "contactcenter":
            modules |= {a.asname or a.name for a in node.names if a.name == "protocol"}
        elif isinstance(node, ast.ImportFrom) and node.module == "contactcenter.protocol":
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "contactcenter.protocol" and alias.asname:
                    modules.add(alias.asname)
    return modules, names


_CLOSINGS = {name for name, value in vars(protocol).items() if isinstance(value, protocol.Closing)}


def _is_protocol_close_code(node: ast.expr, modules: set[str], names: set[str]) -> bool:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id == "why" and node.attr == "code":
            return True  # a protocol.Closing passed down (``why: p.Closing``)
        return node.value.id in modules and (
            node.attr.startswith("CLOSE_") or node.attr in _CLOSINGS
        )
    if isinstance(node, ast.Name) and node.id == "why":
        return True
    return isinstance(node, ast.Name) and node.id in names and node.id.startswith("CLOSE_")


def _literal_closes(tree: ast.Module) -> list[ast.expr]:
    """The codes of ``close(...)`` calls that are not the protocol's constants."""
    modules, names = _protocol_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name != "close":
            continue
        code = next((k.value for k in node.keywords if k.arg == "code"), None)
        if code is None and node.args:
            code = node.args[0]
        if code is not None and not _is_protocol_close_code(code, modules, names):
            found.append(code)
    return found


def _frame_classes(tree: ast.Module) -> list[ast.ClassDef]:
    """Classes with a ``type: Literal[...]`` field: the discriminator of a frame union."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(item, ast.AnnAssign)
            and isinstance(item.target, ast.Name)
            and item.target.id == "type"
            and "Literal" in ast.unparse(item.annotation)
            for item in node.body
        )
    ]


def _is_message_type(node: ast.expr | None) -> bool:
    """A string literal that is one of the protocol's message types (or a tuple of them)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_message_type(e) for e in node.elts)
    return isinstance(node, ast.Constant) and node.value in MESSAGE_TYPES


def _kind_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _bare_message_types(tree: ast.Module) -> list[ast.expr]:
    """Message types spelt as strings instead of the protocol's names: the kind given to a
    sink (``agent_sink(agent, "offer", ...)``, ``gateway_sink("bridge", ...)``...), the
    ``type`` of a frame built as a dict, and a ``kind`` compared with one (the carrier
    reading commands)."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            position = SINKS.get(_kind_name(node.func))
            if position is None:
                continue
            kind = next((k.value for k in node.keywords if k.arg == "kind"), None)
            if kind is None and len(node.args) > position:
                kind = node.args[position]
            if _is_message_type(kind):
                assert kind is not None
                found.append(kind)
        elif isinstance(node, ast.Dict):
            found += [
                value
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "type" and _is_message_type(value)
            ]
        elif isinstance(node, ast.Compare):
            name = _kind_name(node.left)
            if name == "kind" or name.endswith("_kind"):
                found += [c for c in node.comparators if _is_message_type(c)]
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _message_types_outside_protocol() -> list[str]:
    return [
        f"{path.name}:{node.lineno}: {ast.unparse(node)}"
        for path, tree in _modules()
        if path != PROTOCOL
        for node in _bare_message_types(tree)
    ]


def _close_codes_outside_protocol() -> list[str]:
    return [
        f"{path.name}:{code.lineno}: close(code={ast.unparse(code)})"
        for path, tree in _modules()
        if path != PROTOCOL
        for code in _literal_closes(tree)
    ]


def _frame_models_outside_protocol() -> list[str]:
    return [
        f"{path.name}:{cls.lineno}: class {cls.name}"
        for path, tree in _modules()
        if path != PROTOCOL
        for cls in _frame_classes(tree)
    ]


def test_every_close_code_is_a_protocol_constant() -> None:
    assert _close_codes_outside_protocol() == []


def test_no_frame_model_outside_the_protocol_module() -> None:
    assert _frame_models_outside_protocol() == []


def test_every_message_type_is_a_protocol_name() -> None:
    assert _message_types_outside_protocol() == []


def test_every_message_type_has_a_name() -> None:
    """Each value of the closed types is a constant of protocol.py (what the code uses),
    and the tuples list exactly the closed types' values."""
    named = {
        value
        for name, value in vars(protocol).items()
        if name.isupper() and isinstance(value, str) and value in MESSAGE_TYPES
    }
    assert named == MESSAGE_TYPES
    for types, closed in [
        (protocol.AGENT_MESSAGE_TYPES, protocol.AgentMessageType),
        (protocol.VISITOR_MESSAGE_TYPES, protocol.VisitorMessageType),
        (protocol.GATEWAY_COMMAND_TYPES, protocol.GatewayCommandType),
        (protocol.GATEWAY_REPORT_TYPES, protocol.GatewayReportType),
    ]:
        assert types == get_args(closed)
        assert len(set(types)) == len(types)


def _documented_gateway_commands() -> set[str]:
    """The first cells of the docs/gateway.md tables whose header is ``| type | ...``."""
    found: set[str] = set()
    in_table = False
    for line in GATEWAY_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| type |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and line.startswith("| `"):
            found.add(line.split("`")[1])
    return found


def test_the_gateway_doc_lists_every_command() -> None:
    assert _documented_gateway_commands() == set(protocol.GATEWAY_COMMAND_TYPES)


def test_the_close_codes_are_distinct_websocket_codes() -> None:
    codes = {name: getattr(protocol, name) for name in dir(protocol) if name.startswith("CLOSE_")}
    assert codes == {
        "CLOSE_GOING_AWAY": 1001,
        "CLOSE_BAD_DATA": 1007,
        "CLOSE_TOO_SLOW": 1008,
        "CLOSE_TOO_LARGE": 1009,
        "CLOSE_TRY_AGAIN": 1013,
        "CLOSE_REPLACED": 4000,
        "CLOSE_OTHER_TAB": 4001,
        "CLOSE_GATEWAY_TAKEN_OVER": 4010,
        "CLOSE_GATEWAY_REFUSED": 4011,
        "CLOSE_CHAT_LIMITED": 4029,
        "CLOSE_UNAUTHENTICATED": 4401,
        "CLOSE_FORBIDDEN": 4403,
        "CLOSE_SESSION_ENDED": 4410,
    }


def test_the_scan_finds_what_it_looks_for() -> None:
    # The checks above pass on an empty result; make sure the scan would see a violation.
    tree = ast.parse(
        "from contactcenter import protocol as p\n"
        "from contactcenter.protocol import CLOSE_OTHER_TAB\n"
        "from pydantic import BaseModel\n"
        "from typing import Literal\n"
        "class Start(BaseModel):\n"
        "    type: Literal['start']\n"
        "class Reply(BaseModel):\n"
        "    kind: Literal['reply']\n"
        "async def f(ws):\n"
        "    await ws.close(code=4000)\n"
        "    await ws.close(code=p.CLOSE_REPLACED)\n"
        "    await ws.close(code=REPLACED)\n"
        "    await ws.close(code=CLOSE_OTHER_TAB)\n"
        "    await ws.close(1001)\n"
    )
    assert [ast.unparse(c) for c in _literal_closes(tree)] == ["4000", "REPLACED", "1001"]
    assert [c.name for c in _frame_classes(tree)] == ["Start"]


def test_the_message_type_scan_finds_what_it_looks_for() -> None:
    tree = ast.parse(
        "from contactcenter import protocol as p\n"
        "def f(acd, ch, chat, link, kind, live):\n"
        "    acd.agent_sink('alice', 'offer', {})\n"
        "    acd.agent_sink('alice', p.OFFER, {})\n"
        "    acd.agent_sink('alice', kind='chat.typing', data={})\n"
        "    ch.push('reply', {})\n"
        "    ch.push(p.REPLY, {})\n"
        "    chat.send_once('started', {})\n"
        "    link.send('bridge', {})\n"
        "    send = acd.gateway_sink\n"
        "    send('consult_end', {})\n"
        "    send(p.GATEWAY_CONSULT_END, {})\n"
        "    p.envelope('error', 0, {})\n"
        "    ws.send(json.dumps({'type': 'ack', 'seq': 1}))\n"
        "    ws.send(json.dumps({'type': p.GATEWAY_ACK, 'seq': 1}))\n"
        "    schema = {'type': 'string'}\n"
        "    if kind == 'gather' or kind in ('mute', 'send_dtmf') or live.end_kind == 'hangup':\n"
        "        pass\n"
        "    if kind == p.GATEWAY_GATHER or event_kind == 'contact.arrived':\n"
        "        pass\n"
        "    acd.agent_sink('alice', 'not_a_type', {})\n"
        "    ch.push(text)\n"
    )
    assert [ast.unparse(n) for n in _bare_message_types(tree)] == [
        "'offer'",
        "'chat.typing'",
        "'reply'",
        "'started'",
        "'bridge'",
        "'consult_end'",
        "'error'",
        "'ack'",
        "'gather'",
        "('mute', 'send_dtmf')",
        "'hangup'",
    ]
