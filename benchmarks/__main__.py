"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only NAME[,NAME...]]``.

Writes ``<out>/latest.json`` and ``<out>/latest.md`` (``quick.json``/``quick.md`` with
``--quick``) and prints the table. With ``--only`` the named entries replace theirs in an
existing file of the same name; the others are kept. Goals are printed next to each number as
PASS/FAIL; a FAIL does not change the exit code, an entry that crashed does (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import ENTRIES
from benchmarks._common import load_average, machine_info, ray_session

# share one local Ray, started once (overhead starts a fresh one per repeat; gpu one with a GPU)
RAY_ENTRIES = ("asha", "search", "ensemble", "autogluon", "tables", "nets")

RESULTS = Path(__file__).resolve().parent / "results"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _verdict(g: dict[str, Any] | None) -> tuple[str, str]:
    if not g:
        return "", ""
    return g["target"], {True: "PASS", False: "FAIL", None: "n/a"}[g["pass"]]


def table_rows(entries: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for name, res in entries.items():
        if "skipped" in res:
            rows.append((name, "skipped", res["skipped"], "", ""))
            recorded = res.get("recorded")
            if recorded:  # the last run on a GPU machine, from its own file
                where = f"recorded on {recorded['device']}"
                for metric, value in recorded.get("metrics", {}).items():
                    rows.append((f"{name} ({where})", metric, _fmt(value), "", ""))
            continue
        if "error" in res:
            rows.append((name, "error", res["error"], "", "ERROR"))
            continue
        for metric, value in res.get("metrics", {}).items():
            g = res.get("goals", {}).get(metric)
            if isinstance(value, dict):  # per dataset
                for key, v in value.items():
                    rows.append((name, f"{metric} [{key}]", _fmt(v), *_verdict((g or {}).get(key))))
            else:
                rows.append((name, metric, _fmt(value), *_verdict(g)))
    return rows


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        f"# rayboost benchmarks ({doc['mode']})",
        "",
        f"- machine: {m['cpu_model']}, {m['cores']} cores; torch {m['torch']}, ray {m['ray']}, "
        f"Python {m['python']}, rayboost {m['rayboost']}"
        + (f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU"),
        f"- load average (1/5/15 min) before {doc['load_average']['before']}, after {doc['load_average']['after']}",
        f"- finished {doc['finished_at']}, {doc['duration_s']:.0f} s",
    ]
    if doc.get("updated_entries"):
        older = sorted(
            {
                r.get("run_finished_at")
                for n, r in doc["entries"].items()
                if n not in doc["updated_entries"]
            }
            - {None}
        )
        lines.append(
            f"- this run re-ran {', '.join(doc['updated_entries'])}; each other entry comes from the earlier "
            f"run named beside it below ({', '.join(older) or 'unknown'})"
        )
    lines += [
        "",
        "| entry | metric | value | goal | result |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in table_rows(doc["entries"])]
    lines += ["", "Per-entry load and duration:", ""]
    for name, res in doc["entries"].items():
        lines.append(
            f"- {name}: {res.get('duration_s', 0):.0f} s, load {res.get('load_before')} → {res.get('load_after')}, "
            f"run finished {res.get('run_finished_at') or doc['finished_at']}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets (< 2 minutes), same keys"
    )
    parser.add_argument("--only", default="", help=f"comma-separated entries: {','.join(ENTRIES)}")
    parser.add_argument(
        "--out", default=str(RESULTS), help="output folder (default benchmarks/results)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(ENTRIES)
    unknown = [n for n in names if n not in ENTRIES]
    if unknown:
        parser.error(f"unknown entry {unknown[0]!r}; choose from {', '.join(ENTRIES)}")
    logging.getLogger("ray.tune.search.variant_generator").setLevel(logging.ERROR)

    stem = "quick" if args.quick else "latest"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started, start, before = _now(), time.perf_counter(), load_average()
    entries: dict[str, Any] = {}
    failed = False
    with contextlib.ExitStack() as ray_up:
        ray_running = False
        for name in names:
            if name in RAY_ENTRIES and not ray_running:
                ray_up.enter_context(ray_session(num_cpus=2))  # Ray start-up: not in any timing
                ray_running = True
            elif name not in RAY_ENTRIES and ray_running:
                ray_up.close()
                ray_running = False
            print(f"== {name} (load {load_average()})", flush=True)
            t0, lb = time.perf_counter(), load_average()
            try:
                res = importlib.import_module(f"benchmarks.{name}").run(quick=args.quick)
            except Exception as exc:  # one broken entry must not hide the others
                failed = True
                res = {
                    "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
                    "traceback": traceback.format_exc(),
                }
            res.update(
                duration_s=round(time.perf_counter() - t0, 1),
                load_before=lb,
                load_after=load_average(),
            )
            entries[name] = res
            for row in table_rows({name: res}):
                print("   " + "  ".join(x for x in row[1:] if x), flush=True)

    doc: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started_at": started,
        "finished_at": _now(),
        "duration_s": round(time.perf_counter() - start, 1),
        "machine": machine_info(),
        "load_average": {"before": before, "after": load_average()},
        "entries": entries,
    }
    for res in entries.values():
        res["run_finished_at"] = doc["finished_at"]
    path = out / f"{stem}.json"
    if args.only and path.exists():  # a partial run updates its entries in the existing file
        try:
            previous = json.loads(path.read_text())
            kept = {}
            for name, res in previous.get("entries", {}).items():
                if "run_finished_at" not in res:  # written before entries named their run
                    rerun = name in previous.get("updated_entries", previous.get("entries", {}))
                    source = previous if rerun else previous.get("kept_from") or previous
                    res = {**res, "run_finished_at": source.get("finished_at")}
                kept[name] = res
            doc["entries"] = {**kept, **entries}
            doc["updated_entries"] = names
            # where the kept entries come from: the run that last wrote them all
            doc["kept_from"] = previous.get("kept_from") or {
                "finished_at": previous.get("finished_at"),
                "duration_s": previous.get("duration_s"),
            }
        except (OSError, ValueError):
            pass
        doc["entries"] = {n: doc["entries"][n] for n in ENTRIES if n in doc["entries"]}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    text = markdown(doc)
    (out / f"{stem}.md").write_text(text)
    print()
    print(text)
    print(f"wrote {path} and {out / f'{stem}.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
