"""`latentsweep explore RESULTS`: serve the explorer (Panel is imported only when the command runs)."""

from __future__ import annotations

import argparse
import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `explore` subcommand to the `latentsweep` parser."""
    explore = commands.add_parser("explore", help="browse sweeps and trials in a web page (Panel)")
    explore.add_argument("results", help="a sweep folder, a folder of sweeps or a `train --out` folder; path or URI")
    explore.add_argument("--port", type=int, default=5006, help="port to serve on (0: any free port)")
    explore.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    explore.add_argument("--data-dir", default=None, help="folder with the MNIST/Fashion-MNIST IDX files")
    explore.add_argument("--show", action="store_true", help="open the page in a browser")
    explore.set_defaults(handler=run_explore)


def websocket_origins(host: str, port: int) -> list[str]:
    """Origins the page may connect from: the bound address, and its other names on this machine."""
    if host in ("0.0.0.0", "::"):
        return ["*"]  # bound to every interface: the person chose to serve other machines
    names = ("127.0.0.1", "localhost") if host in LOOPBACK else (host,)
    return [f"{name}:{port}" for name in names]


def run_explore(args: argparse.Namespace) -> int:
    """Serve the explorer until interrupted."""
    import panel as pn

    from explorer.app import TITLE, build_app

    if args.port == 0:
        args.port = _free_port(args.host)
    server = pn.serve(
        lambda: build_app(args.results, args.data_dir),
        port=args.port,
        address=args.host,
        websocket_origin=websocket_origins(args.host, args.port),
        show=False,
        start=False,
        title=TITLE,
        verbose=False,
    )
    server.start()
    from explorer.page.warmup import warm_up_in_background

    warm_up_in_background()  # compiles the latent views' kernels while the person opens the page
    url = f"http://{'localhost' if args.host in LOOPBACK else args.host}:{args.port}/"
    print(f"latentsweep explore: serving {args.results} at {url} (Ctrl-C stops)", flush=True)
    if args.show:
        server.io_loop.add_callback(server.show, "/")
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        print("latentsweep explore: stopped", file=sys.stderr)
    finally:
        server.stop()
    return 0


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
