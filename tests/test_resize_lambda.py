"""The Lambda handler on events shaped like S3's, against a real S3 API (moto's server)."""

from __future__ import annotations

import copy
import io
import logging
import urllib.parse

import pytest
from PIL import Image

from resize import lambda_handler
from testkit.s3 import keys, new_bucket, s3_client
from tests import phone_pictures, pictures

# One record exactly as S3 sends it (event structure version 2.1); the tests fill in the
# bucket, the key (form-encoded as S3 does) and the event name.
S3_PUT_RECORD = {
    "eventVersion": "2.1",
    "eventSource": "aws:s3",
    "awsRegion": "us-east-1",
    "eventTime": "2026-11-26T01:02:03.456Z",
    "eventName": "ObjectCreated:Put",
    "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
    "requestParameters": {"sourceIPAddress": "203.0.113.7"},
    "responseElements": {
        "x-amz-request-id": "C3D13FE58DE4C810",
        "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
    },
    "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "sns-thumbnails",
        "bucket": {
            "name": "BUCKET",
            "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
            "arn": "arn:aws:s3:::BUCKET",
        },
        "object": {
            "key": "KEY",
            "size": 1024,
            "eTag": "d41d8cd98f00b204e9800998ecf8427e",
            "sequencer": "0055AED6DCD90281E5",
        },
    },
}


def record(bucket: str, key: str, event_name: str = "ObjectCreated:Put") -> dict:
    made = copy.deepcopy(S3_PUT_RECORD)
    made["eventName"] = event_name
    made["s3"]["bucket"]["name"] = bucket
    made["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    made["s3"]["object"]["key"] = urllib.parse.quote_plus(key, safe="/")
    return made


def event(*records: dict) -> dict:
    return {"Records": list(records)}


@pytest.fixture
def bucket(moto_s3: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SNS_S3_ENDPOINT_URL", moto_s3)
    monkeypatch.delenv("SNS_THUMB_SIZES", raising=False)
    monkeypatch.delenv("SNS_IMAGE_MAX_PIXELS", raising=False)
    return new_bucket(moto_s3)


def put(moto_s3: str, bucket: str, key: str, data: bytes, content_type: str = "image/jpeg"):
    s3_client(moto_s3).put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)


def fetched(moto_s3: str, bucket: str, key: str) -> tuple[Image.Image, dict]:
    response = s3_client(moto_s3).get_object(Bucket=bucket, Key=key)
    image = Image.open(io.BytesIO(response["Body"].read()))
    return image, response


def test_every_record_gets_both_thumbnails_with_their_content_type(moto_s3, bucket):
    put(moto_s3, bucket, "original/1_a.jpg", pictures.jpeg(pictures.photo(2000, 1500)))
    put(moto_s3, bucket, "original/2_b.png", pictures.png(pictures.photo(600, 1200)), "image/png")

    result = lambda_handler.handler(
        event(record(bucket, "original/1_a.jpg"), record(bucket, "original/2_b.png")), None
    )

    assert result["failed"] == [] and result["ignored"] == []
    assert [done["key"] for done in result["done"]] == ["original/1_a.jpg", "original/2_b.png"]
    assert keys(moto_s3, bucket, "thumb/") == [
        "thumb/1080/1_a.jpg",
        "thumb/1080/2_b.png",
        "thumb/200/1_a.jpg",
        "thumb/200/2_b.png",
    ]
    expected = {
        "thumb/200/1_a.jpg": ((200, 150), "JPEG", "image/jpeg"),
        "thumb/1080/1_a.jpg": ((1080, 810), "JPEG", "image/jpeg"),
        "thumb/200/2_b.png": ((100, 200), "PNG", "image/png"),
        "thumb/1080/2_b.png": ((540, 1080), "PNG", "image/png"),
    }
    for key, (size, fmt, content_type) in expected.items():
        image, response = fetched(moto_s3, bucket, key)
        assert (image.size, image.format, response["ContentType"]) == (size, fmt, content_type)
        assert response["CacheControl"] == "public, max-age=31536000, immutable"


def test_thumbnails_stay_private_no_acl_is_sent(moto_s3, bucket):
    put(moto_s3, bucket, "original/1_a.jpg", pictures.jpeg())
    lambda_handler.handler(event(record(bucket, "original/1_a.jpg")), None)
    grants = s3_client(moto_s3).get_object_acl(Bucket=bucket, Key="thumb/200/1_a.jpg")["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert "URI" not in grants[0]["Grantee"]  # not AllUsers / AuthenticatedUsers


@pytest.mark.parametrize(
    "name",
    ["my photo+1.jpg", "100%41 café.jpg", "사진 #1 (2).jpg", "a+b%2Bc d.jpg"],
)
def test_keys_are_decoded_as_s3_encodes_them(moto_s3, bucket, name):
    put(moto_s3, bucket, f"original/{name}", pictures.jpeg())
    result = lambda_handler.handler(event(record(bucket, f"original/{name}")), None)
    assert result["failed"] == []
    assert keys(moto_s3, bucket, "thumb/") == [f"thumb/1080/{name}", f"thumb/200/{name}"]


def test_the_event_carries_the_key_form_encoded():
    assert record("b", "original/my photo+1 %41.jpg")["s3"]["object"]["key"] == (
        "original/my+photo%2B1+%2541.jpg"
    )


def test_keys_outside_original_are_ignored_so_it_never_triggers_itself(moto_s3, bucket):
    put(moto_s3, bucket, "thumb/200/1_a.jpg", pictures.jpeg())
    put(moto_s3, bucket, "other/1_a.jpg", pictures.jpeg())
    put(moto_s3, bucket, "original/1_a.jpg", pictures.jpeg())
    result = lambda_handler.handler(
        event(
            record(bucket, "thumb/200/1_a.jpg"),
            record(bucket, "other/1_a.jpg"),
            record(bucket, "original/"),
            record(bucket, "original/1_a.jpg", "ObjectRemoved:Delete"),
        ),
        None,
    )
    assert result["done"] == [] and result["failed"] == []
    assert [item["key"] for item in result["ignored"]] == [
        "thumb/200/1_a.jpg",
        "other/1_a.jpg",
        "original/",
        "original/1_a.jpg",
    ]
    assert keys(moto_s3, bucket) == ["original/1_a.jpg", "other/1_a.jpg", "thumb/200/1_a.jpg"]


def test_a_bad_image_fails_only_its_own_record(moto_s3, bucket, caplog):
    put(moto_s3, bucket, "original/1_bad.jpg", b"this is text renamed to .jpg\n" * 10)
    put(moto_s3, bucket, "original/2_cut.jpg", pictures.jpeg(pictures.photo(800, 600))[:5000])
    put(moto_s3, bucket, "original/3_good.jpg", pictures.jpeg())
    with caplog.at_level(logging.INFO, logger="resize.lambda"):
        result = lambda_handler.handler(
            event(
                record(bucket, "original/1_bad.jpg"),
                record(bucket, "original/2_cut.jpg"),
                record(bucket, "original/0_missing.jpg"),
                record(bucket, "original/3_good.jpg"),
            ),
            None,
        )
    assert [done["key"] for done in result["done"]] == ["original/3_good.jpg"]
    failures = {item["key"]: item["reason"] for item in result["failed"]}
    assert failures == {
        "original/1_bad.jpg": "not_image",
        "original/2_cut.jpg": "corrupt",
        "original/0_missing.jpg": "NoSuchKey",
    }
    assert keys(moto_s3, bucket, "thumb/") == ["thumb/1080/3_good.jpg", "thumb/200/3_good.jpg"]
    logged = caplog.text
    assert "original/1_bad.jpg failed (not_image)" in logged
    assert "original/2_cut.jpg failed (corrupt)" in logged
    assert "1 done, 0 ignored, 3 failed" in logged


def test_sizes_and_pixel_cap_come_from_the_environment(moto_s3, bucket, monkeypatch):
    monkeypatch.setenv("SNS_THUMB_SIZES", "64, 128")
    monkeypatch.setenv("SNS_IMAGE_MAX_PIXELS", "1000000")
    put(moto_s3, bucket, "original/small.jpg", pictures.jpeg(pictures.photo(800, 600)))
    put(moto_s3, bucket, "original/big.jpg", pictures.jpeg(pictures.photo(1200, 1000)))
    result = lambda_handler.handler(
        event(record(bucket, "original/small.jpg"), record(bucket, "original/big.jpg")), None
    )
    assert [item["reason"] for item in result["failed"]] == ["too_many_pixels"]
    assert keys(moto_s3, bucket, "thumb/") == ["thumb/128/small.jpg", "thumb/64/small.jpg"]


def test_a_bad_setting_is_an_error_not_a_silent_default(bucket, monkeypatch):
    monkeypatch.setenv("SNS_THUMB_SIZES", "200,huge")
    with pytest.raises(ValueError, match="SNS_THUMB_SIZES: 'huge' is not a whole number"):
        lambda_handler.handler(event(record(bucket, "original/1_a.jpg")), None)


def test_an_empty_event_does_nothing(bucket):
    assert lambda_handler.handler({"Records": []}, None) == {
        "done": [],
        "ignored": [],
        "failed": [],
    }


def test_an_object_too_large_to_be_ours_is_refused_before_reading(moto_s3, bucket, monkeypatch):
    monkeypatch.setattr(lambda_handler, "MAX_OBJECT_BYTES", 1000)
    put(moto_s3, bucket, "original/big.jpg", pictures.jpeg(pictures.photo(300, 200)))
    result = lambda_handler.handler(event(record(bucket, "original/big.jpg")), None)
    assert [item["reason"] for item in result["failed"]] == ["too_large"]
    assert keys(moto_s3, bucket, "thumb/") == []


def test_an_avatar_original_gets_its_square_sizes_and_its_own_writes_are_ignored(
    moto_s3, bucket, monkeypatch
):
    """Avatars (#19): ``avatar/original/<name>`` -> ``avatar/96/`` and ``avatar/320/``, the
    avatar sizes whatever SNS_THUMB_SIZES says; the sizes it writes start nothing."""
    monkeypatch.setenv("SNS_THUMB_SIZES", "150")
    square = pictures.png(pictures.photo(500, 500))
    put(moto_s3, bucket, "avatar/original/1_a.png", square, "image/png")
    result = lambda_handler.handler(event(record(bucket, "avatar/original/1_a.png")), None)
    assert result["failed"] == [] and result["ignored"] == []
    assert result["done"][0]["thumbnails"] == ["avatar/96/1_a.png", "avatar/320/1_a.png"]
    for size in (96, 320):
        image, response = fetched(moto_s3, bucket, f"avatar/{size}/1_a.png")
        assert image.size == (size, size) and image.format == "PNG"
        assert response["ContentType"] == "image/png"
    again = lambda_handler.handler(
        event(
            record(bucket, "avatar/96/1_a.png"),
            record(bucket, "avatar/320/1_a.png"),
            record(bucket, "avatar/original/"),
            record(bucket, "avatar/original/1_a.png", "ObjectRemoved:Delete"),
        ),
        None,
    )
    assert again["done"] == [] and again["failed"] == [] and len(again["ignored"]) == 4
    assert keys(moto_s3, bucket) == [
        "avatar/320/1_a.png",
        "avatar/96/1_a.png",
        "avatar/original/1_a.png",
    ]


def test_a_bad_avatar_fails_only_its_own_record(moto_s3, bucket):
    put(moto_s3, bucket, "avatar/original/1_bad.jpg", b"not a picture" * 10)
    put(moto_s3, bucket, "avatar/original/2_good.jpg", pictures.jpeg(pictures.photo(200, 200)))
    result = lambda_handler.handler(
        event(
            record(bucket, "avatar/original/1_bad.jpg"),
            record(bucket, "avatar/original/2_good.jpg"),
        ),
        None,
    )
    assert [item["key"] for item in result["failed"]] == ["avatar/original/1_bad.jpg"]
    assert result["failed"][0]["reason"] == "not_image"
    assert [item["key"] for item in result["done"]] == ["avatar/original/2_good.jpg"]


def test_a_heic_put_straight_into_the_bucket_is_refused_by_the_zips_readers(
    moto_s3, bucket, monkeypatch, caplog
):
    """The zip holds no HEIC reader (the app stores HEIC as JPEG): a HEIC that something else
    put under original/ fails its own record as not a picture, in the log, and the rest of
    the event goes on. (The batch tool, run where pillow-heif is installed, makes its JPEG
    thumbnails: tests/test_phone_photos.py.)"""
    monkeypatch.setattr("resize.core.OPENERS", ["JPEG", "PNG", "GIF", "WEBP"])
    put(moto_s3, bucket, "original/1_phone.heic", phone_pictures.heic(), "image/heic")
    put(moto_s3, bucket, "original/2_good.jpg", pictures.jpeg())
    with caplog.at_level(logging.INFO, logger="resize.lambda"):
        result = lambda_handler.handler(
            event(record(bucket, "original/1_phone.heic"), record(bucket, "original/2_good.jpg")),
            None,
        )
    assert [done["key"] for done in result["done"]] == ["original/2_good.jpg"]
    assert [(item["key"], item["reason"]) for item in result["failed"]] == [
        ("original/1_phone.heic", "not_image")
    ]
    assert "original/1_phone.heic failed (not_image)" in caplog.text
    assert keys(moto_s3, bucket, "thumb/") == ["thumb/1080/2_good.jpg", "thumb/200/2_good.jpg"]
