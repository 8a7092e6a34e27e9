"""A tiny service under test: it answers a customer's question by streaming a completion from a model.

It knows nothing about fake-llm. The official `openai` client reads OPENAI_BASE_URL and OPENAI_API_KEY from the
environment, and docker-compose.yml points them at the fake-llm service.
"""

from __future__ import annotations

import os
import sys

import openai


def main() -> int:
    client = openai.OpenAI(max_retries=2, timeout=30)
    question = os.environ.get("QUESTION", "Can I get a refund for my order?")
    chunks: list[str] = []
    usage = None
    try:
        stream = client.chat.completions.create(
            model=os.environ.get("MODEL", "gpt-4o-mini"),
            messages=[
                {"role": "system", "content": "You are the support assistant of a small web shop."},
                {"role": "user", "content": question},
            ],
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    chunks.append(choice.delta.content)
                    print(choice.delta.content, end="", flush=True)
    except openai.APIError as exc:
        print(f"\n[app] the model call failed: {exc}", file=sys.stderr)
        return 1
    print()
    tokens = f", {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens" if usage else ""
    print(f"[app] streamed {len(chunks)} chunks{tokens}", flush=True)
    return 0 if chunks else 1


if __name__ == "__main__":
    sys.exit(main())
