"""Names the moderation dialect and the scenario schema share."""

from __future__ import annotations

#: The 13 categories every moderation result carries, in the order OpenAI sends them.
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
