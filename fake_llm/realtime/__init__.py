"""The OpenAI Realtime API over WebSocket: client events (protocol), the session state machine (session, responder,
conversation, vad), server events (render, response_plan) and the `/v1/realtime` endpoint."""
