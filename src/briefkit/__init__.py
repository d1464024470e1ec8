"""briefkit: one Markdown briefing, three deliverables (memo, brief, deck)."""

__version__ = "0.1.0"
