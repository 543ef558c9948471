"""A scripted chat model for tests (re-exported by :mod:`conductor.testing`).

``FakeChatModel`` answers each request with the next item of its script, reports
deterministic token usage, and supports ``with_structured_output`` (tool calling or JSON
mode, ``include_raw`` too) and ``bind_tools``, so code written against a real
LangChain chat model runs unchanged against it.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, InvalidToolCall, ToolCall
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

__all__ = ["FakeChatModel", "ScriptItem"]

#: One scripted answer: text, a JSON object (dict or pydantic model), a ready message,
#: an exception to raise, or a function of the request's messages returning one of those.
ScriptItem = Any


class _Script:
    """Script position and the requests seen, shared by every copy and binding of a model."""

    def __init__(self, items: Sequence[ScriptItem]) -> None:
        self.items = list(items)
        self.index = 0
        self.requests: list[list[BaseMessage]] = []
        self.kwargs: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> ScriptItem:
        with self.lock:
            self.requests.append(list(messages))
            self.kwargs.append(dict(kwargs))
            if self.index >= len(self.items):
                raise AssertionError(
                    f"FakeChatModel script exhausted: request {self.index + 1} but only "
                    f"{len(self.items)} answer(s) scripted"
                )
            item = self.items[self.index]
            self.index += 1
            return item


class FakeChatModel(BaseChatModel):
    """A deterministic chat model that plays a script.

    Script items, one per request:

    - ``str``: the answer text; when tools are bound, the raw tool-call arguments
      (invalid JSON there becomes an invalid tool call, like a real provider's);
    - ``dict`` or a pydantic model: a JSON object; a tool call when tools are bound,
      JSON text otherwise;
    - ``AIMessage``: returned as is (usage added if missing);
    - an exception instance: raised (e.g. ``openai.RateLimitError``);
    - a callable ``f(messages) -> item``: computes the answer from the request.

    Usage is ``usage`` if given, else ``ceil(chars / 4)`` of the prompt and the answer.

    Example:
        >>> fake = FakeChatModel(responses=["hello"])
        >>> fake.invoke("hi").content
        'hello'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    responses: list[Any] = Field(default_factory=list, description="The script, in order.")
    model_name: str = Field(default="fake-model", description="Model name reported in answers.")
    usage: tuple[int, int] | None = Field(
        default=None,
        description="Fixed (input, output) tokens per request; None = from text length.",
    )

    _script: _Script = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Create the shared script state."""
        self._script = _Script(self.responses)

    @property
    def _llm_type(self) -> str:
        return "conductor-fake"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    @property
    def requests(self) -> list[list[BaseMessage]]:
        """The messages of every request received so far."""
        with self._script.lock:
            return list(self._script.requests)

    @property
    def request_kwargs(self) -> list[dict[str, Any]]:
        """The keyword arguments (tools, response_format, ...) of every request."""
        with self._script.lock:
            return list(self._script.kwargs)

    @property
    def remaining(self) -> int:
        """Scripted answers not used yet."""
        with self._script.lock:
            return len(self._script.items) - self._script.index

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        item = self._script.next(messages, kwargs)
        if callable(item) and not isinstance(item, (BaseModel, BaseException)):
            item = item(messages)
        if isinstance(item, BaseException):
            raise item
        message = self._message(item, kwargs)
        if message.usage_metadata is None:
            message.usage_metadata = self._usage(messages, message)
        message.response_metadata = {"model_name": self.model_name, **message.response_metadata}
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"model_name": self.model_name},
        )

    def _message(self, item: ScriptItem, kwargs: dict[str, Any]) -> AIMessage:
        if isinstance(item, AIMessage):
            return item.model_copy(deep=True)
        if isinstance(item, BaseModel):
            item = item.model_dump(mode="json")
        tool = _tool_name(kwargs)
        if tool is None:
            text = item if isinstance(item, str) else json.dumps(item)
            return AIMessage(content=text)
        digest = uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(item, sort_keys=True, default=str))
        call_id = f"call_{digest.hex[:12]}"
        if isinstance(item, str):
            try:
                args = json.loads(item)
            except ValueError as exc:
                bad = InvalidToolCall(
                    name=tool,
                    args=item,
                    id=call_id,
                    error=f"invalid JSON: {exc}",
                    type="invalid_tool_call",
                )
                return AIMessage(content="", invalid_tool_calls=[bad])
            if not isinstance(args, dict):
                bad = InvalidToolCall(
                    name=tool,
                    args=item,
                    id=call_id,
                    error="arguments are not a JSON object",
                    type="invalid_tool_call",
                )
                return AIMessage(content="", invalid_tool_calls=[bad])
            item = args
        call = ToolCall(name=tool, args=dict(item), id=call_id, type="tool_call")
        return AIMessage(content="", tool_calls=[call])

    def _usage(self, messages: list[BaseMessage], answer: AIMessage) -> UsageMetadata:
        if self.usage is not None:
            inp, out = self.usage
        else:
            prompt = sum(len(_as_text(m)) for m in messages)
            produced = len(_as_text(answer)) + sum(
                len(json.dumps(c["args"])) for c in answer.tool_calls
            )
            inp, out = math.ceil(prompt / 4), max(1, math.ceil(produced / 4))
        return UsageMetadata(input_tokens=inp, output_tokens=out, total_tokens=inp + out)

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer tools; the scripted answer becomes a call of the chosen (or only) tool."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: Literal["function_calling", "json_mode", "json_schema"] = "function_calling",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Structured output by tool calling (default) or JSON mode, like ``ChatOpenAI``."""
        if method == "function_calling":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        llm = self.bind(response_format={"type": "json_object"}, **kwargs)
        parser: Runnable[Any, Any] = (
            PydanticOutputParser(pydantic_object=schema)
            if isinstance(schema, type) and issubclass(schema, BaseModel)
            else JsonOutputParser()
        )
        if not include_raw:
            return llm | parser
        from operator import itemgetter

        assign = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | assign.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )


def _tool_name(kwargs: dict[str, Any]) -> str | None:
    tools = kwargs.get("tools") or []
    if not tools:
        return None
    choice = kwargs.get("tool_choice")
    if isinstance(choice, dict):
        return str(choice.get("function", {}).get("name") or tools[0]["function"]["name"])
    names = [t["function"]["name"] for t in tools]
    if isinstance(choice, str) and choice in names:
        return choice
    return str(names[0])


def _as_text(message: BaseMessage) -> str:
    content = message.content
    return content if isinstance(content, str) else json.dumps(content, default=str)
