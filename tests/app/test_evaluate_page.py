"""Evaluate page: the evaluation table and chart, no re-embedding on reruns, saving the best alpha (and Text
search starting there), clear errors, and fine-tuning in the background with progress, outcome and Stop."""
from __future__ import annotations

import json
import re
import threading
import time

import pandas as pd
import pytest

from imgsearch_core.search.fusion import METHODS
from tests.app.conftest import EVALUATE_PAGE, TEXT_PAGE, button, fill, run, start, submit_query, texts
from tests.helpers import write_images, write_images_with_alternative_captions

FINETUNE_SECONDS = 90


# ----- fixtures and helpers -----------------------------------------------------------------------
def open_store():
    """A fresh Store on the app's directory, so nothing the app cached hides what is on disk."""
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    return Store(Settings.from_env())


@pytest.fixture
def harbour(store_dir, tiny_embedder, tmp_path):
    """Collection 'harbour': 24 grouped images; a caption file gives 8 of them a second caption (a held-out
    query) and one a third, equal to another item's indexed caption (dropped by the no-leak rule)."""
    from imgsearch_core.ingest.pipeline import collect, ingest

    captions = write_images_with_alternative_captions(tmp_path / "harbour")
    store = open_store()
    items, problems = collect(tmp_path / "harbour", captions_file=captions)
    ingest(store, "harbour", tiny_embedder, items, problems=problems)
    return store


def core_evaluation(store, embedder):
    from imgsearch_core.evaluation.evaluate import evaluate
    from imgsearch_core.search.engine import Searcher

    return evaluate(Searcher(store.open("harbour"), embedder))


def evaluate_page(relevance: bytes | None = None):
    at = start(EVALUATE_PAGE)
    assert at.title[0].value == "Evaluate"
    if relevance is not None:
        at.file_uploader(key="ev_relevance").set_value(("relevance.csv", relevance, "text/csv"))
        run(at)
    at.button(key="ev_run").click()
    return run(at)


def shown_table(at) -> pd.DataFrame:
    tables = [d.value for d in at.dataframe if "mode" in d.value.columns]
    assert len(tables) == 1, [list(d.value.columns) for d in at.dataframe]
    return tables[0]


def charts(at) -> list[dict]:
    """The Vega-Lite specs of the altair charts on the page."""
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def chart_data(at) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The chart's hybrid curve, its text and vector reference lines and its best point."""
    import pyarrow as pa

    [chart] = at.get("vega_lite_chart")
    frames = [pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets]
    [curve] = [f for f in frames if "search" in f.columns and "alpha" in f.columns]
    [references] = [f for f in frames if "alpha" not in f.columns]
    [top] = [f for f in frames if "label" in f.columns]
    return curve, references, top


def plot(at, metric: str):
    at.selectbox(key="ev_metric").set_value(metric)
    return run(at)


def finetune_settings(at, batch: int = 8, epochs: int = 1):
    at.selectbox(key="ft_batch").set_value(batch)
    at.number_input(key="ft_epochs").set_value(epochs)
    return run(at)


def start_finetune(at):
    assert not at.button(key="ft_start").disabled
    at.button(key="ft_start").click()
    return run(at)


def finish(at, seconds: float = FINETUNE_SECONDS):
    """Rerun until the live progress is gone (the job ended), as the page's auto-refresh would."""
    deadline = time.monotonic() + seconds
    while at.get("progress"):
        assert time.monotonic() < deadline, f"fine-tuning still running after {seconds} s"
        time.sleep(0.3)
        run(at)
    return at


def before_after(at) -> pd.DataFrame:
    tables = [d.value for d in at.dataframe if list(d.value.columns) == ["metric", "before", "after", "change"]]
    assert len(tables) == 1, [list(d.value.columns) for d in at.dataframe]
    return tables[0]


# ----- evaluation ---------------------------------------------------------------------------------
def test_the_page_is_in_the_navigation_and_renders(filled_store):
    at = start(EVALUATE_PAGE)
    assert at.title[0].value == "Evaluate" and not at.error
    assert not at.dataframe and not charts(at)  # nothing is evaluated before Run is pressed
    assert not at.button(key="ev_run").disabled and not at.button(key="ft_start").disabled
    assert at.selectbox(key="ft_lr").value == 5e-5 and at.selectbox(key="ft_batch").value == 64
    assert at.number_input(key="ft_epochs").value == 10 and at.number_input(key="ft_minutes").value is None


def test_an_empty_store_offers_the_demo(store_dir):
    at = start(EVALUATE_PAGE)
    assert at.title[0].value == "Welcome to imgsearch" and button(at, "Load the demo collection")


def test_evaluation_shows_the_core_table_the_chart_and_image_to_image(harbour, tiny_embedder):
    at = evaluate_page()
    expected = core_evaluation(harbour, tiny_embedder)
    assert not at.error
    assert any("**8** queries from **held-out captions** · 1 dropped" in m for m in texts(at.markdown))
    table = shown_table(at)
    assert len(table) == 2 + 11 * len(METHODS) and list(table["mode"]) == ["text", "vector"] + ["hybrid"] * 33
    pd.testing.assert_frame_equal(table.reset_index(drop=True), expected.table, check_dtype=False)
    [spec] = charts(at)
    assert spec["layer"][0]["encoding"]["y"]["title"] == "mrr@5"
    best, method = expected.best["mrr@5"], expected.best_method["mrr@5"]
    curve, references, top = chart_data(at)
    for name in METHODS:  # one line per fusion method, each over the whole alpha range
        line = curve[curve["search"] == name]
        assert list(line["alpha"]) == pytest.approx([a / 10 for a in range(11)])
        assert list(line["value"]) == pytest.approx(list(table[table["method"] == name]["mrr@5"]))
    assert set(curve["search"]) == set(METHODS)
    assert sorted(references["search"]) == ["text (keywords only)", "vector (meaning only)"]
    assert top.loc[0, "alpha"] == best and top.loc[0, "label"] == f"best: {method}, alpha {best:g}"
    assert at.button(key="ev_save_alpha").label == f"Save {method}, alpha {best:g} as the default of harbour"
    mmp = {m.label: m.value for m in at.metric}["Image to image mMP@5"]
    assert mmp == f"{expected.image_to_image['mmp@5']:.3f}"


def test_plotting_another_metric_never_embeds_again(harbour, embed_calls):
    at = evaluate_page()
    embedded = embed_calls["embed_texts"]
    assert embedded >= 1  # the queries were embedded by the run
    table = shown_table(at)
    hybrid = table[table["mode"] == "hybrid"]
    for metric in ("recall@1", "precision@10", "mrr@20"):
        plot(at, metric)
        assert charts(at)[0]["layer"][0]["encoding"]["y"]["title"] == metric
        top = chart_data(at)[2]
        method = top.loc[0, "label"].split("best: ")[1].split(",")[0]
        chosen = hybrid[(hybrid["method"] == method) & (hybrid["alpha"] == top.loc[0, "alpha"])]
        assert chosen[metric].iloc[0] == hybrid[metric].max()
        pd.testing.assert_frame_equal(shown_table(at), table)
    at.switch_page(TEXT_PAGE)
    run(at)
    at.switch_page(EVALUATE_PAGE)  # back again: the session still has the result
    run(at)
    pd.testing.assert_frame_equal(shown_table(at), table)
    assert embed_calls["embed_texts"] == embedded


def test_saving_the_best_alpha_makes_text_search_start_there(harbour):
    at = evaluate_page()
    choices = {}
    for metric in ("mrr@5", "recall@1", "recall@10", "precision@1", "mrr@1"):
        plot(at, metric)
        words = at.button(key="ev_save_alpha").label.split()
        choices[metric] = (words[1].rstrip(","), float(words[3]))
    metric, (method, best) = next((m, c) for m, c in choices.items() if c[1] != 0.5)  # 0.5: the usual start
    plot(at, metric)
    assert "Current default of harbour: linear, min-max, alpha 0.5" in texts(at.caption)
    at.checkbox(key="ev_save_confirm").check()  # 8 held-out queries: saving needs the confirm
    run(at)
    at.button(key="ev_save_alpha").click()
    run(at)
    assert f"now starts with **{method}** at alpha **{best:g}** (the best for {metric})" in at.success[0].value
    saved = open_store().open("harbour").settings()
    assert saved["setting_default_alpha"] == best and saved["setting_default_fusion"] == method
    at.switch_page(TEXT_PAGE)
    run(at)
    assert at.select_slider(key="ts_alpha").value == best  # this session's slider moved
    assert at.selectbox(key="ts_fusion").value == method
    fresh = start()  # a new session, no alpha in the link
    assert fresh.select_slider(key="ts_alpha").value == best and fresh.selectbox(key="ts_fusion").value == method
    submit_query(fresh, "harbour boats")
    assert "alpha" not in fresh.query_params and "fusion" not in fresh.query_params  # defaults need no parameter
    linked = start(query={"q": "harbour boats", "alpha": "0.5"})  # a link's alpha still wins
    assert linked.select_slider(key="ts_alpha").value == 0.5 and linked.query_params["alpha"] == "0.5"


def test_a_small_source_warns_before_the_figures_and_saving_needs_the_confirm(harbour):
    from imgsearch_core.evaluation.judgements import JudgementStore

    collection = harbour.open("harbour")
    items = collection.all_items()
    JudgementStore.of(collection).mark_many("harbour", [("red hull", items[0].id, "right"),
                                                       ("blue hull", items[1].id, "right")])
    at = evaluate_page()
    assert not at.error and not at.exception
    [summary] = [m for m in texts(at.markdown) if "queries from" in m]
    assert summary.startswith("**8** queries from **held-out captions**")  # not the 2 judged ones
    warnings = texts(at.warning)
    assert sum(w.startswith("Only 8 queries from held-out captions: with fewer than 20 queries") for w in warnings) == 1, warnings
    assert any("2 queries from judgements exist, fewer than 20" in c and "Choose 'judgements'" in c
               for c in texts(at.caption)), texts(at.caption)
    assert at.button(key="ev_save_alpha").disabled and not at.checkbox(key="ev_save_confirm").value
    assert "setting_default_alpha" not in open_store().open("harbour").settings()
    at.selectbox(key="ev_source").set_value("judgements")
    at.button(key="ev_run").click()
    run(at)
    assert any(m.startswith("**2** queries from **judgements**") for m in texts(at.markdown))
    assert any(w.startswith("Only 2 queries from judgements") for w in texts(at.warning))
    at.checkbox(key="ev_save_confirm").check()
    run(at)
    at.button(key="ev_save_alpha").click()
    run(at)
    assert at.success and "setting_default_alpha" in open_store().open("harbour").settings()


def test_a_collection_without_queries_says_what_to_do(filled_store):
    at = evaluate_page()
    assert "No queries to evaluate with: give a relevance file" in at.error[0].value
    assert "two or more captions" in at.error[0].value
    assert not at.dataframe and not charts(at) and not at.get("progress")


def test_a_relevance_file_is_used_and_a_bad_one_is_a_clear_error(harbour):
    item = harbour.open("harbour").all_items()[3]
    good = f"query,relevant\nharbour boats,{item.metadata['file_name']}|ghost.png\n".encode()
    at = evaluate_page(good)
    assert any("**1** queries from **relevance file**" in m for m in texts(at.markdown))
    assert any("1 relevant names match no item (e.g. 'ghost.png')" in c for c in texts(at.caption))
    assert set(shown_table(at)["queries"]) == {1}
    at.file_uploader(key="ev_relevance").set_value(("relevance.csv", b"a,b\n1,2\n", "text/csv"))
    run(at)
    at.button(key="ev_run").click()
    run(at)
    assert "The relevance file needs a query column" in at.error[0].value
    assert not at.exception


# ----- fine-tuning --------------------------------------------------------------------------------
@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    directory = tmp_path / "models"
    monkeypatch.setenv("IMGSEARCH_MODELS_DIR", str(directory))
    return directory


@pytest.fixture
def hold(monkeypatch):
    """hold(name): imgsearch_core.evaluation.finetune's step `name` waits until the returned Event is set, then runs as
    usual; so the test sees a job at a known point instead of racing it."""
    from imgsearch_core.evaluation import finetune

    gates: list[threading.Event] = []

    def hold_step(name: str) -> threading.Event:
        gate = threading.Event()
        step = getattr(finetune, name)

        def held(*args, **kwargs):
            gate.wait(FINETUNE_SECONDS)
            return step(*args, **kwargs)

        monkeypatch.setattr(finetune, name, held)
        gates.append(gate)
        return gate

    yield hold_step
    for gate in gates:
        gate.set()


def progress_text(at, seconds: float = FINETUNE_SECONDS) -> str:
    """The live progress line once training has reported its validation MRR@5."""
    deadline = time.monotonic() + seconds
    while "validation MRR@5" not in (text := at.get("progress")[0].proto.text):
        assert time.monotonic() < deadline, text
        time.sleep(0.3)
        run(at)
    return text


def test_finetuning_runs_in_the_background_and_reports_before_and_after(filled_store, models_dir, hold):
    saving = hold("reembed")  # after training: the page still shows the live progress
    at = start(EVALUATE_PAGE)
    finetune_settings(at)
    start_finetune(at)
    line = progress_text(at)
    assert re.fullmatch(r"step 4 of 4 · loss \d+\.\d{3} · \d+ images/s · validation MRR@5 [01]\.\d{3}", line), line
    assert at.button(key="ft_start").disabled and not at.button(key="ft_stop").disabled
    saving.set()
    finish(at)
    assert not at.error, texts(at.error)
    [model_dir] = models_dir.iterdir()
    new_name = model_dir.name
    assert new_name.startswith("tiny-clip") and "-ft-photos-" in new_name
    assert at.success[0].value.startswith("Fine-tuning completed after 4 steps")  # 27 training pairs in batches of 8
    assert f"new collection **{new_name}** with model **{new_name}**" in at.success[0].value
    table = before_after(at)
    assert list(table["metric"]) == ["recall@1", "recall@5", "recall@10", "mrr@5"]
    assert list(table["change"]) == pytest.approx(list(table["after"] - table["before"]))
    card = json.loads((model_dir / "finetune.json").read_text())
    assert (card["settings"]["batch_size"], card["settings"]["max_epochs"], card["settings"]["lr"]) == (8, 1, 5e-5)
    assert list(table["after"]) == pytest.approx([card["after"][m] for m in table["metric"]])
    store = open_store()
    assert store.collection_names() == sorted(["photos", new_name]) and store.open(new_name).count() == 30
    assert new_name in at.sidebar.selectbox(key="collection").options
    assert not at.button(key="ft_start").disabled  # ready for another run
    at.button(key="ft_open").click()
    run(at)
    assert at.sidebar.selectbox(key="collection").value == new_name


def test_stop_ends_training_cleanly_and_keeps_the_model(filled_store, models_dir, hold):
    training = hold("split_by_image")  # before the first step, so Stop surely comes first
    at = start(EVALUATE_PAGE)
    finetune_settings(at, epochs=50)
    start_finetune(at)
    [bar] = at.get("progress")
    assert bar.proto.text.startswith("Preparing")
    assert at.button(key="ft_start").disabled and at.selectbox(key="ft_batch").disabled
    at.button(key="ft_stop").click()
    run(at)
    assert any("Stopping after the current step" in c for c in texts(at.caption))
    assert "ft_stop" not in [b.key for b in at.button]
    training.set()
    finish(at)
    assert at.success[0].value.startswith("Fine-tuning stopped after 0 steps"), texts(at.success)
    table = before_after(at)
    assert list(table["after"]) == pytest.approx(list(table["before"]))  # the best weights: nothing trained yet
    new_name = at.success[0].value.split("new collection **")[1].split("**")[0]
    assert open_store().open(new_name).count() == 30 and (models_dir / new_name / "README.md").is_file()


def test_a_collection_too_small_to_finetune_is_a_clear_error(store_dir, tiny_embedder, tmp_path, models_dir):
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store

    fill(Store(Settings.from_env()), tiny_embedder, write_images(tmp_path / "few", 4)[0].parent, name="few")
    at = start(EVALUATE_PAGE)
    start_finetune(at)
    finish(at)
    assert at.error[0].value == ("Fine-tuning failed: Fine-tuning needs at least 10 captioned images; "
                                 "this collection has 4.")
    assert open_store().collection_names() == ["few"] and not models_dir.exists()
    assert not at.button(key="ft_start").disabled


# ----- the admin password gate ----------------------------------------------------------------------
def test_finetuning_and_saving_the_default_need_the_admin_password(harbour, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_ADMIN_PASSWORD", "s3cret")
    at = evaluate_page()
    assert not at.error and shown_table(at) is not None  # evaluating stays open to every user
    keys = [b.key for b in at.button]
    assert "ft_start" not in keys and "ev_save_alpha" not in keys
    assert any("Fine-tuning is protected" in m for m in texts(at.info))
    assert any("needs the admin password" in c for c in texts(at.caption))
    at.text_input(key="ft_login_password_input").set_value("wrong")
    at.button(key="FormSubmitter:ft_login-Unlock").click()
    run(at)
    assert "ft_start" not in [b.key for b in at.button] and any("Wrong password" in e for e in texts(at.error))
    at.text_input(key="ft_login_password_input").set_value("s3cret")
    at.button(key="FormSubmitter:ft_login-Unlock").click()
    run(at)
    at.button(key="ev_run").click()
    run(at)
    keys = [b.key for b in at.button]
    assert "ft_start" in keys and "ev_save_alpha" in keys


# ----- importing judgements ---------------------------------------------------------------------------
def import_judgements(at, data: bytes):
    at.file_uploader(key="ev_judgements_file").set_value(("marks.csv", data, "text/csv"))
    run(at)
    at.button(key="ev_judgements_import").click()
    return run(at)


def test_imported_judgements_are_stored_and_round_trip_through_the_export(harbour):
    from imgsearch_core.evaluation.judgements import JudgementStore

    collection = harbour.open("harbour")
    items = sorted(collection.all_items(), key=lambda item: item.metadata["file_name"])
    right, wrong, the_one = items[0], items[1], items[2]
    data = ("query,relevant,wrong,the_one\n"
            f"gulls over the pier,{right.metadata['file_name']}|{the_one.id},{wrong.id},{the_one.id}\n"
            "a second query,no-such-file.png,,\n").encode()
    at = import_judgements(start(EVALUATE_PAGE), data)
    assert not at.exception and not at.error
    assert any("Imported 3 marks into 'harbour'; 3 marks stored now" in s.value for s in at.success), texts(at.success)
    assert any("no-such-file.png" in w.value for w in at.warning), texts(at.warning)
    judgements = JudgementStore.of(collection)
    assert judgements.verdicts("harbour", "gulls over the pier") == {
        right.id: "right", wrong.id: "wrong", the_one.id: "the_one"}
    exported = judgements.export_csv("harbour").decode()
    assert exported.splitlines()[1] == f"gulls over the pier,{'|'.join(sorted([right.id, the_one.id]))},{wrong.id},{the_one.id}"


def test_an_unreadable_judgements_file_is_refused_and_changes_nothing(harbour):
    from imgsearch_core.evaluation.judgements import JudgementStore

    at = import_judgements(start(EVALUATE_PAGE), b"just,some\n")
    assert not at.exception
    assert any("Nothing imported" in e.value for e in at.error), texts(at.error)
    assert JudgementStore.of(harbour.open("harbour")).count("harbour") == 0
