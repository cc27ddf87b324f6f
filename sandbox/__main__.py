"""Serve every fake on 127.0.0.1 until interrupted, and write a configuration per connector pointing at it.

    python -m sandbox [--port 0] [--seed 1] [--config-dir DIR]

With ``--config-dir``, ``DIR/<connector>.json`` is written for each fake; run a connector against it with
``cd <connector> && fivetran debug --configuration DIR/<connector>.json``.
"""

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from sandbox import registry
from sandbox.server import Sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--config-dir", type=Path, help="write <connector>.json configurations here")
    args = parser.parse_args(argv)
    box = Sandbox(*(registry.make_fake(name, seed=args.seed) for name in registry.available()), port=args.port)
    box.start()
    print(f"sandbox listening on http://127.0.0.1:{box.port} with fakes: {', '.join(box.fakes)}", flush=True)
    if args.config_dir:
        args.config_dir.mkdir(parents=True, exist_ok=True)
        for name in box.fakes:
            # Written aside and renamed: a script that waits for the file never reads it half written.
            partial = args.config_dir / f".{name}.json.partial"
            partial.write_text(json.dumps(box.configuration(name), indent=2))
            partial.replace(args.config_dir / f"{name}.json")
        print(f"configurations written to {args.config_dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    box.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
