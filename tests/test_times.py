"""Every time the site writes out has one shape: ISO 8601, UTC, to the second, with a Z."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sns.times import iso_utc


def test_a_stored_time_is_written_as_utc_with_a_z():
    assert iso_utc(datetime(2024, 5, 1, 9, 0, 0)) == "2024-05-01T09:00:00Z"


def test_an_aware_time_is_converted_to_utc_first():
    seoul = timezone(timedelta(hours=9))
    assert iso_utc(datetime(2024, 5, 1, 18, 0, 0, tzinfo=seoul)) == "2024-05-01T09:00:00Z"
    assert iso_utc(datetime(2024, 5, 1, 9, 0, 0, tzinfo=UTC)) == "2024-05-01T09:00:00Z"


def test_fractions_of_a_second_are_not_written():
    assert iso_utc(datetime(2024, 5, 1, 9, 0, 0, 123456)) == "2024-05-01T09:00:00Z"
