"""Contacts: names and tags per phone number, imported and exported as CSV."""

from bot.contacts.csv_io import ImportReport, RowError, export_csv, import_csv

__all__ = ["ImportReport", "RowError", "export_csv", "import_csv"]
