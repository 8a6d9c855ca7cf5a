"""Watched sources: feeds, sitemaps, listing pages, Telegram previews, JSON listings and
alias search templates that an agency polls for new copies (docs/monitor.md). Pure parsing
(`parsers`) and recognition (`recognise`) live here; the writes are in
cases/intake/services/watched_sources.py and source_polls.py."""
