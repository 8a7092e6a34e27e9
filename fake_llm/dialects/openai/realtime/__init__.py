"""The OpenAI Realtime API: client events (protocol), the session state machine (session, responder, progress,
conversation, vad) and server events (render, response_plan). The WebSocket endpoint is fake_llm/http/realtime.py."""
