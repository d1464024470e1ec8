"""Benchmark: briefkit against Pandoc 3, per format, at 1x, 10x and 100x the content.

    python bench/run.py [--content DIR] [--templates DIR] [--scales 1,10,100] [--repeat N]

Each case runs in a fresh process, as a user runs it. Synthetic briefings repeat the pillars
(notes renamed per copy) and are generated at run time in a temporary folder. Pandoc converts
the same text (the memo's Markdown with its footnotes, one file) to docx, pptx and, through
WeasyPrint, PDF. Pandoc comes from the `pypandoc-binary` wheel of the `bench` extra, else from
PATH. Our run and Pandoc's alternate, case by case, and the median of the repeats is shown.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
FORMATS = ("docx", "pdf", "pptx")
TARGETS = """targets: all three <= 0.33x Pandoc at 1x and <= 0.25x at 100x; each format < 1x Pandoc at 10x and
100x, < 2x at 1x; growth 1x->100x < 100 per format; peak memory <= 300 MB at 100x; warm rebuild <= 0.3 s"""

# Tools installed beside this interpreter (weasyprint from PyPI) are found by Pandoc too.
ENV = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, peak memory MB) of one command in its own process.

    A build renders its formats in forked copies of itself, side by side, so the peak is the
    largest sum, sampled every 20 ms, of the proportional set sizes of the process and its
    children (shared pages counted once), or the largest single process if that is more.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    peak = 0.0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, tree_pss_mb(proc.pid))
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return seconds, max(peak, usage.ru_maxrss / 1024)


def tree_pss_mb(pid: int) -> float:
    """MB of memory a process and its descendants hold (Linux; 0 where /proc cannot tell)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # gone meanwhile, or no /proc
            continue
    return total / 1024


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
    from briefkit.assembly import assemble
    from briefkit.loading import load_content
    from briefkit.templates import Templates

    loaded = load_content(content)
    text = assemble(loaded, Templates.of(templates), "memo.md.j2")
    notes = "\n\n".join(f"[^{key}]: {note.text}" for key, note in loaded.notes.items())
    title = loaded.briefing.meta["title"].replace('"', '\\"')
    dest.write_text(f'---\ntitle: "{title}"\n---\n\n{text}\n\n{notes}\n', encoding="utf-8")
    return dest


def find_pandoc() -> tuple[str | None, str]:
    """Pandoc from the pypandoc-binary wheel, else from PATH, and its version line."""
    candidates = []
    try:
        import pypandoc  # the `bench` extra

        candidates.append(pypandoc.get_pandoc_path())
    except (ImportError, OSError):
        pass
    if shutil.which("pandoc"):
        candidates.append(shutil.which("pandoc"))
    for exe in candidates:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True)
        if out.returncode == 0:
            return exe, out.stdout.splitlines()[0]
    return None, ""


def stage_times(content: Path, templates: Path | None) -> dict[str, float]:
    """Seconds per stage of one in-process build of all three formats (nothing written)."""
    from briefkit import build
    from briefkit.assembly import assemble
    from briefkit.loading import load_content
    from briefkit import parsing
    from briefkit.parsing import Parser
    from briefkit.templates import Templates

    times: dict[str, float] = {}

    def timed(name: str, fn, *args):
        start = time.perf_counter()
        result = fn(*args)
        times[name] = times.get(name, 0.0) + time.perf_counter() - start
        return result

    for fmt in FORMATS:  # imports are paid once by a real build too; keep them out of the shares
        build.renderer(fmt)
    loaded = timed("load", load_content, content)
    t = Templates.of(templates)
    texts = [timed("assemble", assemble, loaded, t, name) for name in (build.MEMO_TEMPLATE, build.DECK_TEMPLATE)]
    parser = Parser(image_root=content)
    for text in texts:
        timed("parse", parser.document, text, build.meta_of(loaded))
    parsing._PARSED.clear()  # prepare parses again, so that what it does beyond the stages above shows
    start = time.perf_counter()
    briefing = build.prepare(content, templates, FORMATS)
    times["notes, glyphs, theme"] = max(0.0, time.perf_counter() - start - sum(times.values()))
    for fmt in FORMATS:
        timed(f"render {fmt}", build.render, briefing, fmt)
    return times


def warm_rebuild(content: Path, templates: Path | None, out: Path, kind: str, edits: int = 3) -> tuple[float, str] | None:
    """Seconds `briefkit watch` takes to rebuild after a saved edit to the first file of this kind
    (a paragraph added at its end), and what it rebuilt."""
    work = out.parent / f"watched-{kind}"
    shutil.copytree(content, work)
    edited = next(p for p in sorted(work.glob("*.md")) if re.search(rf"^kind: {kind}$", p.read_text(encoding="utf-8"), re.M))
    cmd = [str(Path(sys.executable).with_name("briefkit")), "watch", "--content", str(work), "--out", str(out)]
    cmd += ["--templates", str(templates)] if templates else []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)
    seconds, rebuilt = [], ""
    try:
        line = proc.stdout.readline()  # "watching ...", then the build it starts with, one line each
        for _ in range(3):
            if "error" in (line := proc.stdout.readline()):
                raise SystemExit(f"watch failed: {line}")
        for i in range(edits + 1):
            text = edited.read_text(encoding="utf-8")
            edited.write_text(text.rstrip("\n") + f"\n\nEdit {i}.\n", encoding="utf-8")
            while line := proc.stdout.readline():
                m = re.match(r"rebuilt (.*) in ([\d.]+) s(.*)", line)
                if m:
                    seconds.append(float(m.group(2)))
                    rebuilt = m.group(1) + m.group(3)
                    break
                if "error" in line:
                    raise SystemExit(f"watch failed: {line}")
    finally:
        proc.terminate()
        proc.wait()
    return (statistics.median(seconds[1:]), rebuilt) if len(seconds) > 1 else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--content", type=Path, default=ROOT / "content")
    p.add_argument("--templates", type=Path, default=None)
    p.add_argument("--scales", default="1,10,100")
    p.add_argument("--repeat", type=int, default=3, help="runs per case at 1x (fewer at larger scales)")
    args = p.parse_args()
    briefkit = str(Path(sys.executable).with_name("briefkit"))
    # the package's bytecode written once, as installing a package does, even where the
    # environment forbids each run writing it (PYTHONDONTWRITEBYTECODE)
    compileall.compile_dir(ROOT / "src" / "briefkit", quiet=1)
    scales = [int(s) for s in args.scales.split(",")]
    pandoc, pandoc_version = find_pandoc()
    weasyprint = shutil.which("weasyprint", path=ENV["PATH"])
    print(f"briefkit against {pandoc_version or 'no Pandoc (install the bench extra: pip install -e .[bench])'}"
          + ("" if weasyprint or not pandoc else "; no WeasyPrint, so no Pandoc PDF"), flush=True)

    ours: dict[tuple[int, str], tuple[float, float]] = {}
    theirs: dict[tuple[int, str], float] = {}
    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for scale in scales:
            content = args.content if scale == 1 else synthetic(args.content, scale, tmp / f"content-{scale}x")
            out = tmp / f"out-{scale}x"
            base = [briefkit, "build", "--content", str(content), "--out", str(out), "-q"]
            base += ["--templates", str(args.templates)] if args.templates else []
            md = pandoc_markdown(content, args.templates, tmp / f"pandoc-{scale}x.md")
            cases: dict[str, tuple[list[str], list[str] | None]] = {"all three": (base, None)}
            for fmt in FORMATS:
                pandoc_cmd = None
                if pandoc and (fmt != "pdf" or weasyprint):
                    pandoc_cmd = [pandoc, str(md), "-o", str(tmp / f"pandoc-{scale}x.{fmt}")]
                    pandoc_cmd += ["--pdf-engine=weasyprint"] if fmt == "pdf" else []
                cases[fmt] = (base + ["--format", fmt], pandoc_cmd)
            repeat = max(1, args.repeat if scale == 1 else args.repeat - 1 if scale <= 10 else 1)
            for what, (ours_cmd, pandoc_cmd) in cases.items():
                samples, peaks, other = [], [], []
                for _ in range(repeat):  # alternate, so that load on the machine hits both alike
                    seconds, mb = run(ours_cmd)
                    samples.append(seconds)
                    peaks.append(mb)
                    if pandoc_cmd:
                        other.append(run(pandoc_cmd)[0])
                ours[scale, what] = (statistics.median(samples), max(peaks))
                if other:
                    theirs[scale, what] = statistics.median(other)
                print(f"  {scale}x {what}: {ours[scale, what][0]:.2f} s", flush=True)
            if len(theirs) and all((scale, f) in theirs for f in FORMATS):
                theirs[scale, "all three"] = sum(theirs[scale, f] for f in FORMATS)
            if scale == max(scales):
                stages = stage_times(content, args.templates)
        warm = {kind: warm_rebuild(args.content, args.templates, tmp / f"warm-{kind}", kind) for kind in ("pillar", "section")}
        up_to_date = None
        if shutil.which("make") and (ROOT / "Makefile").is_file():
            run(["make", "-s", "all"], cwd=ROOT)
            up_to_date = run(["make", "-s", "all"], cwd=ROOT)[0]

    print(f"\n{'scale':<6} {'build':<10} {'ours s':>8} {'Pandoc s':>9} {'ratio':>6} {'peak MB':>8}")
    for (scale, what), (seconds, mb) in ours.items():
        other = theirs.get((scale, what))
        ratio = f"{seconds / other:>6.2f}" if other else f"{'-':>6}"
        print(f"{str(scale) + 'x':<6} {what:<10} {seconds:>8.2f} {other if other else float('nan'):>9.2f} {ratio} {mb:>8.0f}")
    lo, hi = min(scales), max(scales)
    if lo != hi:
        print(f"\ngrowth {lo}x -> {hi}x (content grows {hi // lo}x): " + ", ".join(
            f"{what} {ours[hi, what][0] / ours[lo, what][0]:.1f}x" for what in ("all three",) + FORMATS))
    if stages:
        total = sum(stages.values())
        print(f"stages at {hi}x (in process, {total:.2f} s): " + ", ".join(
            f"{name} {seconds:.2f} s ({seconds / total:.0%})" for name, seconds in stages.items()))
    for kind, what in (("pillar", "a pillar's text"), ("section", "a section's text")):
        print(f"warm rebuild after an edit to {what} (briefkit watch, 1x): "
              + (f"{warm[kind][0]:.3f} s ({warm[kind][1].strip()})" if warm[kind] else "not measured"))
    if up_to_date is not None:
        print(f"make with nothing changed: {up_to_date:.3f} s (target: under 0.2)")
    print(TARGETS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
