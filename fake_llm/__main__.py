"""`python -m fake_llm`: the same as the `fake-llm` command."""

from fake_llm.cli import main

raise SystemExit(main())
