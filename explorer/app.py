"""The explorer page: assembles the views in a Panel template. Served by `latentsweep explore RESULTS` or
`panel serve explorer/app.py --args --results RESULTS [--data-dir DIR]`.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import logging
import sys
from collections.abc import Callable
from functools import cached_property

import panel as pn

from explorer.page.boxes import card, error_box, message_box
from explorer.page.release import give_back_memory_soon, release_links
from explorer.page.scheduling import LatestJob
from explorer.page.state import ExplorerState
from explorer.page.view_link import ViewLink, trial_ids_of
from explorer.page.warmup import warm_up_in_background
from explorer.store import ResultsError, ResultsStore
from explorer.sweep.analytics import SweepAnalytics
from explorer.sweep.chooser import SweepChooser
from explorer.sweep.overview import SweepOverview
from explorer.sweep.study_view import StudyView
from explorer.sweep.table import TrialTable
from explorer.trial.curves import TrainingCurves
from explorer.trial.kl import KLBars
from explorer.trial.reconstructions import ReconstructionsView
from explorer.trial.summary import TrialSummary

pn.extension("tabulator", notifications=False)
log = logging.getLogger(__name__)

TITLE = "latentsweep explorer"
ACCENT = "#0072B2"
LATENT_TAB, LATENT_INDEX = "Latent space", 2
REFRESH_MS = 5_000  # how often a session looks for new trials (a running sweep rewrites trials.parquet)
HELP = (
    "Pick a trial in the table (sortable; filter in the column headers or with the ranges above it), or click a "
    "point in the sweep overview. The Trial and Latent space tabs follow the selected trial. New trials appear as a "
    "running sweep writes them."
)


def _empty_tab() -> pn.Column:
    return pn.Column(sizing_mode="stretch_width")


def _latent_module_present() -> bool:
    """True when the latent-space views can be imported (the tab is offered)."""
    try:
        import explorer.latent.workbench  # noqa: F401
    except Exception:  # absent or broken: the rest of the page works without it
        log.exception("the latent-space views are unavailable")
        return False
    return True


def _latent_explorer(data_dir: str | None):
    """The latent-space views (SPLOM, traversals) when that module is present and works; None otherwise."""
    try:
        from explorer.latent.workbench import LatentExplorer

        return LatentExplorer(data_dir=data_dir)
    except Exception:  # absent or broken: the rest of the page works without it
        log.exception("the latent-space views are unavailable")
        return None


def _compare_view(latent_explorer, store: ResultsStore, state: ExplorerState):
    """The second-trial comparison under the latent workbench, when that module works; None otherwise."""
    try:
        from explorer.latent.compare_view import CompareView

        return CompareView(latent_explorer.state, lambda trial_id: _load(store, state.sweep, trial_id))
    except Exception:  # the rest of the latent tab works without it
        log.exception("the trial comparison is unavailable")
        return None


def _load(store: ResultsStore, sweep: str | None, trial_id: str) -> tuple:
    return store.trial(sweep, trial_id), store.latents(sweep, trial_id)


class ExplorerApp(pn.viewable.Viewer):
    """Every view of one session, wired to one ExplorerState, in a BootstrapTemplate: the trial table in a strip
    that stays on top, and below it one tab a scale (the sweep, the selected trial, its latent space).

    The latent views follow the selected trial only while their tab is open. They are rebuilt on a worker thread
    (LatestJob): the event loop stays free for the next click, and a trial picked while another is being drawn
    replaces it. The tab and the trial stay as they are when the other changes.

    A tab is filled when it is first shown, and a tab's views are built then: a new session builds and sends the
    table and one tab's figures only. When served, even that tab waits until the browser shows the table.
    """

    def __init__(self, store: ResultsStore, first_tab_later: bool = False, **params) -> None:
        super().__init__(**params)
        self.store = store
        self.state = ExplorerState()
        self.chooser = SweepChooser(store, self.state)
        self.table = TrialTable(store, self.state)
        self.overview = SweepOverview(store, self.state)
        self.latent_error = pn.Column(sizing_mode="stretch_width")
        self.latent_shown: tuple[str | None, str | None] | None = None  # (sweep, trial_id) the latent views show
        self.latent_job = LatestJob(self._update_latent_explorer)
        tabs = [("Sweep", _empty_tab()), ("Trial", _empty_tab())]
        if _latent_module_present():
            tabs.append((LATENT_TAB, _empty_tab()))
        self.tab_names = [name for name, _ in tabs]
        self.built_tabs: set[str] = set()  # each tab is filled when first shown: a new session sends one tab
        # Not dynamic: a tab rendered later fetches Panel's loading.css from its CDN, and the page must work offline.
        self.tabs = pn.Tabs(*tabs, sizing_mode="stretch_width", css_classes=["ls-tabs"])
        self.tabs.param.watch(self._tab_opened, "active")
        self.state.param.watch(self._send_to_latent_explorer, ["sweep", "trial_id"])
        self.link: ViewLink | None = None  # the view in the URL, when served
        # A served page asks for the latent views only once the browser has the page: a worker thread that fills
        # them while the page is still being sent leaves the browser with panes the server no longer updates
        # (a link with tab=latent did this, and the selection summary then never changed again).
        self.page_loaded = not first_tab_later
        if not first_tab_later:
            self.show_first_tab()

    def link_to(self, location: object) -> None:
        """Restore the view a URL names (pn.state.location), then keep the URL in step with the page."""
        self.link = ViewLink(self, location)
        self.link.restore(self.store.sweeps(), lambda sweep: trial_ids_of(self.store.trials(sweep)))
        self.link.follow()
        self._send_to_latent_explorer()
        # The browser sends its own URL when the page connects: write the restored view once it has.
        pn.state.onload(self.link.write)

    def show_first_tab(self) -> None:
        """Fill the tab shown first (a served page does so once the browser shows the table)."""
        self.page_loaded = True
        self._tab_opened()

    def _tab_content(self, name: str) -> list[pn.viewable.Viewable]:
        if name == "Sweep":
            return [self.overview, self.analytics, card("Study: scores over seeds", self.study)]
        if name == LATENT_TAB:
            if self.latent_explorer is None:
                return [self.latent_error]
            compare = [card("Compare with another trial", self.compare)] if self.compare is not None else []
            return [self.latent_error, self.latent_explorer, *compare]
        return [
            pn.Row(
                card("Selected trial", self.summary, min_width=380),
                card("KL per dimension", self.kl_bars, min_width=380),
                sizing_mode="stretch_width",
            ),
            card("Training curves", self.curves),
            card("Reconstructions", self.reconstructions),
        ]

    def _tab_opened(self, *_: object) -> None:
        """Fill a tab the first time it opens, then let the latent views follow the selected trial."""
        name = self.tab_names[self.tabs.active]
        if name not in self.built_tabs:
            self.built_tabs.add(name)
            with _models_frozen():
                self.tabs[self.tabs.active].objects = self._tab_content(name)
        self._send_to_latent_explorer()

    # Each view is built when first asked for: its tab opening, or a script reading it.
    @cached_property
    def summary(self) -> TrialSummary:
        """The selected trial's config and metrics."""
        return TrialSummary(self.store, self.state)

    @cached_property
    def curves(self) -> TrainingCurves:
        """The selected trial's training curves."""
        return TrainingCurves(self.store, self.state)

    @cached_property
    def kl_bars(self) -> KLBars:
        """The selected trial's KL per latent dimension."""
        return KLBars(self.store, self.state)

    @cached_property
    def reconstructions(self) -> ReconstructionsView:
        """The selected trial's reconstructions beside their originals."""
        return ReconstructionsView(self.store, self.state)

    @cached_property
    def latent_explorer(self):
        """The latent-space views (None when their module is absent or broken)."""
        return _latent_explorer(self.store.data_dir) if _latent_module_present() else None

    @cached_property
    def analytics(self) -> SweepAnalytics:
        """Parallel coordinates, importance and the Pareto front of the sweep."""
        return SweepAnalytics(self.store, self.state, self.table)

    @cached_property
    def study(self) -> StudyView:
        """Scores over seeds, their correlation and disagreements (sweeps with seed replicates)."""
        return StudyView(self.store, self.state, open_trial=self.open_in_latent_space)

    @cached_property
    def compare(self):
        """The second-trial comparison under the latent workbench (None without the latent views)."""
        if self.latent_explorer is None:
            return None
        return _compare_view(self.latent_explorer, self.store, self.state)

    @property
    def latent_open(self) -> bool:
        """True while the latent space's tab is the one shown."""
        return self.tabs.active == LATENT_INDEX and self.latent_explorer is not None

    def open_tab(self, name: str) -> None:
        """Show the tab of that name (what a click on its header does)."""
        self.tabs.active = self.tab_names.index(name)

    def open_in_latent_space(self, trial_id: str) -> None:
        """Select the trial and show its latent space (the Study view's disagreement list does this)."""
        self.state.trial_id = trial_id
        if self.latent_explorer is not None:
            self.open_tab(LATENT_TAB)

    def refresh(self) -> None:
        """Look for new sweeps and for changes to the shown sweep's trials table."""
        try:
            self.chooser.refresh()
            self.table.refresh()
        except ResultsError as failure:  # RESULTS vanished or became unreadable while the page was open
            log.warning("refresh failed: %s", failure)

    def _send_to_latent_explorer(self, *_: object) -> None:
        """Ask for the selected trial's latent views, when the card is open and they show another trial."""
        request = (self.state.sweep, self.state.trial_id)
        if not self.page_loaded or not self.latent_open or (request == self.latent_shown and not self.latent_job.busy):
            return
        self.latent_explorer.layout.loading = True  # until the views show it: a spinner, and no clicks on old views
        self.latent_job.submit(request)

    def _update_latent_explorer(self, request: tuple[str | None, str | None], is_stale: Callable[[], bool]) -> None:
        """Read the trial's decoder and latents and rebuild the latent views (on the worker when served)."""
        sweep, trial_id = request
        try:
            self.latent_error.objects = []
            if trial_id is None or sweep is None:
                self.latent_explorer.set_trial(None)
            else:
                trial, latents = self.store.trial(sweep, trial_id), self.store.latents(sweep, trial_id)
                if is_stale():
                    return  # another trial was picked meanwhile: draw that one instead
                self.latent_explorer.set_trial(trial, latents)
                if self.compare is not None:  # the other trials of the sweep, and the comparison lined up anew
                    self.compare.set_options(trial_ids_of(self.store.trials(sweep)), trial_id)
                    self.compare.compare_with(self.compare.trial.value)
                if self.link is not None:
                    self.link.apply_latent()  # a link's latent values, once its trial is shown
            self.latent_shown = request
        except Exception as failure:  # its files failed, or its view did: say so here, keep the page
            log.exception("the latent explorer failed for trial %s", trial_id)
            self.latent_shown = None
            self.latent_error.objects = [error_box(f"latent views unavailable: {failure}")]
        finally:
            if not is_stale():
                self.latent_explorer.layout.loading = False

    def main(self) -> list[pn.viewable.Viewable]:
        """The page's main column: the trial table (always on top), then the tabs."""
        notice = [self.link.notice] if self.link is not None else []
        return [*notice, card("Trials", self.table, css_classes=["ls-trials"]), self.tabs]

    def sidebar(self) -> list[pn.viewable.Viewable]:
        """Sweep chooser, the table's range filters, where the results are, and how to use the page."""
        where = (
            f"<p style='font-size:13px;word-break:break-all'><b>results</b><br>{html.escape(self.store.root.uri)}</p>"
        )
        return [self.chooser, self.table.filters, pn.pane.HTML(where), message_box(HELP, "hint")]

    def release(self) -> int:
        """Forget what ties this page's widgets to the process, once its session has ended (see page/release.py)."""
        return release_links([self.table.filters, self.tabs, self.chooser.select])

    def __panel__(self) -> pn.template.BootstrapTemplate:
        return _template(self.main(), self.sidebar())


def _models_frozen() -> contextlib.AbstractContextManager:
    """Within a served session, let Bokeh walk the document's models once when the block ends: a tab's views
    otherwise re-walk every model of the page as each of them is added (15 walks filling the Sweep tab)."""
    doc = pn.state.curdoc
    return doc.models.freeze() if doc is not None and doc.session_context is not None else contextlib.nullcontext()


def _template(main: list, sidebar: list) -> pn.template.BootstrapTemplate:
    # Bootstrap, not Fast: the Fast design fetches a Google font, and the page must work offline.
    return pn.template.BootstrapTemplate(
        title=TITLE, main=main, sidebar=sidebar, sidebar_width=300, header_background=ACCENT
    )


def error_page(message: str) -> pn.template.BootstrapTemplate:
    """The page shown when RESULTS cannot be used: what is wrong and which command makes results."""
    return _template([card("No results to explore", error_box(message))], [])


def build_app(results: str, data_dir: str | None = None) -> pn.template.BootstrapTemplate:
    """The page for one browser session; the store (and its caches) is shared by all sessions."""
    warm_up_in_background()  # once a process: compiles the latent views' kernels before a person needs them
    try:
        store = pn.state.as_cached("latentsweep-store", ResultsStore, results=str(results), data_dir=data_dir)
        store.sweeps()
        served = pn.state.curdoc is not None and pn.state.curdoc.session_context is not None
        app = ExplorerApp(store, first_tab_later=served)
        if pn.state.location is not None:
            app.link_to(pn.state.location)
        page = app.__panel__()
    except ResultsError as failure:
        return error_page(str(failure))
    except Exception as failure:  # a bug: the server log gets the traceback, the page a sentence
        log.exception("building the explorer page failed")
        return error_page(f"the explorer failed to start: {type(failure).__name__}: {failure}")
    if served:
        pn.state.onload(app.show_first_tab)  # the table first, its tab's figures a moment later
        pn.state.add_periodic_callback(app.refresh, period=REFRESH_MS)  # Panel stops it when the session ends
        pn.state.on_session_destroyed(lambda _context: _session_ended(app))
    return page


def _session_ended(app: ExplorerApp) -> None:
    app.release()
    give_back_memory_soon()


def parse_app_args(argv: list[str]) -> argparse.Namespace:
    """Arguments after `panel serve explorer/app.py --args` (long, distinctive names: panel prefix-matches its own)."""
    parser = argparse.ArgumentParser(prog="panel serve explorer/app.py --args")
    parser.add_argument("--results", required=True, help="a sweep folder, a folder of sweeps or a train folder")
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST/Fashion-MNIST IDX files")
    return parser.parse_args(argv)


if __name__.startswith("bokeh_app"):  # `panel serve explorer/app.py --args ...` runs this module per session
    _args = parse_app_args(sys.argv[1:])
    build_app(_args.results, _args.data_dir).servable(title=TITLE)
