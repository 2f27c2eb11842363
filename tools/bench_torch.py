#!/usr/bin/env python3
"""PyTorch on the work of quantspace-bench, for comparison.

Measures torch.fake_quantize_per_channel_affine (forward) on 32x56x56x128, 1x224x224x3 and
4096x1024 (channel axis = last), with 1 and 2 intra-op threads, and reports the median time and
bytes per second counted as quantspace-bench does (8 bytes per element: read the input, write the
output). Then one step of the linear regression of assets/examples/linear_regression.page.json
(64 points, y = w*x + b, mean squared error, autograd, plain gradient descent with lr 0.5) in eager
mode on one thread: the peer of BM_TrainStep/linreg. Exits 0 with a message when torch is not
installed (Debian: apt-get install python3-torch).

    python3 tools/bench_torch.py [--repetitions 5] [--min-time 0.5] [--json]
"""
import argparse
import json
import statistics
import sys
import time

SHAPES = [("32x56x56x128", (32, 56, 56, 128)), ("1x224x224x3", (1, 224, 224, 3)),
          ("4096x1024", (4096, 1024))]


def measure(fn, min_time):
    """Mean seconds per call over a run of at least min_time seconds (after a warm-up)."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def linreg_step(args):
    """Median seconds of one training step of the linear regression page, in eager PyTorch."""
    import torch
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(7)
    x = torch.linspace(-1, 1, 64)
    y = 3 * x + 0.5 + 0.2 * torch.randn(64, generator=gen)
    w = torch.zeros((), requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    lr = 0.5

    def step():
        loss = ((x * w + b - y) ** 2).mean()
        gw, gb = torch.autograd.grad(loss, (w, b))
        with torch.no_grad():
            w.sub_(gw * lr)
            b.sub_(gb * lr)

    times = [measure(step, args.min_time) for _ in range(args.repetitions)]
    return {"name": "torch_train_step/linreg/threads:1", "median_seconds": statistics.median(times),
            "bytes_per_second": 0.0, "repetitions": args.repetitions}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("bench_torch: torch is not installed (apt-get install python3-torch); skipped")
        return 0

    results = []
    for name, shape in SHAPES:
        d = shape[-1]
        gen = torch.Generator().manual_seed(1)
        x = torch.rand(shape, generator=gen, dtype=torch.float32) * 16 - 8
        lo = -1.0 - 0.01 * (torch.arange(d) % 97).float()
        hi = 2.0 + 0.02 * (torch.arange(d) % 89).float()
        scale = ((hi - lo) / 255.0).float()
        zero_point = torch.clamp(torch.round(-lo / scale), 0, 255).to(torch.int32)
        for threads in (1, 2):
            torch.set_num_threads(threads)

            def run():
                return torch.fake_quantize_per_channel_affine(x, scale, zero_point, len(shape) - 1,
                                                              0, 255)

            times = [measure(run, args.min_time) for _ in range(args.repetitions)]
            median = statistics.median(times)
            bytes_per_second = 8 * x.numel() / median
            results.append({"name": f"torch_fake_quantize_per_channel/{name}/threads:{threads}",
                            "median_seconds": median, "bytes_per_second": bytes_per_second,
                            "repetitions": args.repetitions})
    results.append(linreg_step(args))
    if args.json:
        json.dump({"torch_version": torch.__version__, "results": results}, sys.stdout, indent=2)
        print()
    else:
        print(f"torch {torch.__version__}")
        for r in results:
            rate = f"{r['bytes_per_second'] / 1e9:8.2f} GB/s" if r["bytes_per_second"] else ""
            print(f"{r['name']:55s} {r['median_seconds'] * 1e3:10.4f} ms {rate}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
