"""Pure codecs, one module per protocol family: bytes ⇄ values, no I/O.

``registry.get_codec(name)`` maps a config ``type:`` / ``batmux decode`` name to a codec class
lazily, so importing batmux never imports every family.
"""
