#!/usr/bin/env python3
"""PyTorch on the work of quantspace-bench, for comparison.

Measures torch.fake_quantize_per_channel_affine (forward) on 32x56x56x128, 1x224x224x3 and
4096x1024 (channel axis = last), with 1 and 2 intra-op threads, and reports the median time and
bytes per second counted as quantspace-bench does (8 bytes per element: read the input, write the
output). Then one step of the linear regression of assets/examples/linear_regression.page.json
(64 points, y = w*x + b, mean squared error, autograd, plain gradient descent with lr 0.5) in eager
mode on one thread: the peer of BM_TrainStep/linreg; and one step of the digits network of
assets/examples/digits_float.page.json (a batch of 32 8x8 images, Conv2D 3x3 1->8 SAME, Relu,
Conv2D 3x3 8->16 stride 2 SAME, Relu, Linear 256->10, mean cross entropy, Adam with lr 0.01) on one
thread: the peer of BM_TrainStep/digits. Then the peers of BM_MatMul and BM_Conv2D:
torch.matmul on 1024x1024 by 1024x1024, and conv2d of 8x56x56x64 (channels-last memory, as
NHWC) with a 3x3 filter, 64 to 64 channels, stride 1, SAME padding (padding=1), with 1 and 2
threads, reporting flops_per_second (2 * multiply-adds). Torch computes matmul with the system's
BLAS (install libopenblas0-pthread) and conv2d with oneDNN. Exits 0 with a message when torch is not
installed (Debian: apt-get install python3-torch).

    python3 tools/bench_torch.py [--repetitions 5] [--min-time 0.5] [--json] [--dense-only]
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


def digits_step(args):
    """Median seconds of one training step of the digits network, in eager PyTorch."""
    import torch
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(5)
    # Random images and labels of the digits' shapes: the time does not depend on the values, and
    # the batch is sliced from the whole train split each step, as the Dataset block does.
    images = torch.randint(0, 17, (1437, 1, 8, 8), generator=gen).float()
    labels = torch.randint(0, 10, (1437,), generator=gen)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    position = [0]

    def step():
        k = position[0]
        position[0] = (k + 1) % 44
        x = images[32 * k:32 * k + 32] / 16
        loss = torch.nn.functional.cross_entropy(net(x), labels[32 * k:32 * k + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()

    times = [measure(step, args.min_time) for _ in range(args.repetitions)]
    return {"name": "torch_train_step/digits/threads:1", "median_seconds": statistics.median(times),
            "bytes_per_second": 0.0, "repetitions": args.repetitions}


def dense_peers(args):
    """torch.matmul and channels-last conv2d, the peers of BM_MatMul and BM_Conv2D."""
    import torch
    gen = torch.Generator().manual_seed(3)
    a = torch.rand((1024, 1024), generator=gen) * 2 - 1
    b = torch.rand((1024, 1024), generator=gen) * 2 - 1
    x = (torch.rand((8, 64, 56, 56), generator=gen) * 2 - 1).to(
        memory_format=torch.channels_last)
    w = (torch.rand((64, 64, 3, 3), generator=gen) * 2 - 1).to(memory_format=torch.channels_last)
    cases = [("torch_matmul/1024x1024x1024", lambda: torch.matmul(a, b), 1024.0 ** 3),
             ("torch_conv2d/8x56x56x64_3x3x64",
              lambda: torch.nn.functional.conv2d(x, w, padding=1), 8.0 * 56 * 56 * 64 * 9 * 64)]
    results = []
    with torch.no_grad():
        for name, fn, multiply_adds in cases:
            for threads in args.threads:
                torch.set_num_threads(threads)
                times = [measure(fn, args.min_time) for _ in range(args.repetitions)]
                median = statistics.median(times)
                results.append({"name": f"{name}/threads:{threads}", "median_seconds": median,
                                "bytes_per_second": 0.0,
                                "flops_per_second": 2 * multiply_adds / median,
                                "repetitions": args.repetitions})
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--dense-only", action="store_true",
                    help="only the peers of BM_MatMul and BM_Conv2D")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                    help="thread counts of the peers of BM_MatMul and BM_Conv2D; torch's BLAS "
                         "takes its own from OPENBLAS_NUM_THREADS, so run one count at a time "
                         "with that set to it")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        print("bench_torch: torch is not installed (apt-get install python3-torch); skipped")
        return 0

    results = []
    for name, shape in [] if args.dense_only else SHAPES:
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
    if not args.dense_only:
        results.append(linreg_step(args))
        results.append(digits_step(args))
    results += dense_peers(args)
    if args.json:
        json.dump({"torch_version": torch.__version__, "results": results}, sys.stdout, indent=2)
        print()
    else:
        print(f"torch {torch.__version__}")
        for r in results:
            rate = f"{r['bytes_per_second'] / 1e9:8.2f} GB/s" if r["bytes_per_second"] else ""
            if r.get("flops_per_second"):
                rate = f"{r['flops_per_second'] / 1e9:8.2f} GFLOP/s"
            print(f"{r['name']:55s} {r['median_seconds'] * 1e3:10.4f} ms {rate}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
