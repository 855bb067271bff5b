"""Runs the code blocks of one Markdown file in order, as a reader would.

Usage: ``python docs_harness.py BLOCKS.json`` where the JSON is a list of
``{"lang": "python"|"sh", "line": N, "code": "...", "file": name-or-null}``.
Python blocks share one namespace (like a notebook); a top-level ``await``
runs in an event loop, as in Jupyter. ``sh`` blocks run in bash with ``-e``.
A block with ``file`` is written to that file instead of run. Exits 1 with the
block's line on the first failure.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path


def main() -> int:
    blocks = json.loads(Path(sys.argv[1]).read_text("utf-8"))
    namespace: dict[str, object] = {"__name__": "__main__"}
    sys.path.insert(0, os.getcwd())  # as `python` in the reader's directory: import movies
    for block in blocks:
        where = f"block at line {block['line']}"
        print(f"--- {where} ({block['lang']})", flush=True)
        if block["file"]:
            Path(block["file"]).write_text(block["code"], "utf-8")
            continue
        if block["lang"] == "sh":
            done = subprocess.run(["bash", "-e", "-c", block["code"]])
            if done.returncode != 0:
                print(f"FAILED: {where}: exit {done.returncode}", file=sys.stderr)
                return 1
            continue
        try:
            code = compile(block["code"], where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(code, namespace)
            if inspect.iscoroutine(result):
                asyncio.run(result)
        except BaseException:
            traceback.print_exc()
            print(f"FAILED: {where}", file=sys.stderr)
            return 1
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
