"""Prints the source files and functions over the size limits, and fails when there are any.

Limits: a file of more than MAX_FILE_LINES lines, a function of more than MAX_FN_LINES lines.
Checked: the Rust of breaker-wasm/src and host-cli/src, and the Python and JavaScript of the
embeddings. Tests are left out (files named tests.rs or under a tests/ folder, and Rust
`#[cfg(test)]` modules), as is generated code (nothing here is generated: the wasm-bindgen glue
lives in web-demo/pkg).

The scan relies on the formatters that run before it: rustfmt and Biome put the closing brace of
an item at the indentation of its opening line.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

MAX_FILE_LINES = 400
MAX_FN_LINES = 80

ROOT = Path(__file__).resolve().parents[2]
RUST_DIRS = ["breaker-wasm/src", "host-cli/src"]
EMBED_DIRS = ["breaker-wasm/embed/python", "breaker-wasm/embed/node"]

RUST_FN = re.compile(r"^(\s*)(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"C\"\s+)?fn\s+(\w+)")
JS_FN = re.compile(
    r"^(\s*)(export\s+)?(default\s+)?(async\s+)?(function\s*\*?\s*(\w+)|(static\s+)?(async\s+)?(get\s+|set\s+)?(#?\w+)\s*\([^;]*\)\s*\{$|(const|let)\s+(\w+)\s*=\s*(async\s+)?(\([^)]*\)|\w+)\s*=>\s*\{$)"
)
JS_SKIP = {"if", "for", "while", "switch", "catch", "return", "function"}


def is_test_path(path: Path) -> bool:
    return path.name in {"tests.rs", "conftest.py"} or "tests" in path.parts or "test" in path.parts


def block_end(lines: list[str], start: int, indent: str) -> int:
    """The index of the line closing the block opened at `start` (same indentation, `}`)."""
    for i in range(start, len(lines)):
        line = lines[i]
        if i > start and line.startswith(indent + "}"):
            return i
        if i == start and line.rstrip().endswith("}") and line.count("{") == line.count("}"):
            return i
    return len(lines) - 1


def rust_test_lines(lines: list[str]) -> int:
    """How many lines `#[cfg(test)]` modules take (tests aside, as for test files)."""
    count = 0
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "#[cfg(test)]" and "mod " in lines[i + 1]:
            if lines[i + 1].rstrip().endswith(";"):
                continue
            indent = re.match(r"\s*", lines[i + 1]).group(0)  # type: ignore[union-attr]
            count += block_end(lines, i + 1, indent) - i + 1
    return count


def rust_functions(lines: list[str]) -> list[tuple[str, int, int]]:
    found = []
    skip_until = -1
    for i, line in enumerate(lines):
        if i <= skip_until:
            continue
        if line.strip() == "#[cfg(test)]" and i + 1 < len(lines) and "mod " in lines[i + 1]:
            indent = re.match(r"\s*", lines[i + 1]).group(0)  # type: ignore[union-attr]
            skip_until = block_end(lines, i + 1, indent)
            continue
        m = RUST_FN.match(line)
        if not m or line.rstrip().endswith(";"):
            continue
        # The body opens on this line or on a later one (a long signature).
        open_line = i
        while "{" not in lines[open_line] and not lines[open_line].rstrip().endswith(";"):
            open_line += 1
        if lines[open_line].rstrip().endswith(";"):
            continue
        end = block_end(lines, i, m.group(1))
        found.append((m.group(8), i + 1, end - i + 1))
    return found


def js_functions(lines: list[str]) -> list[tuple[str, int, int]]:
    found = []
    for i, line in enumerate(lines):
        m = JS_FN.match(line)
        if not m:
            continue
        name = m.group(6) or m.group(10) or m.group(12) or "?"
        if name in JS_SKIP:
            continue
        end = block_end(lines, i, m.group(1))
        found.append((name, i + 1, end - i + 1))
    return found


def python_functions(source: str) -> list[tuple[str, int, int]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            found.append((node.name, node.lineno, end - node.lineno + 1))
    return found


def sources() -> list[Path]:
    files: list[Path] = []
    for d in RUST_DIRS:
        files += sorted((ROOT / d).rglob("*.rs"))
    for d in EMBED_DIRS:
        for pattern in ("*.py", "*.mjs", "*.cjs", "*.js"):
            files += sorted(p for p in (ROOT / d).rglob(pattern) if "node_modules" not in p.parts)
    return [f for f in files if not is_test_path(f.relative_to(ROOT))]


def main() -> int:
    offenders = []
    for path in sources():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        rel = path.relative_to(ROOT)
        size = len(lines) - (rust_test_lines(lines) if path.suffix == ".rs" else 0)
        if size > MAX_FILE_LINES:
            offenders.append(f"{rel}: {size} lines, tests aside (limit {MAX_FILE_LINES})")
        if path.suffix == ".rs":
            functions = rust_functions(lines)
        elif path.suffix == ".py":
            functions = python_functions(text)
        else:
            functions = js_functions(lines)
        for name, line, length in functions:
            if length > MAX_FN_LINES:
                offenders.append(
                    f"{rel}:{line}: function {name} is {length} lines (limit {MAX_FN_LINES})"
                )
    for offender in offenders:
        print(offender)
    if offenders:
        print(f"sizes: {len(offenders)} over the limits", file=sys.stderr)
        return 1
    print("sizes: every file and function within the limits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
