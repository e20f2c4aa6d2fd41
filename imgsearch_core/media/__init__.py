"""Layer 1, media: decoding images within limits, image errors and modes, perceptual hashes, embedded
IPTC/XMP/EXIF metadata, caption files, an item's caption and metadata, and bounded reads of inputs."""
