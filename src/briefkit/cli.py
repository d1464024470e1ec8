"""Command line: `briefkit build`, `check`, `dist`, `watch` and `new`. The only module that prints."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from briefkit import FORMATS, __version__
from briefkit.errors import BuildError, BuildErrors
from briefkit.project import find_content, new_briefing, scaffold_problem


def _formats(value: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    bad = [v for v in items if v not in FORMATS]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"unknown format {', '.join(bad) or '(none)'}; choose from {','.join(FORMATS)}")
    return items


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="briefkit",
        description="Build a policy briefing written in Markdown into a Word memo (memo.docx), "
                    "a PDF brief (brief.pdf) and a slide deck (deck.pptx), all with the same numbered endnotes.",
        epilog="Examples:\n  briefkit new water-brief            start a briefing in the folder water-brief\n"
               "  briefkit build                      build all three into build/\n"
               "  briefkit build --format docx        only the Word memo\n"
               "  briefkit check                      report content problems without building",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"briefkit {__version__}")
    p.add_argument("--debug", action="store_true", help="show a Python traceback when something fails")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--content", type=Path, default=None, metavar="DIR",
                        help="folder of the briefing's .md files (default: ./content if it holds a briefing, "
                             "else the current folder if it does)")
        sp.add_argument("--templates", type=Path, default=None, metavar="DIR",
                        help="folder whose files override the built-in templates, theme.yaml and fonts "
                             "file by file (default: ./templates when it exists)")
        sp.add_argument("--strict", action="store_true", help="treat warnings (such as uncited notes) as errors")
        sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    b = sub.add_parser("build", help="build the deliverables", description="Build the deliverables into the output folder. "
                       "Every format is rendered before any file is written, and each file is replaced atomically, "
                       "so a failed build leaves the previous deliverables as they were.")
    common(b)
    b.add_argument("--out", type=Path, default=Path("build"), metavar="DIR", help="output folder (default: build)")
    b.add_argument("--format", type=_formats, default=FORMATS, metavar="LIST",
                   help="comma-separated formats to build: docx,pdf,pptx (default: all three)")
    b.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    c = sub.add_parser("check", help="check the content without building",
                       description="Check front matter, endnotes and templates, and render all three formats "
                                   "in memory without writing them; print one line per finding.")
    common(c)

    d = sub.add_parser("dist", help="bundle the deliverables to send out",
                       description="Write OUT/dist/<slug>.zip: the three deliverables named after the briefing's slug, "
                                   "SHA256SUMS and manifest.json (title, date, versions, digest of the sources).")
    common(d)
    d.add_argument("--out", type=Path, default=Path("build"), metavar="DIR", help="output folder (default: build)")

    w = sub.add_parser("watch", help="rebuild when a content or template file is saved",
                       description="Watch the content and template folders and rebuild the deliverables a change "
                                   "affects, printing what was rebuilt. Stop with Ctrl-C.")
    common(w)
    w.add_argument("--out", type=Path, default=Path("build"), metavar="DIR", help="output folder (default: build)")

    n = sub.add_parser("new", help="start a briefing in a new folder",
                       description="Write an example briefing into DIR (new or empty): content/ with a briefing file, "
                                   "sections, two pillars with every front-matter key shown, a cited note, and a "
                                   "README and Makefile, so that `cd DIR && make` builds the three deliverables.")
    n.add_argument("dir", type=Path, metavar="DIR", help="the folder to create")
    n.add_argument("--templates", action="store_true",
                   help="also copy the built-in templates and theme into DIR/templates, to customise them")
    n.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        return _run(args)
    except (BuildError, BuildErrors) as e:
        if args.debug:
            traceback.print_exc()
        findings = e.findings if isinstance(e, BuildErrors) else [e]
        for finding in findings:
            print(finding, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("briefkit: interrupted; no deliverable was changed", file=sys.stderr)
        return 130
    except Exception as e:  # a bug of ours, not the user's: one line, the traceback under --debug
        if args.debug:
            traceback.print_exc()
        print(f"error: {internal_error(e)}", file=sys.stderr)
        return 1


def run() -> None:
    """The `briefkit` command: `main`, then leave without the interpreter's teardown.

    Every file is written and closed by then; the teardown would only free each object one by
    one, which takes a tenth to a fifth of a build.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: nobody is reading any more
        pass
    os._exit(code)


def internal_error(e: Exception) -> str:
    return f"briefkit failed unexpectedly ({type(e).__name__}: {e}); run with --debug for the traceback"


def _usage_problem(args: argparse.Namespace) -> str:
    """What is wrong with the folders named on the command line (or found); empty when nothing.

    Sets `args.content` and `args.templates` to the folders to use."""
    args.content = find_content(args.content)
    if args.content is None:
        return ("no briefing here: neither ./content nor this folder holds a file with 'kind: briefing'; "
                "run this in a briefing's folder, name one with --content DIR, or start one with `briefkit new DIR`")
    if not args.content.is_dir():
        what = "is not a folder" if args.content.exists() else "does not exist"
        return f"content folder '{args.content}' {what} (--content DIR)"
    if args.templates is None:
        args.templates = Path("templates") if Path("templates").is_dir() else None
    elif not args.templates.is_dir():
        return f"templates folder '{args.templates}' does not exist; omit --templates to use the built-in templates"
    return ""


def _new(args: argparse.Namespace) -> int:
    if problem := scaffold_problem(args.dir):
        print(f"briefkit new: error: {problem}", file=sys.stderr)
        return 2
    try:
        files = new_briefing(args.dir, with_templates=args.templates)
    except OSError as e:
        print(f"briefkit new: error: cannot write '{e.filename or args.dir}': {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"created {args.dir}/ with {len(files)} files: {', '.join(p.as_posix() for p in files)}")
    print(f"next: cd {args.dir} && make   (or: briefkit build)")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "new":
        return _new(args)
    if problem := _usage_problem(args):
        print(f"briefkit {args.command}: error: {problem}", file=sys.stderr)
        return 2
    from briefkit.build import build, bundle, check, watch  # the libraries, only when there is work for them

    if args.command == "check":
        summary = check(args.content, args.templates, strict=args.strict, side_by_side=not args.debug)
        for w in summary.warnings:
            print(w, file=sys.stderr)
        print(f"{args.content}: {summary.pillars} pillars, {summary.notes} endnotes, "
              f"{len(summary.warnings)} warnings, no errors")
        return 0

    def report(built) -> None:
        if getattr(args, "quiet", False):
            return
        if built.rendered:
            print(f"built {built.path} ({built.size / 1024:.0f} KiB, {built.seconds:.2f} s)", flush=True)
        else:
            print(f"kept {built.path} (its document is as before)", flush=True)

    def rebuilt(built, seconds: float) -> None:
        kept = [b.path.name for b in built if not b.rendered]
        print(f"rebuilt {', '.join(b.path.name for b in built if b.rendered) or 'nothing'} in {seconds:.2f} s"
              + (f"; {', '.join(kept)} unchanged" if kept else ""), flush=True)

    if args.command == "dist":
        report(bundle(args.content, args.templates, args.out, strict=args.strict, side_by_side=not args.debug))
        return 0
    if args.command == "watch":
        def failed(e: Exception) -> None:
            if not isinstance(e, (BuildError, BuildErrors)):
                if args.debug:
                    traceback.print_exception(e)
                e = BuildError(internal_error(e))
            for finding in getattr(e, "findings", [e]):
                print(finding, file=sys.stderr, flush=True)

        folders = f"{args.content}/" + (f" and {args.templates}/" if args.templates else "")
        try:
            watch(args.content, args.templates, args.out, on_built=report, on_error=failed, on_rebuilt=rebuilt,
                  on_watching=lambda: print(f"watching {folders}; Ctrl-C to stop", flush=True))
        except KeyboardInterrupt:
            return 0
        return 0

    build(args.content, args.templates, args.out, args.format, strict=args.strict, on_built=report,
          on_warning=lambda w: print(w, file=sys.stderr), side_by_side=not args.debug)
    return 0
