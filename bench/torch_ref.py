#!/usr/bin/python3
"""PyTorch half of the benchmark: the reference workloads of bench/reference.ts, built layer for layer
like our UNet (src/core/models/unet.ts, norm 'none'), trained with Adam (lr 1e-3) on the soft Dice loss of
src/core/losses ('dice': p clipped to [1e-7, 1-1e-7], per sample and class (2TP+s)/(2TP+FP+FN+s),
s = 1e-6, mean of 1-DSC over classes and samples), with the trainer's step: gradients, their global
norm, the update, one read-back of [loss, norm].

Run by bench/run.mjs with Debian's python3-torch (/usr/bin/python3), as a JSON-lines worker:
    /usr/bin/python3 bench/torch_ref.py serve [--threads 2] [--device cpu|cuda]
commands on stdin: {"cmd":"setup","workload":"2d"|"3d"}, {"cmd":"steps","n":N}, {"cmd":"quit"};
replies on stdout, one line each, prefixed "@@ ".
    /usr/bin/python3 bench/torch_ref.py probe      prints torch's version and whether CUDA is usable
"""
import json
import resource
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # run.mjs checks this first and prints how to install it
    print(f"@@ {json.dumps({'ok': False, 'error': f'PyTorch is not importable: {e}'})}", flush=True)
    sys.exit(3)

WORKLOADS = {
    "2d": {"dims": 2, "depth": 3, "filters": 16, "classes": 2, "head": "sigmoid", "batch": 4, "spatial": [128, 128]},
    "3d": {"dims": 3, "depth": 2, "filters": 8, "classes": 3, "head": "softmax", "batch": 2, "spatial": [32, 32, 32]},
}


def reply(obj):
    print("@@ " + json.dumps(obj), flush=True)


def arg(name, default):
    if f"--{name}" in sys.argv:
        i = sys.argv.index(f"--{name}")
        if i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    return default


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / (1024.0 * 1024.0)


class UNet(nn.Module):
    """Our UNet: level l has filters*2^l channels, two conv k3 'same' + bias + ReLU per level, max-pool 2;
    up: 2D conv-transpose k2 s2, 3D nearest x2 then conv k2 'same' (TF padding: 0 before, 1 after), each
    + bias + ReLU; skips concatenated [skip, up]; 1x1 head (sigmoid: 1 channel expanded to [1-p, p])."""

    def __init__(self, w):
        super().__init__()
        self.dims = w["dims"]
        self.depth = w["depth"]
        self.head_kind = w["head"]
        conv = nn.Conv2d if self.dims == 2 else nn.Conv3d
        f = w["filters"]
        cin = 1
        self.enc = nn.ModuleList()
        for level in range(self.depth):
            c = f * 2**level
            self.enc.append(nn.ModuleList([conv(cin, c, 3, padding=1), conv(c, c, 3, padding=1)]))
            cin = c
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for level in range(self.depth - 2, -1, -1):
            c = f * 2**level
            if self.dims == 2:
                self.up.append(nn.ConvTranspose2d(2 * c, c, 2, stride=2))
            else:
                self.up.append(nn.Conv3d(2 * c, c, 2))
            self.dec.append(nn.ModuleList([conv(2 * c, c, 3, padding=1), conv(c, c, 3, padding=1)]))
        out = 1 if self.head_kind == "sigmoid" else w["classes"]
        self.head = conv(f, out, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        skips = []
        h = x
        for level, (a, b) in enumerate(self.enc):
            h = F.relu(b(F.relu(a(h))))
            if level < self.depth - 1:
                skips.append(h)
                h = F.max_pool2d(h, 2) if self.dims == 2 else F.max_pool3d(h, 2)
        for i, level in enumerate(range(self.depth - 2, -1, -1)):
            if self.dims == 2:
                u = self.up[i](h)
            else:
                u = self.up[i](F.pad(F.interpolate(h, scale_factor=2, mode="nearest"), (0, 1, 0, 1, 0, 1)))
            h = torch.cat([skips[level], F.relu(u)], 1)
            a, b = self.dec[i]
            h = F.relu(b(F.relu(a(h))))
        z = self.head(h)
        if self.head_kind == "sigmoid":
            p = torch.sigmoid(z)
            return torch.cat([1 - p, p], 1)
        return torch.softmax(z, 1)


def dice_loss(y, p, smooth=1e-6, eps=1e-7):
    p = p.clamp(eps, 1 - eps)
    axes = tuple(range(2, y.dim()))
    tp = (y * p).sum(axes)
    fp = ((1 - y) * p).sum(axes)
    fn = (y * (1 - p)).sum(axes)
    dsc = (2 * tp + smooth) / (2 * tp + fp + fn + smooth)
    return (1 - dsc).mean()


def synthetic(w, count, device, seed=7):
    """Noise with bright balls labelled as the foreground classes (the content does not change the cost)."""
    g = torch.Generator().manual_seed(seed)
    spatial = w["spatial"]
    out = []
    grids = torch.meshgrid(*[torch.arange(s, dtype=torch.float32) for s in spatial], indexing="ij")
    for _ in range(count):
        labels = torch.zeros([w["batch"], *spatial], dtype=torch.long)
        for n in range(w["batch"]):
            for i in range(6):
                centre = [(0.15 + 0.7 * torch.rand(1, generator=g).item()) * s for s in spatial]
                radius = (0.06 + 0.1 * torch.rand(1, generator=g).item()) * spatial[0]
                d2 = sum((gr - c) ** 2 for gr, c in zip(grids, centre))
                labels[n][d2 <= radius**2] = 1 + (i % (w["classes"] - 1))
        x = labels.float().unsqueeze(1) * 1.5 + torch.randn([w["batch"], 1, *spatial], generator=g) * 0.7 - 0.5
        y = F.one_hot(labels, w["classes"]).movedim(-1, 1).float()
        out.append((x.to(device), y.to(device)))
    return out


class Session:
    def __init__(self, name, device):
        self.w = WORKLOADS[name]
        torch.manual_seed(1)
        self.device = device
        self.model = UNet(self.w).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.batches = synthetic(self.w, 4, device)
        self.step = 0

    def steps(self, n):
        ms = []
        cpu_ms = []
        loss = norm = float("nan")
        params = [p for p in self.model.parameters()]
        for _ in range(n):
            x, y = self.batches[self.step % len(self.batches)]
            t0 = time.perf_counter()
            c0 = time.process_time()
            self.opt.zero_grad(set_to_none=True)
            value = dice_loss(y, self.model(x))
            value.backward()
            gnorm = torch.sqrt(sum((p.grad * p.grad).sum() for p in params))
            self.opt.step()
            readout = torch.stack([value.detach(), gnorm]).cpu()  # one read-back (synchronises CUDA)
            ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)  # all threads of the process
            loss, norm = float(readout[0]), float(readout[1])
            self.step += 1
        return {"ms": ms, "cpuMs": cpu_ms, "loss": loss, "gradNorm": norm}


def serve():
    threads = int(arg("threads", "2"))
    device = arg("device", "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        reply({"ok": False, "error": "--device cuda but torch.cuda.is_available() is False"})
        return 2
    torch.set_num_threads(threads)
    torch.backends.cudnn.benchmark = True
    s = None
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        try:
            cmd = msg["cmd"]
            if cmd == "setup":
                s = Session(msg.get("workload", "2d"), device)
                params = sum(p.numel() for p in s.model.parameters())
                name = torch.cuda.get_device_name(0) if device == "cuda" else f"cpu, {torch.get_num_threads()} threads"
                reply({"ok": True, "backend": f"pytorch {torch.__version__} ({name})", "workload": msg.get("workload", "2d"), "params": params, "rssMB": rss_mb()})
            elif cmd == "steps":
                if s is None:
                    raise RuntimeError("steps before setup")
                r = s.steps(int(msg.get("n", 1)))
                reply({"ok": True, **r, "step": s.step, "rssMB": rss_mb(), "peakRssMB": peak_rss_mb()})
            elif cmd == "quit":
                reply({"ok": True, "peakRssMB": peak_rss_mb()})
                return 0
            else:
                raise RuntimeError(f"unknown command {cmd}")
        except Exception as e:  # reported to run.mjs, which stops with the message
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})
    return 0


def probe():
    reply({"ok": True, "version": torch.__version__, "cuda": torch.cuda.is_available(), "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None})
    return 0


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "serve":
        sys.exit(serve())
    if cmd == "probe":
        sys.exit(probe())
    print("usage: torch_ref.py serve [--threads N] [--device cpu|cuda] | probe", file=sys.stderr)
    sys.exit(2)
