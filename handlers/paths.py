"""Pieces of route patterns that several handler modules share."""

ROW_ID = r"(\d{1,18})"
"""A row id in a path: at most 18 digits, so that it always fits a signed 64-bit column (the
largest has 19); a longer number is no route (404) rather than an overflow in the database."""
