"""Where articles come from: files on disk (seed text, JSON lines); feeds come later."""

from bot.sources.files import Problem, load_path

__all__ = ["Problem", "load_path"]
