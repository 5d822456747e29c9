"""`python -m sextant_services.router --spec router.yaml --run-dir DIR`: nginx plus the readiness loop."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from .controller import RouterController
from .spec import RouterSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sextant_services.router", description=__doc__)
    parser.add_argument("--spec", type=Path, required=True, help="router spec (YAML or JSON)")
    parser.add_argument("--run-dir", type=Path, required=True, help="where nginx.conf, pid and logs go")
    parser.add_argument("--nginx", default="nginx", help="nginx binary")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        spec = RouterSpec.load(args.spec)
    except (OSError, ValueError) as exc:
        logging.getLogger("sextant_services.router").error("cannot start the router: %s", exc)
        return 2
    controller = RouterController(spec, args.run_dir, args.nginx, spec_path=args.spec)
    signal.signal(signal.SIGTERM, lambda *_: controller.stop_soon())
    signal.signal(signal.SIGINT, lambda *_: controller.stop_soon())
    return controller.run()


if __name__ == "__main__":
    sys.exit(main())
