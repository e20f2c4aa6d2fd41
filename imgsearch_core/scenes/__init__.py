"""Layer 1, generated scenes: shapes, colours and positions drawn with Pillow, their captions and paraphrased
queries. Why low: the int8 gates calibrate on them (models), the demo collection and bundled models are built
from them (demo), and every scene knows its ground truth."""
