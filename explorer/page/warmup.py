"""Compiling the latent views' kernels once a process, in the background, before a person opens a trial.

datashader and numba compile a kernel the first time each is used: the first trial shown in a fresh process took
10-17 s here, a later one under 2 s. Drawing every latent view once for a tiny made-up trial (an untrained model,
its own encodings) compiles them all; a person's first trial then costs what any other does.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bokeh.document import Document
from panel.io.state import set_curdoc

log = logging.getLogger(__name__)

WARM_UP_DIMS = 3
_lock = threading.Lock()
_thread: threading.Thread | None = None
finished = threading.Event()  # set when the warm-up is over (done or failed)


def warm_up_in_background() -> threading.Thread:
    """Start the warm-up on a daemon thread, once a process; later calls return the same thread."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_warm_up_logged, name="explorer-warm-up", daemon=True)
            _thread.start()
        return _thread


def _warm_up_logged() -> None:
    start = time.perf_counter()
    try:
        # A blank document of its own: without it, Panel would take the document of whichever session the event
        # loop is serving at that moment, and queue this thread's redraws onto that session.
        with set_curdoc(Document()):
            warm_up()
        log.info("latent views warmed up in %.1f s", time.perf_counter() - start)
    except Exception:  # a failed warm-up only costs the first trial its compile time
        log.exception("warming up the latent views failed")
    finally:
        finished.set()


def warm_up() -> None:
    """Draw every latent view (SPLOM, focus plot, selections, decoding) for a tiny made-up trial."""
    from explorer.latent.colouring import make_colouring
    from explorer.latent.splom import SplomRenderer
    from explorer.latent.workbench import LatentExplorer

    trial, latents = _made_up_trial()
    state = LatentExplorer(trial, latents).state  # draws the SPLOM, the focus plot and the decoded image
    x, y = state.columns[state.focus[0]], state.columns[state.focus[1]]
    state.select_lasso(np.array([x.min(), x.max(), x.max()]), np.array([y.min(), y.min(), y.max()]))
    state.select_box((float(np.median(x)), y.min(), x.max(), y.max()))  # SPLOM and focus with a selection over grey
    # Above POINTS_PER_CALL / 2 samples each pair gets its own datashader call, with float32 x: one more kernel.
    rng = np.random.default_rng(0)
    many = rng.standard_normal((2, 300_000)).astype(np.float32)
    codes = latents.iloc[rng.integers(0, len(latents), many.shape[1])].reset_index(drop=True)
    SplomRenderer(many, ["a", "b"], make_colouring(codes, "label")).render([0, 1])


def _made_up_trial():
    """(LoadedTrial, latents) of an untrained VAE on a few hundred 32x32 shapes, encoded as a real trial is."""
    from vaemodels import LoadedTrial, TrialConfig, checkpoint_name, create_model, encode, load_dataset, on

    keys = {"arch": "vae", "dataset": "shapes", "image_size": 32, "n_samples": 400, "embed_samples": 0}
    config = TrialConfig.from_dict({**keys, "latent_dim": WARM_UP_DIMS, "precision": "fp32", "epochs": 1})
    model = create_model(config).eval()
    latents = encode(model, load_dataset(config))  # (80, ...) with the dtypes a latents.parquet has
    nowhere = on(None, Path(tempfile.gettempdir()) / "latentsweep-warm-up")  # never read: the latents are given
    return LoadedTrial(nowhere, nowhere.join(checkpoint_name(1)), config, model, []), latents
