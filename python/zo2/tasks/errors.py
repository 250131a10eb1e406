# The one error a task file raises: it names the file, the line (or JSON path) and the field.
class DataError(ValueError):
    """A missing or malformed data file; the message names the file, the line or JSON path, and the field."""

    def __init__(self, file, where, field, expected, got=None):
        self.file, self.where, self.field = str(file), where, field
        msg = f"{file}"
        if where is not None:
            msg += f":{where}"
        msg += f": field '{field}': expected {expected}"
        if got is not None:
            text = repr(got)
            msg += f", got {text[:80] + '...' if len(text) > 80 else text}"
        super().__init__(msg)
