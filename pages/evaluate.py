"""Evaluate: measure which mode, fusion method and alpha rank best on this collection, keep the best as the
collection's default, export editors' judgements, fine-tune the model.

An evaluation embeds every query once, so its result is kept per collection in the session: plotting
another metric only redraws. Fine-tuning runs in a background thread (one per store at a time), so the
page stays responsive, shows live progress and can stop it cleanly.
"""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from imgsearch_core.display import captions as captions_md
from imgsearch_core.display import formatting as fmt
from imgsearch_core.display import session_cache
from imgsearch_core.display import url_state
from imgsearch_core import jobs
from imgsearch_core.evaluation.evaluate import AUTO, METRICS, Evaluation, default_method, evaluate, save_default
from imgsearch_core.search.fusion import LINEAR_MINMAX, LINEAR_RELATIVE, METHOD_LABELS, METHODS, RRF
from imgsearch_core.evaluation.judgements import JudgementStore
from imgsearch_core.evaluation.source_rule import MIN_QUERIES, check_saveable, few_queries_warning
from imgsearch_core.evaluation.finetune import FinetuneReport, FinetuneSettings, finetune_collection
from imgsearch_core.store.collection import Collection
from imgsearch_core.store.store import Store
from pages import _admin_gate, _ui

DEFAULT_METRIC = "mrr@5"
REFERENCES = {"text": "text (keywords only)", "vector": "vector (meaning only)"}
# Hues far apart (Tableau 10), none near the best marker's red: each method and reference line is told apart.
COLOURS = {LINEAR_MINMAX: "#1f77b4", LINEAR_RELATIVE: "#ff7f0e", RRF: "#2ca02c", REFERENCES["text"]: "#9467bd",
           REFERENCES["vector"]: "#7f7f7f"}
BEST_COLOUR = "#d62728"
SOURCES = (AUTO, "judgements", "held-out captions", "demo scenes")
LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3)
BATCH_SIZES = (8, 16, 32, 64, 128)
REFRESH_SECONDS = 1.0
_LOCKED = ("Evaluating with an uploaded relevance file, and importing judgements, need the admin password (below, "
           "under fine-tuning, or on the Admin page); without it the queries come from the sources below.")


# ----- evaluation ---------------------------------------------------------------------------------
def _results() -> session_cache.LRU:
    """Evaluations of this session by collection_key: a rerun shows them again without embedding."""
    return st.session_state.setdefault("ev_results", session_cache.LRU(8))


def _run_evaluation(store: Store, collection: Collection) -> None:
    upload = st.session_state.get("ev_relevance") if _admin_gate.is_unlocked() else None
    bar = st.progress(0.0, text="Evaluating…")

    def report(done: int, total: int) -> None:
        bar.progress(fmt.progress_fraction(done, total), text=f"Evaluating: {done:,} of {total:,} queries")

    try:
        source = st.session_state.get("ev_source") or AUTO
        if upload is not None and source == AUTO:
            source = "relevance file"
        result = evaluate(_ui.get_searcher(store, collection), upload.getvalue() if upload else None, progress=report,
                          source=source)
    finally:
        bar.empty()
    _results().put(_ui.collection_key(store, collection), result)


def _chart(table: pd.DataFrame, metric: str, method: str, best: float) -> alt.LayerChart:
    """The metric over alpha, one line per fusion method, text and vector as dashed reference lines, the best
    configuration marked."""
    hybrid = table[table["mode"] == "hybrid"]
    curve = pd.DataFrame({"alpha": hybrid["alpha"], "value": hybrid[metric], "search": hybrid["method"]})
    references = pd.DataFrame([{"value": row[metric], "search": REFERENCES[row["mode"]]}
                               for _, row in table[table["mode"] != "hybrid"].iterrows()])
    chosen = hybrid[(hybrid["method"] == method) & (hybrid["alpha"] == best)]
    top = pd.DataFrame([{"alpha": best, "value": chosen[metric].iloc[0], "label": f"best: {method}, alpha {best:g}"}])
    methods = [m for m in METHODS if m in set(hybrid["method"])]
    domain = [*methods, *REFERENCES.values()]
    color = alt.Color("search:N", title=None, scale=alt.Scale(domain=domain, range=[COLOURS[d] for d in domain]),
                      legend=alt.Legend(orient="bottom", columns=3, labelLimit=0))
    x = alt.X("alpha:Q", title="alpha (0 = keyword, 1 = semantic)", scale=alt.Scale(domain=[0, 1]))
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False, nice=True))  # fitted: small gaps stay visible
    line = alt.Chart(curve).mark_line(point=True).encode(
        x=x, y=y, color=color, tooltip=["search", "alpha", alt.Tooltip("value:Q", title=metric, format=".3f")])
    rules = alt.Chart(references).mark_rule(strokeDash=[6, 4]).encode(
        y=y, color=color, tooltip=["search", alt.Tooltip("value:Q", title=metric, format=".3f")])
    point = alt.Chart(top).mark_point(shape="diamond", size=260, filled=True, color=BEST_COLOUR).encode(x=x, y=y)
    label = alt.Chart(top).mark_text(dy=-16, fontWeight="bold", color=BEST_COLOUR).encode(x=x, y=y, text="label:N")
    return alt.layer(line, rules, point, label).properties(height=320)


def _current(collection: Collection) -> str:
    return f"{METHOD_LABELS[default_method(collection)]}, alpha {_ui.default_alpha(collection):g}"


def _save_alpha(collection: Collection, metric: str, method: str, alpha: float, result: Evaluation) -> None:
    """Save the best method and alpha as the collection's defaults (Text search starts there); from a small
    query set only after an explicit confirm."""
    if not _admin_gate.is_unlocked():
        st.caption(f"Current default of {collection.name}: {_current(collection)} · saving another "
                   "needs the admin password (below, under fine-tuning, or on the Admin page).")
        return
    confirmed = True
    if few_queries_warning(result.query_set):
        confirmed = st.checkbox(f"Save it although only {len(result.query_set.queries):,} queries were measured",
                                key="ev_save_confirm")
    if st.button(f"Save {method}, alpha {alpha:g} as the default of {collection.name}", icon=":material/save:",
                 key="ev_save_alpha", disabled=not confirmed,
                 help="Text search on this collection then opens with this fusion and alpha."):
        check_saveable(result.query_set, confirmed)
        save_default(collection, method, alpha)
        st.session_state["ts_alpha"] = url_state.snap_alpha(alpha)  # this session's Text search moves there too
        st.session_state["ts_fusion"] = method
        st.success(f"Saved: Text search on **{collection.name}** now starts with **{method}** at alpha **{alpha:g}** "
                   f"(the best for {metric}).", icon=":material/check_circle:")
    else:
        st.caption(f"Current default of {collection.name}: {_current(collection)}")


def _show_evaluation(collection: Collection, result: Evaluation) -> None:
    queries = result.query_set
    st.markdown(f"**{len(queries.queries):,}** queries from **{queries.source}** · {queries.dropped_leaks:,} "
                "dropped because their text is an indexed caption (a query may not find its own text)")
    if warning := few_queries_warning(queries):
        st.warning(warning, icon=":material/warning:")
    for note in queries.notes:
        st.caption(f":material/info: {captions_md.escape_markdown(note)}")
    metric = st.selectbox("Metric to plot", METRICS, index=METRICS.index(DEFAULT_METRIC), key="ev_metric")
    best, method = result.best[metric], result.best_method[metric]
    st.altair_chart(_chart(result.table, metric, method, best), width="stretch")
    table = result.table
    per_method = " · ".join(
        f"{m}: **{table[(table['method'] == m) & (table['alpha'] == a[metric])][metric].iloc[0]:.3f}** at alpha {a[metric]:g}"
        for m, a in result.by_method.items())
    st.markdown(f"Best {metric} per method: {per_method}")
    _save_alpha(collection, metric, method, best, result)
    family = [m for m in METRICS if m.split("@")[0] == metric.split("@")[0]]  # all metrics are too wide for a laptop
    st.dataframe(result.table, hide_index=True, width="content", height="content",
                 column_order=("mode", "method", "alpha", *family),
                 column_config={m: st.column_config.NumberColumn(format="%.3f") for m in METRICS})
    st.download_button("All metrics (CSV)", result.table.to_csv(index=False), file_name=f"{collection.name}-evaluation.csv",
                       mime="text/csv", icon=":material/download:", key="ev_table_export", on_click="ignore",
                       help=f"The table above shows the {metric.split('@')[0]} columns; the file has every metric.")
    if result.image_to_image:
        st.metric("Image to image mMP@5", f"{result.image_to_image['mmp@5']:.3f}", border=True, width="content",
                  help=f"Mean precision of the 5 most similar images over {result.image_to_image['queries']:,} "
                       "labelled query images (same group, label or category counts as relevant).")


def _upload_limit_mb(store: Store) -> int:
    return max(1, store.settings.max_relevance_bytes // 2**20)


def _evaluation_section(store: Store, name: str) -> None:
    st.subheader("Which search mode and alpha rank best here")
    collection = store.open(name)
    unlocked = _admin_gate.is_unlocked()
    upload_col, run_col = st.columns([3, 1], vertical_alignment="bottom")
    if unlocked:
        upload_col.file_uploader(
            "Relevance file (optional): CSV with a query column and a relevant column (file names or ids separated "
            "by |)", type=["csv"], key="ev_relevance", max_upload_size=_upload_limit_mb(store))
    else:
        upload_col.caption(_LOCKED)
    source_col, export_col = st.columns([3, 1], vertical_alignment="bottom")
    source_col.selectbox("Queries from", SOURCES, key="ev_source",
                         help="Automatic: the relevance file when given, else editors' judgements (marks on Text search "
                              "results), held-out captions, generated demo scenes: the first with at least "
                              f"{MIN_QUERIES} queries, else the one with the most.")
    judgements = JudgementStore.of(collection)
    export_col.download_button("Judgements CSV", judgements.export_csv(name), file_name=f"{name}-judgements.csv",
                               mime="text/csv", icon=":material/download:", key="ev_judgements_export",
                               on_click="ignore", width="stretch",
                               help=f"{judgements.count(name):,} marks, as a relevance file (query,relevant) that this "
                                    "page and `evaluate --relevance` read; `judgements import` restores them.")
    if unlocked:
        _judgements_import(store, collection, judgements)
    if run_col.button("Run evaluation", type="primary", icon=":material/play_arrow:", key="ev_run", width="stretch"):
        _run_evaluation(store, collection)
    result = _results().get(_ui.collection_key(store, collection))
    if result is None:
        st.caption("Without a relevance file the queries are editors' judgements (right/wrong marks on Text search "
                   "results), captions held out from indexing (items with two or more captions) or, for the demo "
                   "collection, generated scene descriptions.")
        return
    _show_evaluation(collection, result)


def _judgements_import(store: Store, collection: Collection, judgements: JudgementStore) -> None:
    """Restore or merge marks from a relevance CSV (this page's export, or one kept elsewhere): the same
    reader as `judgements import`, so file names and ids both resolve and unknown names are reported."""
    with st.expander("Import judgements"):
        upload = st.file_uploader("Relevance CSV (query, relevant, optional wrong and the_one columns)", type=["csv"],
                                  key="ev_judgements_file", max_upload_size=_upload_limit_mb(store))
        if not st.button("Import", icon=":material/upload:", key="ev_judgements_import", disabled=upload is None):
            return
        try:
            written, notes = judgements.import_csv(collection.name, upload.getvalue(), collection.all_items(),
                                                   max_bytes=store.settings.max_relevance_bytes)
        except ValueError as exc:
            _ui.show_error(f"Nothing imported: {exc}")
            return
        st.success(f"Imported {written:,} marks into {collection.name!r}; "
                   f"{judgements.count(collection.name):,} marks stored now.")
        for note in notes:
            st.warning(captions_md.escape_markdown(note))


# ----- fine-tuning --------------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def _jobs() -> dict[tuple[str, str], jobs.BackgroundJob]:
    """Fine-tuning jobs of this server by (store, collection), so a reload or another session sees them."""
    return {}


def _running_elsewhere(store: Store, name: str) -> str | None:
    """The collection of this store being fine-tuned now, if not `name`: one fine-tune at a time."""
    root = str(store.root)
    return next((c for (r, c), job in _jobs().items() if r == root and c != name and job.running), None)


def _settings_inputs(disabled: bool) -> FinetuneSettings:
    default = FinetuneSettings()
    lr_col, batch_col, epochs_col, minutes_col = st.columns(4)
    lr = lr_col.selectbox("Learning rate", LEARNING_RATES, index=LEARNING_RATES.index(default.lr),
                          format_func="{:g}".format, key="ft_lr", disabled=disabled)
    batch = batch_col.selectbox("Batch size", BATCH_SIZES, index=BATCH_SIZES.index(default.batch_size),
                                key="ft_batch", disabled=disabled)
    epochs = epochs_col.number_input(
        "Max epochs", 1, 100, default.max_epochs, key="ft_epochs", disabled=disabled,
        help=f"Stops earlier when validation MRR@5 has not improved for {default.patience} epochs.")
    minutes = minutes_col.number_input("Time limit in minutes (optional)", 1, 24 * 60, None, key="ft_minutes",
                                       placeholder="none", disabled=disabled)
    return FinetuneSettings(lr=lr, batch_size=batch, max_epochs=int(epochs),
                            max_minutes=float(minutes) if minutes else None)


def _start(store: Store, name: str, settings: FinetuneSettings) -> None:
    embedder = _ui.get_embedder(store, store.open(name).model.name)  # trains a copy; live searches keep the original

    def work(report, stop) -> FinetuneReport:
        return finetune_collection(store, name, settings, models_dir=store.settings.models_dir, embedder=embedder,
                                   on_progress=report, stop=stop)

    _jobs()[(str(store.root), name)] = jobs.BackgroundJob(work)


@st.fragment(run_every=REFRESH_SECONDS)
def _live_progress(key: tuple[str, str]) -> None:
    """Redrawn every second while the job runs; its end reruns the whole page to show the outcome."""
    job = _jobs().get(key)
    if job is None or not job.running:
        st.rerun()
    if job.updates:
        last = job.updates[-1]
        st.progress(fmt.progress_fraction(last.step, last.steps), text=fmt.training_progress_text(job.updates))
    else:
        st.progress(0.0, text="Preparing: reading the images and measuring the model before training…")
    if job.stop.is_set():
        st.caption(":material/hourglass_top: Stopping after the current step; the best weights so far are kept.")
    else:
        st.button("Stop", icon=":material/stop_circle:", key="ft_stop", on_click=job.stop.set,
                  help="Ends training cleanly: the best weights so far are saved and the collection embedded "
                       "with them.")
    st.caption("After training the new model is saved and the collection is embedded again with it.")


def _open_collection(name: str) -> None:
    st.session_state["collection"] = name


def _outcome(job: jobs.BackgroundJob) -> None:
    if job.error is not None:
        _ui.show_error(f"Fine-tuning failed: {_ui.error_message(job.error)}")
        return
    report: FinetuneReport = job.result
    st.success(f"Fine-tuning {fmt.STOP_REASONS.get(report.stopped, report.stopped)} after {report.steps:,} steps "
               f"({fmt.format_duration(report.train_seconds)} of training): new collection **{report.new_collection}** "
               f"with model **{report.model_dir.name}**.", icon=":material/task_alt:")
    rows = [{"metric": m, "before": b, "after": report.after[m], "change": report.after[m] - b}
            for m, b in report.before.items()]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="content",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("before", "after", "change")})
    st.caption(f"Each caption of {report.val_images} held-out images (never trained on) retrieving its own image; "
               f"{report.train_pairs:,} training pairs. The model and its card are in `{report.model_dir}`.")
    st.button(f"Open collection {report.new_collection}", icon=":material/swap_horiz:", key="ft_open",
              on_click=_open_collection, args=(report.new_collection,))


def _finetune_section(store: Store, name: str) -> None:
    st.subheader("Fine-tune the model on this collection")
    st.caption("Trains a copy of the collection's CLIP model on its captioned images (10 or more; a tenth is held "
               "out to measure the gain), saves it as a new model version and embeds the items again into a new "
               "collection. This collection and its model stay as they are.")
    if not _admin_gate.unlocked("Fine-tuning", key="ft_login"):
        return
    key = (str(store.root), name)
    job = _jobs().get(key)
    running = job is not None and job.running
    busy = _running_elsewhere(store, name)
    settings = _settings_inputs(disabled=running)
    if busy:
        st.info(f"Collection {busy} is being fine-tuned; one fine-tune at a time.", icon=":material/hourglass_top:")
    if st.button("Start fine-tuning", type="primary", icon=":material/model_training:", key="ft_start",
                 disabled=running or busy is not None):
        _start(store, name, settings)
        st.rerun()  # settings and Start are drawn again, disabled, beside the live progress
    if running:
        _live_progress(key)
    elif job is not None:
        _outcome(job)


def main() -> None:
    opened = _ui.store_and_collection()
    if opened is None:
        return
    store, name = opened
    st.title("Evaluate")
    _ui.guarded(lambda: _evaluation_section(store, name))
    st.divider()
    _ui.guarded(lambda: _finetune_section(store, name))


_ui.guarded(main)
