"""Amazon Bedrock Runtime: Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream."""

from __future__ import annotations

from fake_llm.dialects.bedrock.runtime import BedrockRuntime

__all__ = ["BedrockRuntime"]
