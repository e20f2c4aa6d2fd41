"""Admin: fill the store (folder, zip, uploads), watch progress, read problems, delete items or collections,
set or detect a collection's caption language (keyword search rebuilds in it).

When an admin password is configured (st.secrets["admin_password"] or IMGSEARCH_ADMIN_PASSWORD) the page
asks for it before showing anything; without one it says plainly that it is open.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from imgsearch_core.display import formatting as fmt
from imgsearch_core.display.captions import escape_markdown
from imgsearch_core.display import paging
from imgsearch_core.config import DEMO_MODEL
from imgsearch_core.media.images import SUPPORTED_EXTENSIONS
from imgsearch_core.ingest.sources import IngestError, check_uploads, import_folder
from imgsearch_core.store.language_policy import ensure_language
from imgsearch_core.store.store import validate_collection_name
from imgsearch_core.errors import StoreError
from pages import _admin_gate, _caption_audit, _collection_settings, _enrich, _style, _text_tower, _ui

SOURCES = {"folder": "Server folder", "zip": "Zip file", "files": "Images"}
LOCAL_MODEL = "local"
BROWSE_PER_PAGE = 24
CAPTION_TYPES = ["csv", "tsv", "json", "jsonl"]
DELETE_CARD_WIDTH = 180  # px: a caption's words fit on their lines


# ----- stats --------------------------------------------------------------------------------------
def _stats(store, name: str | None) -> None:
    if name is None:
        st.info("The store is empty: add images below or load the demo collection.", icon=":material/inventory_2:")
        return
    stats = store.open(name).stats()
    model = stats["model"]
    boxes = (("Collection", stats["name"], None), ("Items", f"{stats['items']:,}", None),
             ("Model", _ui.model_label(model), model),
             ("Dimension", stats["dim"], None), ("Disk size", fmt.format_bytes(stats["disk_bytes"]), None),
             ("Captioned", f"{stats['captioned_share']:.0%}", None))
    for row in (boxes[:3], boxes[3:]):  # two even rows of three: no box is left alone on a row at any width
        for column, (label, value, help_text) in zip(st.columns(3, gap="small"), row):
            # names (collection, model) wrap in a smaller size than the figures (_style.NAME_STAT_KEY)
            named = label in ("Collection", "Model")
            column.container(key=_style.name_stat_key(label.lower()) if named else None).metric(
                label, value, help=help_text, border=True)
    st.caption(f"Caption language: {ensure_language(store.open(name)).label} (keyword search; change it under "
               "Collections).")


# ----- ingest -------------------------------------------------------------------------------------
def _model_choice(store) -> str | None:
    default = store.settings.default_model
    options = list(dict.fromkeys([default, "clip-ViT-B-32", DEMO_MODEL, LOCAL_MODEL]))
    labels = {
        "clip-ViT-B-32": "clip-ViT-B-32 — pretrained CLIP (downloaded once, needs internet the first time)",
        DEMO_MODEL: f"{DEMO_MODEL} — bundled small model, works offline",
        LOCAL_MODEL: "A model directory on the server",
    }
    choice = st.radio("Model for the new collection", options, format_func=lambda o: labels.get(o, o), key="adm_model")
    if choice != LOCAL_MODEL:
        return choice
    path = st.text_input("Model directory", key="adm_model_path", placeholder="/models/my-clip",
                         help="A sentence-transformers or transformers CLIP directory (config.json, weights, processor).")
    return path.strip() or None


def _source_inputs(store) -> dict | None:
    """The chosen source as keyword arguments for ingest.collect, or None while incomplete."""
    if st.session_state.get("adm_source") is None:
        st.session_state.adm_source = "folder"
    source = st.segmented_control("Source", list(SOURCES), format_func=SOURCES.get, key="adm_source", required=True,
                                  help="A folder on the server, a zip file to upload, or image files to upload.")
    kwargs: dict = {}
    if source == "folder":
        roots = store.settings.import_roots
        folder = st.text_input("Folder path on the server", key="adm_folder", placeholder=str(roots[0]) if roots else "",
                               help="Read recursively: jpg, jpeg, png, webp, gif, bmp, tiff. Captions from a captions.csv "
                                    "at its root or a .txt beside each image.")
        st.caption("Only folders under " + (", ".join(f"`{root}`" for root in roots) or "none")
                   + " (IMGSEARCH_IMPORT_ROOTS); the command line can import any folder.")
        if folder.strip():
            try:
                kwargs["source"] = import_folder(folder.strip(), roots)
            except IngestError as exc:
                st.error(escape_markdown(str(exc)), icon=":material/folder_off:")
    elif source == "zip":
        archive = st.file_uploader("Zip archive of images", type=["zip"], key="adm_zip")
        if archive is not None:
            kwargs["zip_bytes"] = (archive.name, archive.getvalue())
    else:
        files = st.file_uploader("Images", type=sorted(e.lstrip(".") for e in SUPPORTED_EXTENSIONS),
                                 accept_multiple_files=True, key="adm_files",
                                 max_upload_size=max(1, store.settings.max_file_bytes // 2**20))
        try:
            check_uploads([f.size for f in files or ()], store.settings)
            if files:
                kwargs["uploads"] = [(f.name, f.getvalue()) for f in files]
        except IngestError as exc:
            st.error(str(exc), icon=":material/error:")
    captions = st.file_uploader("Caption file (optional): CSV/TSV with a file-name and a caption column, JSON or JSONL",
                                type=CAPTION_TYPES, key="adm_captions")
    if captions is not None:
        kwargs["captions_file"] = (captions.name, captions.getvalue())
    has_source = any(k in kwargs for k in ("source", "zip_bytes", "uploads"))
    return kwargs if has_source else None


def _target(store, names: list[str]) -> tuple[str | None, str | None]:
    """(collection name, model for a new collection or None for an existing one)."""
    filled = st.session_state.pop("adm_filled", None)
    if filled in names:  # a new collection just filled is now an existing one: target it, free the name field
        st.session_state.update(adm_target="existing", adm_new_name="")
    options = ["existing", "new"] if names else ["new"]
    kind = st.radio("Into", options, horizontal=True, key="adm_target",
                    format_func={"existing": "Existing collection", "new": "New collection"}.get)
    if kind == "existing":
        current = _ui.current_collection_name(store)
        name = st.selectbox("Collection", names, index=names.index(current) if current in names else 0, key="adm_existing")
        st.caption(f"Pinned to model {store.open(name).model.name}.")
        return name, None
    name = st.text_input("New collection name", key="adm_new_name", placeholder="photos",
                         help="3-512 letters, digits, '.', '_' or '-'.").strip()
    model = _model_choice(store)
    if not name:
        return None, model
    try:
        validate_collection_name(name)
    except StoreError as exc:
        st.error(str(exc), icon=":material/error:")
        return None, model
    if name in names:
        st.error(f"A collection named {name!r} exists already: choose it under 'Existing collection'.",
                 icon=":material/error:")
        return None, model
    return name, model


def _run_ingest(store, name: str, model: str | None, sources: dict, read_metadata: bool = True) -> None:
    from imgsearch_core.ingest.pipeline import collect, ingest

    items, problems = collect(settings=store.settings, **sources)
    if not items:
        _nothing_stored("No images found in the chosen source", problems)
        return
    model_name = model or store.open(name).model.name
    embedder = _ui.get_embedder(store, model_name) if model else _ui.collection_embedder(store, store.open(name))
    bar = st.progress(0.0, text=f"Embedding {len(items):,} images with {Path(model_name).name}…")
    report = ingest(store, name, embedder, items, problems=problems, progress=_ui.progress_callback(bar),
                    read_metadata=read_metadata, **_enrich.ingest_engines(store, name))
    if not report.added and not report.already_stored:
        bar.empty()
        if model is not None:  # ingest created the new collection; with nothing in it, it is not kept
            store.delete_collection(name)
        _nothing_stored("No image could be stored", report.problems)
        return
    ensure_language(store.open(name))  # the first captions decide the caption language
    _ui.forget_candidates()
    st.session_state["collection"] = name
    st.session_state["adm_report"] = (name, report)
    st.session_state["adm_filled"] = name
    st.rerun()  # stats, tabs and the sidebar were drawn before the ingest


def _run_reread(store, name: str, sources: dict) -> None:
    """Captions and fields afresh from the original files, matched by content hash; no re-embedding."""
    from imgsearch_core.ingest.pipeline import collect
    from imgsearch_core.ingest.reread import reread_metadata

    items, problems = collect(settings=store.settings, **sources)
    bar = st.progress(0.0, text=f"Re-reading the metadata of {len(items):,} files…")
    report = reread_metadata(store, name, items, problems=problems, progress=_ui.progress_callback(bar))
    bar.empty()
    _ui.forget_candidates()
    st.session_state["adm_reread"] = (name, report)


def _last_reread() -> None:
    last = st.session_state.get("adm_reread")
    if not last:
        return
    name, report = last
    summary = (f"Metadata re-read in **{name}**: {report.updated:,} updated, {report.unchanged:,} unchanged, "
               f"{report.not_stored:,} files not in the collection, {len(report.problems):,} problems.")
    (st.warning if report.problems else st.success)(summary, icon=":material/sync:")
    if report.problems:
        _problems_table(report.problems)


def _nothing_stored(headline: str, problems) -> None:
    """An ingest that stored nothing is an error, not a report; the table says why for each file."""
    st.session_state["adm_report"] = None
    detail = f" ({len(problems):,} {'file' if len(problems) == 1 else 'files'} skipped, see below)" if problems else ""
    st.error(f"{headline}{detail}.", icon=":material/error:")
    if problems:
        _problems_table(problems)


def _problems_table(problems) -> None:
    st.dataframe([{"file": p.name, "problem": p.reason} for p in problems], hide_index=True, width="stretch",
                 column_config={"file": st.column_config.TextColumn(width="medium"),
                                "problem": st.column_config.TextColumn(width="large")})


def _last_report() -> None:
    last = st.session_state.get("adm_report")
    if not last:
        return
    name, report = last
    summary = f"Ingest into **{escape_markdown(name)}**: {report.summary()}."
    (st.warning if report.problems else st.success)(summary, icon=":material/task_alt:")
    if report.duplicates:
        st.markdown("**Already stored** (same content as a stored item, not embedded again)")
        st.dataframe([{"file": d.name, "same content as": d.matched} for d in report.duplicates], hide_index=True,
                     width="stretch")
    if report.problems:
        st.markdown("**Problems per file**")
        _problems_table(report.problems)


def _ingest_tab(store, names: list[str]) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("##### 1. Source")
        sources = _source_inputs(store)
    with right:
        st.markdown("##### 2. Target")
        name, model = _target(store, names)
    ready = sources is not None and name is not None and (model is not None or name in names)
    read_metadata = st.checkbox("Read captions, credits, keywords and dates embedded in the files (IPTC, XMP, EXIF)",
                                value=True, key="adm_read_metadata",
                                help="A caption file or sidecar still wins over the embedded caption.")
    with st.container(horizontal=True):
        start = st.button("Start ingest", type="primary", icon=":material/upload:", disabled=not ready, key="adm_start")
        reread = st.button("Re-read embedded metadata", icon=":material/sync:", key="adm_reread_start",
                           disabled=sources is None or name not in names,
                           help="Updates captions and fields of the stored items among the chosen files "
                                "(matched by content) without embedding them again.")
    if start:
        _run_ingest(store, name, model, sources, read_metadata)
    elif reread:
        _run_reread(store, name, sources)
    elif not ready:
        st.caption("Choose a source and a target collection to start.")
    _last_report()
    _last_reread()


# ----- delete items -------------------------------------------------------------------------------
def _selection(name: str) -> set:
    """The ids ticked in collection `name`. Ids are content hashes, the same in every collection holding a
    picture: a selection made in another collection is dropped, never applied here."""
    owner, selected = st.session_state.get("adm_selected", (None, set()))
    if owner != name:
        selected = set()
        st.session_state["adm_selected"] = (name, selected)
        st.session_state["adm_selection_gen"] = st.session_state.get("adm_selection_gen", 0) + 1
    return selected


def _toggle(name: str, item_id: str) -> None:
    _selection(name).symmetric_difference_update({item_id})


def _clear_selection(name: str) -> None:
    """Empty the selection; a new key generation recreates the checkboxes unticked."""
    _selection(name).clear()
    st.session_state["adm_selection_gen"] = st.session_state.get("adm_selection_gen", 0) + 1


def _delete_tab(store, name: str | None) -> None:
    if name is None:
        st.caption("No collection yet.")
        return
    collection = store.open(name)
    total = collection.count()
    selected = _selection(name)
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{len(selected)}** selected in **{escape_markdown(name)}**")
        if st.button(f"Delete {len(selected)} selected", icon=":material/delete:", type="primary",
                     disabled=not selected, key="adm_delete_items"):
            deleted = collection.delete(sorted(selected))
            _clear_selection(name)
            _ui.forget_candidates()
            st.session_state["_flash"] = f"Deleted {deleted} item(s) from {name}."
            st.rerun()
        if selected:
            st.button("Clear selection", key="adm_clear_selection", on_click=_clear_selection, args=(name,))
    if total == 0:
        st.caption("This collection is empty.")
        return
    page = st.session_state.get("adm_browse_page", 1)
    window = paging.page_slice(total, page, BROWSE_PER_PAGE)
    items = collection.page(window.start, BROWSE_PER_PAGE)
    generation = st.session_state.get("adm_selection_gen", 0)
    with st.container(horizontal=True, gap="small"):  # fixed-width cards wrap: as many per row as fit
        for item in items:
            with st.container(border=True, gap="small", width=DELETE_CARD_WIDTH):
                _ui.show_image(item.media_path, 200, alt=item.caption or "image", square=True)
                label = str(item.caption or item.metadata.get("file_name", item.id[:12]))
                st.checkbox(escape_markdown(label[:60] + ("…" if len(label) > 60 else "")), value=item.id in selected,
                            key=f"adm_sel_{generation}_{item.id}", on_change=_toggle, args=(name, item.id),
                            help=item.id)
    st.session_state["adm_browse_page"] = window.page
    _ui.pager("adm_browse_page", total, window.page, BROWSE_PER_PAGE)


# ----- collections --------------------------------------------------------------------------------
def _reembed_box(store, names: list[str]) -> None:
    """Embed a collection again with its model's current weights (after a model update: a collection
    pinned to other weights is refused, never searched), into a new collection."""
    with st.container(border=True):
        st.markdown("##### Embed a collection again")
        st.caption("For a collection embedded with other weights of its model (searches refuse it): its items, "
                   "captions and metadata are copied into a new collection with vectors from the model as it is now.")
        source = st.selectbox("Collection", names, key="adm_reembed_source")
        target = st.text_input("New collection name", value=f"{source}-renewed", key="adm_reembed_target").strip()
        if st.button("Embed again", icon=":material/autorenew:", key="adm_reembed"):
            from imgsearch_core.evaluation.finetune import reembed

            try:
                validate_collection_name(target)
                if target in names:
                    raise StoreError(f"A collection named {target!r} exists already.")
            except StoreError as exc:
                st.error(str(exc), icon=":material/error:")
                return
            collection = store.open(source)
            with st.spinner(f"Embedding {collection.count():,} items again…"):
                renewed = reembed(store, collection, target, _ui.collection_embedder(store, collection))
            _ui.forget_candidates()
            st.session_state["collection"] = renewed.name
            st.session_state["_flash"] = f"Embedded {renewed.count():,} items of {source} again into {renewed.name}."
            st.rerun()


def _collections_tab(store, names: list[str]) -> None:
    if names:
        rows = []
        for n in names:
            s = store.open(n).stats()
            rows.append({"collection": n, "items": s["items"], "model": _ui.model_label(s["model"]), "dim": s["dim"],
                         "captioned": f"{s['captioned_share']:.0%}", "disk": fmt.format_bytes(s["disk_bytes"])})
        # A local model by its folder's name: its full path made the table wider than a 1024 px page.
        st.dataframe(rows, hide_index=True, width="stretch", column_config={
            "model": st.column_config.TextColumn(help="A local model by its folder's name; the Model box above "
                                                      "has the full path of the chosen collection's.")})
    with st.container(border=True):
        st.markdown("##### Demo collection")
        st.caption("2,000 generated, captioned scenes embedded with the bundled offline model; loading it again "
                   "only adds what is missing.")
        if st.button("Load the demo collection", icon=":material/download:", key="adm_load_demo"):
            _ui.load_demo(store)
    if not names:
        return
    current = _ui.current_collection_name(store)
    _collection_settings.language_box(store, current)
    _collection_settings.backend_box(store, current)
    _text_tower.text_tower_box(store, current)
    _enrich.enrich_box(store, current)
    _caption_audit.caption_audit_box(store, current)
    _reembed_box(store, names)
    with st.container(border=True):
        st.markdown("##### Delete a collection")
        current = _ui.current_collection_name(store)
        target = st.selectbox("Collection to delete", names, index=names.index(current), key="adm_delete_target")
        confirm = st.text_input(f"Type **{target}** to confirm: its items, media and index are removed for good.",
                                key="adm_delete_confirm")
        if st.button("Delete collection", icon=":material/delete_forever:", type="primary",
                     disabled=confirm.strip() != target, key="adm_delete_collection"):
            store.delete_collection(target)
            _ui.forget_candidates()
            st.session_state.pop("adm_delete_confirm", None)
            st.session_state["_flash"] = f"Deleted collection {target}."
            st.rerun()


def main() -> None:
    st.title("Admin")
    if not _admin_gate.unlocked("This Admin page", key="admin_login"):
        return
    store = _ui.get_store()
    _ui.flash()
    names = store.collection_names()
    current = _ui.current_collection_name(store)
    _stats(store, current)
    ingest_tab, delete_tab, collections_tab = st.tabs(["Add images", "Delete items", "Collections"])
    with ingest_tab:
        _ui.guarded(lambda: _ingest_tab(store, names))
    with delete_tab:
        _ui.guarded(lambda: _delete_tab(store, current))
    with collections_tab:
        _ui.guarded(lambda: _collections_tab(store, names))


_ui.guarded(main)
