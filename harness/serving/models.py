"""Request and response models of ``rag-harden serve``. Chat models follow the OpenAI chat-completions API as
real clients use it (the ``openai`` package, guidellm, vLLM's benchmark): ``content`` as a string or a list of
``{"type": "text", "text": ...}`` parts, ``stream_options.include_usage``, ``GET /v1/models``. Sampling
parameters (``temperature``, ``max_tokens``...) are accepted and ignored: the scenario's generator decides.

Every text field rejects lone surrogates (``"\\ud800"`` is valid JSON but not valid Unicode, and crashed the
pipeline deep inside a tokenizer) with a 422 naming the field, never the text.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from harness.config import Stage
from harness.guarding import GuardResult
from harness.pipeline.prompt import Citation
from harness.pipeline.rag import StageTimings


def _valid_unicode(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_unicode", "a lone surrogate is not valid Unicode") from None
    return value


Text = Annotated[str, AfterValidator(_valid_unicode)]


# --- requests -----------------------------------------------------------------------------------------------


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[Text, Field(min_length=1, max_length=20_000)]
    top_k: int | None = Field(None, ge=1, le=100)
    include_text: bool = Field(
        False,
        description="Return each passage's text (as the generator saw it, after "
        "the context guard), e.g. to score groundedness client-side.",
    )


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: Text


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls...: accepted, unused

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OpenAI clients send many optional parameters

    model: Annotated[Text, Field(max_length=256)] = "rag-harden"
    messages: list[ChatMessage] = Field(min_length=1, max_length=1024)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=1, description="Only one choice is generated.")

    def question(self) -> str:
        """The text of the last user message ("" when there is none)."""
        return next((m.text() for m in reversed(self.messages) if m.role == "user"), "")


# --- responses ----------------------------------------------------------------------------------------------


class PassageRef(BaseModel):
    number: int
    doc_id: str
    chunk_id: str
    score: float
    text: str | None = Field(
        None, description="The passage text, when the request asked for it (include_text)."
    )


class QueryResponse(BaseModel):
    answer: str
    citations: list[Citation]
    passages: list[PassageRef]
    guards: list[GuardResult]
    blocked: Stage | None = None
    timings: StageTimings


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, prompt_tokens: int | None, completion_tokens: int | None) -> Usage:
        p, c = prompt_tokens or 0, completion_tokens or 0
        return cls(prompt_tokens=p, completion_tokens=c, total_tokens=p + c)


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str | None = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    """One streamed event; serialized without null fields. The final usage chunk has no choices."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "rag-harden"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "loading", "error"]
    detail: str | None = None


class FieldError(BaseModel):
    """Where a request was invalid and how (pydantic's error type); never the value."""

    loc: list[str | int]
    type: str


class ErrorDetail(BaseModel):
    type: str
    message: str
    request_id: str
    fields: list[FieldError] = []


class ErrorResponse(BaseModel):
    """Every error the server sends has this shape."""

    error: ErrorDetail


__all__ = [
    "AssistantMessage",
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatRequest",
    "ChunkChoice",
    "Delta",
    "ErrorDetail",
    "ErrorResponse",
    "FieldError",
    "Health",
    "ModelCard",
    "ModelList",
    "PassageRef",
    "QueryRequest",
    "QueryResponse",
    "Readiness",
    "StreamOptions",
    "TextPart",
    "Usage",
]
