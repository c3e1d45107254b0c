"""The API's configuration: `[templates]` and `[api]`, bad values naming the key."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError
from tests.project.test_settings import GOOD, settings_with


def test_templates_and_api_are_read(tmp_path):
    settings = settings_with(
        tmp_path, GOOD + '[templates]\norder_shipped = "Hi {first_name|there}"\n[api]\nallow_private_callbacks = true\n'
    )
    assert settings.templates == {"order_shipped": "Hi {first_name|there}"}
    assert settings.api.allow_private_callbacks is True
    assert settings_with(tmp_path, GOOD).api.allow_private_callbacks is False


@pytest.mark.parametrize(
    "toml, key",
    [
        ("[api]\nallow_private_callbacks = 1", "api.allow_private_callbacks"),
        ("[api]\ncallbacks = true", "api.callbacks"),
        ('[templates]\n"Order Shipped" = "x"', "templates.Order Shipped"),
        ("[templates]\nempty = ''", "templates.empty"),
        ("[templates]\nnumber = 5", "templates.number"),
        (f'[templates]\nlong = "{"x" * 1601}"', "templates.long"),
    ],
)
def test_bad_values_name_the_key(tmp_path, toml, key):
    with pytest.raises(ConfigError) as error:
        settings_with(tmp_path, GOOD + toml)
    assert str(error.value).startswith(key)
