"""briefkit: one Markdown briefing, three deliverables (memo, brief, deck)."""

__version__ = "0.1.0"
FORMATS = ("docx", "pdf", "pptx")  # memo, brief, deck; kept here so that the command line starts fast
