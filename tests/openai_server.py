"""A scripted OpenAI-compatible HTTP server for tests (stdlib only, 127.0.0.1, free port).

Tests drive the REAL ``openai`` / ``langchain-openai`` client over real HTTP against it,
so retries, timeouts and malformed answers are exercised end to end without a provider.
Each request to ``POST /v1/chat/completions`` consumes the next scripted :class:`Reply`;
when the script runs dry the server answers 500 with a message saying so, which makes a
test that expected fewer calls fail loudly instead of hanging.

Usage::

    with ScriptedOpenAI() as server:
        server.script(rate_limited(retry_after=1), answer({"amount": 3}))
        model = ChatOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
        assert len(server.requests) == 2
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = [
    "Reply",
    "ScriptedOpenAI",
    "answer",
    "hang",
    "malformed_body",
    "rate_limited",
    "server_error",
    "status",
]

ReplyKind = Literal["answer", "status", "hang", "malformed"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    Attributes:
        kind: ``answer`` (a chat completion), ``status`` (an HTTP error),
            ``hang`` (wait ``seconds`` before answering, past the client's timeout),
            ``malformed`` (HTTP 200 with a body that is not JSON).
        content: For ``answer``: a dict (sent as JSON, in whatever shape the request
            asked for: a forced tool call, a JSON response format or plain text) or a
            str (sent verbatim as the message content or tool-call arguments).
        code: HTTP status for ``status``.
        headers: Extra response headers (e.g. ``Retry-After``).
        seconds: How long ``hang`` waits.
        prompt_tokens: Usage reported for the request.
        completion_tokens: Usage reported for the answer.
        model: Model name reported in the answer (default: the one requested).
        as_text: Send ``content`` as message text even when a tool call was forced
            (a model that ignores ``tool_choice``).
    """

    kind: ReplyKind
    content: dict[str, Any] | str | None = None
    code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    prompt_tokens: int = 120
    completion_tokens: int = 30
    model: str | None = None
    as_text: bool = False


def answer(
    content: dict[str, Any] | str,
    *,
    prompt_tokens: int = 120,
    completion_tokens: int = 30,
    model: str | None = None,
    as_text: bool = False,
) -> Reply:
    """A normal chat completion carrying ``content`` and a usage block."""
    return Reply(
        kind="answer",
        content=content,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        model=model,
        as_text=as_text,
    )


def status(
    code: int, message: str = "scripted error", headers: dict[str, str] | None = None
) -> Reply:
    """An HTTP error with an OpenAI-style error body."""
    return Reply(kind="status", code=code, content=message, headers=headers or {})


def rate_limited(retry_after: float | None = None) -> Reply:
    """HTTP 429, optionally with a ``Retry-After`` header (seconds)."""
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return status(429, "Rate limit reached for requests", headers)


def server_error(code: int = 500) -> Reply:
    """HTTP 5xx."""
    return status(code, "The server had an error while processing your request")


def hang(seconds: float = 5.0) -> Reply:
    """Wait ``seconds`` (longer than the client's timeout) before answering."""
    return Reply(kind="hang", seconds=seconds)


def malformed_body() -> Reply:
    """HTTP 200 with ``Content-Type: application/json`` and a body that is not JSON."""
    return Reply(kind="malformed")


class ScriptedOpenAI:
    """The server. Use as a context manager; it binds 127.0.0.1 on a free port.

    Attributes:
        requests: Parsed JSON bodies of every chat-completion request, in order.
        headers: Request headers, in the same order.
    """

    def __init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._count = 0
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """The ``OPENAI_BASE_URL`` clients should use."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request consumes one."""
        with self._lock:
            self._script.extend(replies)

    @property
    def remaining(self) -> int:
        """Replies not consumed yet."""
        with self._lock:
            return len(self._script)

    def __enter__(self) -> ScriptedOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release hanging handlers and stop serving."""
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[Reply | None, int]:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            self._count += 1
            reply = self._script.popleft() if self._script else None
            return reply, self._count

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, {"error": {"message": "request body is not JSON"}})
                    return
                reply, n = server._next(body, {k.lower(): v for k, v in self.headers.items()})
                if reply is None:
                    self._send(500, _error_body("script exhausted: no reply queued", 500))
                    return
                try:
                    self._reply(reply, body, n)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up (timeout); nobody is listening any more.
                    return

            def _reply(self, reply: Reply, body: dict[str, Any], n: int) -> None:
                if reply.kind == "hang":
                    server._release.wait(reply.seconds)
                    self._send(200, _completion(Reply(kind="answer", content="late"), body, n))
                elif reply.kind == "status":
                    self._send(
                        reply.code, _error_body(str(reply.content), reply.code), reply.headers
                    )
                elif reply.kind == "malformed":
                    self._send_raw(200, b'{"id": "chatcmpl-broken", "choices": [', {})
                else:
                    self._send(200, _completion(reply, body, n), reply.headers)

            def _send(
                self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                self._send_raw(code, json.dumps(payload).encode(), headers or {})

            def _send_raw(self, code: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _error_body(message: str, code: int) -> dict[str, Any]:
    kind = {429: "rate_limit_error", 401: "authentication_error"}.get(code, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": str(code)}}


def _forced_tool(body: dict[str, Any]) -> str | None:
    """The function name the request forces, or the only tool offered."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = choice.get("function", {}).get("name")
        return str(name) if name else None
    tools = body.get("tools") or []
    if choice in (None, "auto", "required") and len(tools) == 1:
        return str(tools[0]["function"]["name"])
    return None


def _completion(reply: Reply, body: dict[str, Any], n: int) -> dict[str, Any]:
    content = reply.content
    text = content if isinstance(content, str) else json.dumps(content)
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    finish = "stop"
    tool = None if reply.as_text else _forced_tool(body)
    if tool is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": f"call_{n}",
                "type": "function",
                "function": {"name": tool, "arguments": text},
            }
        ]
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": 1_790_000_000 + n,
        "model": reply.model or body.get("model", "gpt-4o-mini"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }
