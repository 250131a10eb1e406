# Readers of the distribution formats (GLUE TSV, SuperGLUE / HF-export JSON lines, SQuAD / DROP JSON): rows with
# where each came from, so that a task's parser can name the file and line of a bad field.
import csv
import json
import pathlib

from .errors import DataError


class Row:
    """One record and where it came from (file, line number or JSON path)."""

    __slots__ = ("data", "file", "where")

    def __init__(self, data, file, where):
        self.data, self.file, self.where = data, file, where

    def get(self, field, kind=None, expected=None):
        """data[field] (a dotted path for nested fields), checked to be of `kind` (a type or tuple of types)."""
        value = self.data
        for part in field.split("."):
            if not isinstance(value, dict) or part not in value:
                raise DataError(self.file, self.where, field, expected or "a value (the field is missing)")
            value = value[part]
        if kind is not None:
            kinds = _as_tuple(kind)
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise DataError(self.file, self.where, field, expected or _kind_name(kind), value)
        return value


def _as_tuple(kind):
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind):
    names = {str: "a string", int: "an integer", bool: "a boolean", list: "a list", dict: "an object",
             float: "a number"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def read_tsv(path):
    """GLUE's TSV: a header line, tab-separated fields, no quoting."""
    path = pathlib.Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(path, 1, "header", "a tab-separated header line (the file is empty)") from None
        rows = []
        for line, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(header):
                raise DataError(path, line, "columns", f"{len(header)} tab-separated fields ({', '.join(header)})",
                                f"{len(fields)} fields")
            rows.append(Row(dict(zip(header, fields)), path, line))
    return rows


def read_jsonl(path):
    """JSON lines (SuperGLUE's distribution and `datasets`' Dataset.to_json): one object a line."""
    path = pathlib.Path(path)
    rows = []
    with open(path, encoding="utf-8") as f:
        for line, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise DataError(path, line, "(json)", f"one JSON object per line ({e.msg} at column {e.colno})")
            if not isinstance(data, dict):
                raise DataError(path, line, "(json)", "a JSON object", data)
            rows.append(Row(data, path, line))
    return rows


def read_json(path):
    """A whole JSON document (SQuAD, DROP)."""
    path = pathlib.Path(path)
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise DataError(path, e.lineno, "(json)", f"a JSON document ({e.msg} at column {e.colno})") from None
