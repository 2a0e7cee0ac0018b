"""`latentsweep explore RESULTS`: serve the explorer (Panel is imported only when the command runs)."""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import sys
import threading
import time
import urllib.request

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD = ("0.0.0.0", "::", "")  # every interface ("" too: the socket layer's any-address)
ANSWER_SECONDS = 120  # the first page of a fresh process imports Panel, HoloViews and torch
# A closed tab's session (and the memory its views hold) is dropped this long after its last connection went, looked
# for at this interval (Bokeh's defaults).
SESSION_LIFETIME_MS, SESSION_CHECK_MS = 15_000, 17_000


def register(commands: argparse._SubParsersAction) -> None:
    """Add the `explore` subcommand to the `latentsweep` parser."""
    explore = commands.add_parser("explore", help="browse sweeps and trials in a web page (Panel)")
    explore.add_argument("results", help="a sweep folder, a folder of sweeps or a `train --out` folder; path or URI")
    explore.add_argument("--port", type=int, default=5006, help="port to serve on (0: any free port)")
    explore.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    explore.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        type=origin,
        metavar="HOST[:PORT]",
        help="with a --host other than loopback: one more origin (a proxy's name) the page may be opened from, "
        "beyond the host's names and addresses, localhost and 127.0.0.1 (tunnels); repeatable; PORT defaults to --port",
    )
    explore.add_argument("--data-dir", default=None, help="folder with the MNIST/Fashion-MNIST IDX files")
    explore.add_argument("--show", action="store_true", help="open the page in a browser")
    explore.set_defaults(handler=run_explore)


def origin(text: str) -> str:
    """An --allow-origin value: HOST or HOST:PORT (a name or an address, [v6] in brackets), never a wildcard."""
    if not re.fullmatch(r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?", text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give HOST or HOST:PORT (no scheme, path or wildcard: any page could then drive the explorer)"
        )
    return text


def websocket_origins(host: str, port: int, allowed: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Origins the page may connect from (Bokeh checks each websocket's Origin header against them).

    Loopback: this machine's names only. Otherwise the bound host's names and addresses (this machine's for a
    wildcard), localhost and 127.0.0.1 (an `ssh -L` or `ray attach -p` tunnel arrives there) and each `allowed`
    one; never "*", which would let any web page a visitor opens drive the explorer with their browser.
    """
    names = ["127.0.0.1", "localhost"] if host in LOOPBACK else [*_host_names(host), "localhost", "127.0.0.1"]
    names += [name for name in allowed if not _has_port(name)]
    origins = [f"{name}:{port}" for name in names] + [name for name in allowed if _has_port(name)]
    return list(dict.fromkeys(origins))


def _has_port(origin: str) -> bool:
    return bool(re.search(r":[0-9]+$", origin)) and not origin.endswith("]")


def _host_names(host: str) -> list[str]:
    """The names and addresses a browser may use for `host`: this machine's for a wildcard, else the host and, for
    a name, its addresses (the local resolver's answer, which is also what the bind used; no reverse lookup)."""
    name = socket.gethostname() if host in WILDCARD else host
    names = [socket.getfqdn(name), name] if host in WILDCARD else [name]
    with contextlib.suppress(OSError):  # a name the resolver does not know: the host itself is still allowed
        names += socket.gethostbyname_ex(name)[2]
    return [f"[{n}]" if ":" in n else n for n in dict.fromkeys(names) if n]


def run_explore(args: argparse.Namespace) -> int:
    """Serve the explorer until interrupted; a RESULTS that cannot be explored exits 2 before anything is served."""
    from explorer.store import ResultsError, ResultsStore

    try:
        ResultsStore(args.results, args.data_dir).sweeps()
    except ResultsError as failure:
        print(f"latentsweep explore: {failure}", file=sys.stderr)
        return 2
    import panel as pn

    from explorer.app import TITLE, build_app

    if args.port == 0:
        args.port = _free_port(args.host)
    server = pn.serve(
        lambda: build_app(args.results, args.data_dir),
        port=args.port,
        address=args.host,
        websocket_origin=websocket_origins(args.host, args.port, args.allow_origin),
        show=False,
        start=False,
        title=TITLE,
        verbose=False,
        unused_session_lifetime_milliseconds=SESSION_LIFETIME_MS,
        check_unused_sessions_milliseconds=SESSION_CHECK_MS,
        liveness=True,  # /liveness?endpoint=/ builds the page once and answers 200 when it works
    )
    server.start()
    from explorer.page.warmup import warm_up_in_background

    warm_up_in_background()  # compiles the latent views' kernels while the person opens the page
    url = _page_url(args.host, args.port)
    threading.Thread(target=_announce, args=(server, url, args), name="explorer-announce", daemon=True).start()
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        print("latentsweep explore: stopped", file=sys.stderr)
    finally:
        server.stop()
    return 0


def _announce(server, url: str, args: argparse.Namespace) -> None:
    """Print the URL once the page answers (not merely once the port is bound), then open it if asked."""
    probe = f"http://{_probe_host(args.host)}:{args.port}/liveness?endpoint=/"
    deadline = time.monotonic() + ANSWER_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(probe, timeout=ANSWER_SECONDS) as answer:
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        print(f"latentsweep explore: the page at {url} did not answer in {ANSWER_SECONDS} s", file=sys.stderr)
        return
    print(f"latentsweep explore: serving {args.results} at {url} (Ctrl-C stops)", flush=True)
    if args.show:
        server.io_loop.add_callback(server.show, "/")


def _page_url(host: str, port: int) -> str:
    """The URL to print: a wildcard bind is reached by this machine's name, a loopback one as localhost."""
    shown = "localhost" if host in LOOPBACK else socket.gethostname() if host in WILDCARD else host
    return f"http://{shown}:{port}/"


def _probe_host(host: str) -> str:
    """Where this process reaches its own server: loopback for the wildcard addresses."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
