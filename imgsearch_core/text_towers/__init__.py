"""Text towers: query encoders trained into another model's image space (e.g. multilingual text for
clip-ViT-B-32), selectable per collection. `tower` is the model and its alignment, `selection` the pinning
rules and the per-collection switch, `cli` the `text-tower` command. Importing this package loads no torch."""
from imgsearch_core.text_towers.selection import (
    QueryEmbedder, TextEncoder, TextTowerError, check_alignment, load_text_tower, query_embedder_for,
    select_text_tower, selected_text_tower, text_encoder_for, use_image_model_text_tower,
)
from imgsearch_core.text_towers.tower import (
    DECLARATION, KNOWN_TOWERS, Alignment, TextTower, TowerIdentity, declare_alignment, read_declaration,
)

__all__ = [
    "DECLARATION", "KNOWN_TOWERS", "Alignment", "QueryEmbedder", "TextEncoder", "TextTower", "TextTowerError",
    "TowerIdentity", "check_alignment", "declare_alignment", "load_text_tower", "query_embedder_for",
    "read_declaration", "select_text_tower", "selected_text_tower", "text_encoder_for",
    "use_image_model_text_tower",
]
