"""Testing helpers: FakeLLMServer and the pytest plugin."""
