# One task example as the runner sees it: template fields, candidate strings and the correct ones (candidate
# scoring), or gold answers (generation).
from dataclasses import dataclass, field


@dataclass
class Example:
    data: dict                      # the fields the templates read
    candidates: list = field(default_factory=list)   # answer strings to score (empty for generation)
    correct: list = field(default_factory=list)      # indices of correct candidates (ReCoRD may have several)
    answers: list = field(default_factory=list)      # gold answers (generation; the first is the training target)
    source: str = ""                # "file:line" it came from


def label_index(row, field_name, names):
    """A label given as an index, a boolean or one of its names (HF exports use indices, the originals names)."""
    value = row.get(field_name)
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, str):
        text = value.strip().lower()
        lowered = [n.lower() for n in names]
        if text in lowered:
            return lowered.index(text)
        if text.lstrip("-").isdigit():
            value = int(text)
    if isinstance(value, int) and 0 <= value < len(names):
        return value
    from .errors import DataError
    raise DataError(row.file, row.where, field_name,
                    f"one of {', '.join(names)} or an index 0..{len(names) - 1}", value)
