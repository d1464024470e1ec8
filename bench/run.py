"""Benchmark: wall time and peak memory of the build, at 1x, 10x and 100x the content.

    python bench/run.py [--content DIR] [--templates DIR] [--scales 1,10,100]

Each case runs `briefkit build` in a fresh process, as a user does. Synthetic briefings repeat
the pillars (notes renamed per copy) and are generated at run time in a temporary folder.
When `pandoc` is on PATH, the same text (one Markdown file with footnotes) is converted to
docx, pptx and, with weasyprint installed, PDF, and our time is given over Pandoc's.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("docx", "pdf", "pptx")


# Tools installed beside this interpreter (weasyprint from PyPI) are found by Pandoc too.
ENV = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one command in its own process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def synthetic(content: Path, scale: int, dest: Path) -> Path:
    """A briefing `scale` times the size: every pillar repeated, its note keys renamed per copy."""
    dest.mkdir(parents=True)
    for path in content.iterdir():
        if path.is_dir():
            shutil.copytree(path, dest / path.name)
            continue
        text = path.read_text(encoding="utf-8")
        if not re.search(r"^kind: pillar$", text, re.M):
            (dest / path.name).write_text(text, encoding="utf-8")
            continue
        for i in range(scale):
            copy = re.sub(r"\[\^([^\]\s]+)\]", lambda m: f"[^{m.group(1)}-{i}]", text)
            copy = re.sub(r"^order: (\d+)$", lambda m: f"order: {i * 1000 + int(m.group(1))}", copy, flags=re.M)
            (dest / f"{path.stem}-{i}.md").write_text(copy, encoding="utf-8")
    return dest


def pandoc_markdown(content: Path, templates: Path | None, dest: Path) -> Path:
    """The memo's text as one Markdown file with footnotes, for Pandoc."""
    sys.path.insert(0, str(ROOT / "src"))
    from briefkit.assembly import assemble
    from briefkit.loading import load_content
    from briefkit.templates import Templates

    loaded = load_content(content)
    text = assemble(loaded, Templates.of(templates), "memo.md.j2")
    notes = "\n\n".join(f"[^{key}]: {note.text}" for key, note in loaded.notes.items())
    path = dest / "briefing.md"
    path.write_text(f"---\ntitle: \"{loaded.briefing.meta['title']}\"\n---\n\n{text}\n\n{notes}\n", encoding="utf-8")
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--content", type=Path, default=ROOT / "content")
    p.add_argument("--templates", type=Path, default=None)
    p.add_argument("--scales", default="1,10,100")
    args = p.parse_args()
    briefkit = str(Path(sys.executable).with_name("briefkit"))
    scales = [int(s) for s in args.scales.split(",")]
    rows: list[tuple[str, str, float, float]] = []
    totals: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for scale in scales:
            content = args.content if scale == 1 else synthetic(args.content, scale, tmp / f"content-{scale}x")
            out = tmp / f"out-{scale}x"
            base = [briefkit, "build", "--content", str(content), "--out", str(out), "-q"] + (["--templates", str(args.templates)] if args.templates else [])
            seconds, mb = run(base)
            totals[scale] = seconds
            rows.append((f"{scale}x", "all three", seconds, mb))
            for fmt in FORMATS:
                rows.append((f"{scale}x", fmt, *run(base + ["--format", fmt])))
        up_to_date = None
        if shutil.which("make") and (ROOT / "Makefile").is_file():
            run(["make", "-s", "all"], cwd=ROOT)
            up_to_date = run(["make", "-s", "all"], cwd=ROOT)[0]
        pandoc = None
        if shutil.which("pandoc"):
            md = pandoc_markdown(args.content, args.templates, tmp)
            pandoc = {}
            for ext in ("docx", "pptx"):
                pandoc[ext] = run(["pandoc", str(md), "-o", str(tmp / f"pandoc.{ext}")])
            if shutil.which("weasyprint", path=ENV["PATH"]):
                pandoc["pdf"] = run(["pandoc", str(md), "--pdf-engine=weasyprint", "-o", str(tmp / "pandoc.pdf")])

    print(f"{'case':<6} {'build':<10} {'wall s':>8} {'peak MB':>8}")
    for case, what, seconds, mb in rows:
        print(f"{case:<6} {what:<10} {seconds:>8.2f} {mb:>8.0f}")
    if 1 in totals:
        for scale in scales[1:]:
            print(f"scaling {scale}x: {totals[scale] / totals[1]:.1f} times the 1x time (target: under {scale})")
    if up_to_date is not None:
        print(f"make with nothing changed: {up_to_date:.3f} s (target: under 0.2)")
    if pandoc:
        for ext, (seconds, mb) in pandoc.items():
            print(f"pandoc {ext:<5} {seconds:>8.2f} s {mb:>6.0f} MB")
        if "pdf" in pandoc and 1 in totals:
            ours = totals[1]
            theirs = sum(s for s, _ in pandoc.values())
            print(f"ratio, ours over Pandoc's (all three, 1x): {ours:.2f} / {theirs:.2f} = {ours / theirs:.2f}")
        else:
            print("Pandoc PDF needs weasyprint (pip install weasyprint); ratio not computed")
    else:
        print("pandoc not on PATH (Debian: apt-get install pandoc); no comparison")
    return 0


if __name__ == "__main__":
    sys.exit(main())
