"""Importing companies, contacts, opportunities and activities from CSV and XLSX files
(issue #17): ``reading`` (the file), ``mapping`` (its columns), ``checking`` (each row, by
the input rules), ``writing`` (the records, remembered for undo) and ``jobs`` (an import
from upload to undo, run by the worker)."""
