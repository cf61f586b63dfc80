"""PyTorch's conv3d on the four layers of benches/conv3d.rs, forward and backward, median ms.

The reference the crate's benchmark is compared with, on the same machine:

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch
    /tmp/torchenv/bin/python crates/conv3d/benches/pytorch_conv3d.py

Two threads (the development machine's cores), NCDHW (the layout adamm-conv3d takes and
returns) and channels-last; backward = the input, weight and bias gradients from one output
gradient, as in the Rust benchmark.
"""

import statistics
import time

import torch

LAYERS = [(16, 128), (32, 64), (64, 32), (128, 16)]


def median_ms(f, n=10):
    f()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main():
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for channels, side in LAYERS:
        for channels_last in (False, True):
            x = torch.randn(1, channels, side, side, side)
            conv = torch.nn.Conv3d(channels, channels, 3, padding=1)
            if channels_last:
                x = x.to(memory_format=torch.channels_last_3d)
                conv = conv.to(memory_format=torch.channels_last_3d)
            with torch.no_grad():
                forward = median_ms(lambda: conv(x))
            xg = x.clone().requires_grad_(True)
            y = conv(xg)
            dy = torch.randn_like(y)
            params = [xg, conv.weight, conv.bias]
            backward = median_ms(lambda: torch.autograd.grad(y, params, dy, retain_graph=True))
            layout = "channels-last" if channels_last else "NCDHW"
            print(
                f"{channels}->{channels} {side}^3 {layout:13} "
                f"forward {forward:7.1f} ms  backward {backward:7.1f} ms"
            )


if __name__ == "__main__":
    main()
