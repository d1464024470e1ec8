"""Bounds on what a briefing may hold.

Each is far above what a real briefing needs (the Mexico memo's largest file is 19 KB, its
longest paragraph about 2,000 characters, its deepest list two levels) and low enough that no
input can make a build hang, exhaust memory or overflow Python's stack. The README lists them.
"""

MAX_FILE_BYTES = 1024 * 1024  # one content file (or theme.yaml)
MAX_FRONT_MATTER_BYTES = 32 * 1024
MAX_YAML_DEPTH = 8  # mappings and lists inside each other in front matter
MAX_NESTING = 8  # lists and block quotes inside each other
MAX_INLINE_DEPTH = 24  # emphasis and links inside each other
MAX_BRACKET_DEPTH = 16  # '[' opened and not yet closed in one paragraph
MAX_PARAGRAPH_CHARS = 20_000  # one paragraph (about three pages of text)
MAX_TABLE_ROWS = 500
MAX_TABLE_COLUMNS = 20
MAX_NOTES = 10_000
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_IMAGE_PIXELS = 50_000_000  # 50 megapixels, e.g. 8,660 x 5,773
