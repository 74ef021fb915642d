"""Image references (part of the v1alpha1 API): what a container runtime can pull.

A Deployment takes any string as an image and then every one of its Pods fails to pull it; a
Formation refuses such an image at apply time instead, with the same grammar in the CRD's CEL
rule and in the model.
"""

from __future__ import annotations

import re

from pydantic.config import JsonValue

from dynoform.api.base import cel

# The distribution reference grammar (github.com/distribution/reference, regexp.go), which
# every container runtime parses an image with: an optional registry host and port, a
# lowercase path of components separated by '/', an optional tag and an optional digest.
_HOST_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][-a-zA-Z0-9]*[a-zA-Z0-9])"
_HOST = f"{_HOST_PART}(?:[.]{_HOST_PART})*(?::[0-9]+)?"
_PATH_PART = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_TAG = "[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}"
_DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_PATTERN = f"^(?:{_HOST}/)?{_PATH_PART}(?:/{_PATH_PART})*(?::{_TAG})?(?:@{_DIGEST})?$"
IMAGE_INVALID = (
    "is not an image reference a container runtime can pull: "
    "[registry[:port]/]repository[:tag][@digest], the repository in lowercase, no spaces"
)

IMAGE_RULES: list[JsonValue] = [
    cel("self == self.trim()", "an image has no whitespace at either end"),
    cel(
        f"self.matches('{IMAGE_PATTERN}')",
        IMAGE_INVALID,
        messageExpression=f"'\"' + self + '\" {IMAGE_INVALID}'",
    ),
]


def check_image(image: str) -> str:
    """The image, or ValueError with the CRD's words."""
    if image != image.strip():
        raise ValueError("an image has no whitespace at either end")
    if re.match(IMAGE_PATTERN, image) is None:
        raise ValueError(f'"{image}" {IMAGE_INVALID}')
    return image
