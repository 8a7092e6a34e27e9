"""Print the module count (and lines) per layer of fake_llm: one row per package folder, flat modules as `(top)`.

python scripts/layers.py          # or: make layers
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fake_llm"


def main() -> int:
    modules: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        layer = parts[0] if len(parts) > 1 else "(top)"
        modules[layer] += 1
        lines[layer] += len(path.read_text(encoding="utf-8").splitlines())
    print(f"{'layer':<12} {'modules':>7} {'lines':>6}")
    for layer in sorted(modules, key=lambda name: (name != "(top)", name)):
        print(f"{layer:<12} {modules[layer]:>7} {lines[layer]:>6}")
    print(f"{'total':<12} {sum(modules.values()):>7} {sum(lines.values()):>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
